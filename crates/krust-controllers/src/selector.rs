//! Label selectors of typed objects, through `krust_api::selectors`: apimachinery's
//! `metav1.LabelSelectorAsSelector` and `labels.Selector.Matches`, as the workload controllers
//! use them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as TypedSelector;
use krust_api::selectors::LabelSelector;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The selector a `metav1.LabelSelector` stands for (`LabelSelectorAsSelector`).
pub(crate) fn parse(selector: &TypedSelector) -> anyhow::Result<LabelSelector> {
    let v = serde_json::to_value(selector)?;
    LabelSelector::from_object(&v).map_err(|e| anyhow::anyhow!("invalid selector: {e}"))
}

/// Whether `labels` match `selector`.
pub(crate) fn matches(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let map: Option<Map<String, Value>> = labels.map(|l| {
        l.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect()
    });
    selector.matches(map.as_ref())
}

/// Whether a selector selects everything (`{}`), which workload controllers refuse.
pub(crate) fn is_everything(selector: &TypedSelector) -> bool {
    selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
}
