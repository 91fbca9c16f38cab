//! The printer of NetworkPolicies (`printNetworkPolicy` of kubernetes'
//! `pkg/printers/internalversion`): name, pod selector, age.

use jiff::Timestamp;
use serde_json::Value;

use super::Column;
use super::util::{AGE_COL, NAME_COL, age_cell, col, get, name_cell};
use crate::selectors::format_label_selector;

const POD_SELECTOR: &str = "Selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.";

pub(super) const NETWORK_POLICY_COLUMNS: &[Column] =
    &[NAME_COL, col("Pod-Selector", POD_SELECTOR, 0), AGE_COL];

/// `metav1.FormatLabelSelector` of `spec.podSelector` (`<none>` when empty).
pub(super) fn network_policy_cells(np: &Value, now: Timestamp) -> Vec<Value> {
    let selector = get(np, "spec.podSelector").unwrap_or(&Value::Null);
    vec![
        name_cell(np),
        Value::from(format_label_selector(selector)),
        age_cell(np, now),
    ]
}
