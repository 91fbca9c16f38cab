//! Tests of the NetworkPolicy printer (`networking.rs`).

use serde_json::json;

use super::testing::{ago, col_names, row};

const GROUP: &str = "networking.k8s.io";

#[test]
fn network_policy_rows_show_the_pod_selector_and_age() {
    assert_eq!(
        col_names(GROUP, "networkpolicies"),
        [("Name", 0), ("Pod-Selector", 0), ("Age", 0)]
    );
    let web = json!({"metadata": {"name": "allow-web", "creationTimestamp": ago(120)},
        "spec": {"podSelector": {"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}}});
    assert_eq!(
        row(GROUP, "networkpolicies", web),
        ["allow-web", "app=web,tier in (a,b)", "2m"]
    );
    let all = json!({"metadata": {"name": "deny", "creationTimestamp": ago(5)},
        "spec": {"podSelector": {}}});
    assert_eq!(row(GROUP, "networkpolicies", all), ["deny", "<none>", "5s"]);
}
