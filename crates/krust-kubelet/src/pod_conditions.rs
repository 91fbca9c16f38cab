//! The pod conditions a kubelet (sim or real) posts: each with its lastTransitionTime kept
//! from the pod's current condition of the same type and status, and with nulls where a
//! reason or message is gone, so the strategic merge removes an earlier one.

use serde::Serialize;
use serde_json::{Value, json};

/// One condition: type, status, reason, message.
pub type Condition<'a, R> = (&'a str, &'a str, Option<R>, Option<String>);

/// The conditions as JSON for a `pods/status` patch; `since` gives the lastTransitionTime of
/// the pod's current condition of a type and status, if it has one.
pub fn json<R: Serialize>(
    list: &[Condition<R>],
    since: impl Fn(&str, &str) -> Option<jiff::Timestamp>,
) -> Value {
    let now = krust_api::meta::now();
    let list: Vec<Value> = list
        .iter()
        .map(|(type_, status, reason, message)| {
            let since = since(type_, status)
                .map(krust_api::meta::timestamp)
                .unwrap_or_else(|| now.clone());
            json!({"type": type_, "status": status, "lastTransitionTime": since,
                   "reason": reason, "message": message})
        })
        .collect();
    Value::Array(list)
}
