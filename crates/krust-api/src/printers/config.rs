//! Printers for configuration objects: config maps, secrets and service accounts.

use jiff::Timestamp;
use serde_json::Value;

use super::Column;
use super::docs;
use super::util::{AGE_COL, NAME_COL, age_cell, col, len_at, name_cell, str_at};

pub(super) const CONFIGMAP_COLUMNS: &[Column] =
    &[NAME_COL, col("Data", docs::CONFIGMAP_DATA, 0), AGE_COL];

pub(super) const SECRET_COLUMNS: &[Column] = &[
    NAME_COL,
    col("Type", docs::SECRET_TYPE, 0),
    col("Data", docs::SECRET_DATA, 0),
    AGE_COL,
];

pub(super) const SERVICEACCOUNT_COLUMNS: &[Column] =
    &[NAME_COL, col("Secrets", docs::SA_SECRETS, 0), AGE_COL];

pub(super) fn configmap_cells(cm: &Value, now: Timestamp) -> Vec<Value> {
    let data = len_at(cm, "data") + len_at(cm, "binaryData");
    vec![name_cell(cm), Value::from(data), age_cell(cm, now)]
}

pub(super) fn secret_cells(secret: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(secret),
        Value::from(str_at(secret, "type")),
        Value::from(len_at(secret, "data")),
        age_cell(secret, now),
    ]
}

pub(super) fn serviceaccount_cells(sa: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(sa),
        Value::from(len_at(sa, "secrets")),
        age_cell(sa, now),
    ]
}
