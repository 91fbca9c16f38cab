//! Server-side printing: `meta.k8s.io/v1` Tables for `kubectl get` (a custom resource's by
//! its printer columns).

use krust_api::printers;
use krust_api::resources::Resource;
use serde_json::{Value, json};

fn column_definitions(resource: &Resource) -> Vec<Value> {
    if let Some(custom) = resource.custom {
        return custom.columns.iter().map(|c| c.to_json()).collect();
    }
    printers::columns(resource.group, resource.plural)
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": c.kind, "format": c.format,
                   "description": c.description, "priority": c.priority})
        })
        .collect()
}

fn row(resource: &Resource, obj: &Value, now: jiff::Timestamp) -> Value {
    let metadata = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let cells = match resource.custom {
        Some(custom) => krust_api::custom::columns::cells(&custom.columns, obj, now),
        None => printers::cells(resource.group, resource.plural, obj, now),
    };
    json!({
        "cells": cells,
        "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata},
    })
}

/// A Table of `items`; `with_columns` is false for watch events after the first.
pub fn table(resource: &Resource, items: &[Value], metadata: Value, with_columns: bool) -> Value {
    let now = jiff::Timestamp::now();
    let mut t = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "rows": items.iter().map(|o| row(resource, o, now)).collect::<Vec<_>>(),
    });
    if with_columns {
        t["columnDefinitions"] = Value::Array(column_definitions(resource));
    }
    t
}
