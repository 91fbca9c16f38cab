//! Printers for cluster-level objects: nodes, namespaces and leases.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::Value;

use super::Column;
use super::docs;
use super::util::{
    AGE_COL, NAME_COL, age_cell, arr_at, col, condition_status, name_cell, obj_at, str_at,
};

pub(super) const NODE_COLUMNS: &[Column] = &[
    NAME_COL,
    col("Status", docs::NODE_STATUS, 0),
    col("Roles", docs::NODE_ROLES, 0),
    AGE_COL,
    col("Version", docs::NODE_KUBELET_VERSION, 0),
    col("Internal-IP", docs::NODE_ADDRESSES, 1),
    col("External-IP", docs::NODE_ADDRESSES, 1),
    col("OS-Image", docs::NODE_OS_IMAGE, 1),
    col("Kernel-Version", docs::NODE_KERNEL_VERSION, 1),
    col("Container-Runtime", docs::NODE_CONTAINER_RUNTIME, 1),
];

pub(super) const NAMESPACE_COLUMNS: &[Column] =
    &[NAME_COL, col("Status", docs::NAMESPACE_STATUS, 0), AGE_COL];

pub(super) const LEASE_COLUMNS: &[Column] =
    &[NAME_COL, col("Holder", docs::LEASE_HOLDER, 0), AGE_COL];

/// `Ready`/`NotReady`/`Unknown`, plus `SchedulingDisabled` for cordoned nodes.
fn node_status(node: &Value) -> String {
    let mut status = vec![
        match condition_status(arr_at(node, "status.conditions"), "Ready") {
            Some("True") => "Ready",
            Some(_) => "NotReady",
            None => "Unknown",
        },
    ];
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    status.join(",")
}

/// `findNodeRoles`: `node-role.kubernetes.io/<role>` label keys and the
/// `kubernetes.io/role` label value, sorted, or `<none>`.
fn node_roles(node: &Value) -> String {
    let mut roles = BTreeSet::new();
    for (k, v) in obj_at(node, "metadata.labels").into_iter().flatten() {
        if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if let Some(v) = v
            .as_str()
            .filter(|v| k == "kubernetes.io/role" && !v.is_empty())
        {
            roles.insert(v.to_string());
        }
    }
    if roles.is_empty() {
        return "<none>".into();
    }
    roles.into_iter().collect::<Vec<_>>().join(",")
}

/// The first address of a type, or `<none>`.
fn node_address(node: &Value, kind: &str) -> String {
    arr_at(node, "status.addresses")
        .iter()
        .find(|a| str_at(a, "type") == kind)
        .map(|a| str_at(a, "address").to_string())
        .unwrap_or_else(|| "<none>".into())
}

pub(super) fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    let info = |field: &str| match str_at(node, &format!("status.nodeInfo.{field}")) {
        "" => "<unknown>".to_string(),
        v => v.to_string(),
    };
    vec![
        name_cell(node),
        Value::from(node_status(node)),
        Value::from(node_roles(node)),
        age_cell(node, now),
        Value::from(str_at(node, "status.nodeInfo.kubeletVersion")),
        Value::from(node_address(node, "InternalIP")),
        Value::from(node_address(node, "ExternalIP")),
        Value::from(info("osImage")),
        Value::from(info("kernelVersion")),
        Value::from(info("containerRuntimeVersion")),
    ]
}

pub(super) fn namespace_cells(ns: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(ns),
        Value::from(str_at(ns, "status.phase")),
        age_cell(ns, now),
    ]
}

pub(super) fn lease_cells(lease: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(lease),
        Value::from(str_at(lease, "spec.holderIdentity")),
        age_cell(lease, now),
    ]
}
