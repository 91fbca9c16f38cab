//! Discovery of `metrics.k8s.io/v1beta1` (what metrics-server's APIService would add to the
//! aggregator's documents): `nodes` (`NodeMetrics`, cluster-scoped) and `pods`
//! (`PodMetrics`, namespaced), `get` and `list` only. The group is served by the API
//! server itself, so it stays out of the resource table (no storage, no OpenAPI).

use serde_json::{Value, json};

/// The group.
pub const GROUP: &str = "metrics.k8s.io";
/// Its one version.
pub const VERSION: &str = "v1beta1";
/// `group/version`.
pub const GROUP_VERSION: &str = "metrics.k8s.io/v1beta1";

/// (plural, singular, kind, namespaced).
const RESOURCES: [(&str, &str, &str, bool); 2] = [
    ("nodes", "", "NodeMetrics", false),
    ("pods", "", "PodMetrics", true),
];

const VERBS: [&str; 2] = ["get", "list"];

/// The group's item in an aggregated `APIGroupDiscoveryList`.
pub fn aggregated() -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|(plural, _, kind, namespaced)| {
            json!({
                "resource": plural,
                "responseKind": {"group": GROUP, "version": VERSION, "kind": kind},
                "scope": if *namespaced { "Namespaced" } else { "Cluster" },
                "singularResource": singular(kind),
                "verbs": VERBS,
            })
        })
        .collect();
    json!({"metadata": {"name": GROUP}, "versions": [
        {"version": VERSION, "resources": resources, "freshness": "Current"}]})
}

/// The group in an `APIGroupList` (or, with `kind`, as the `APIGroup` document).
pub fn api_group() -> Value {
    let gv = json!({"groupVersion": GROUP_VERSION, "version": VERSION});
    json!({"name": GROUP, "versions": [gv], "preferredVersion": gv})
}

/// `GET /apis/metrics.k8s.io/v1beta1`.
pub fn resource_list() -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|(plural, singular, kind, namespaced)| {
            json!({"name": plural, "singularName": singular, "namespaced": namespaced,
                   "kind": kind, "verbs": VERBS})
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
           "resources": resources})
}

fn singular(kind: &str) -> String {
    kind.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_lists_node_and_pod_metrics_for_get_and_list() {
        let list = resource_list();
        assert_eq!(list["groupVersion"], "metrics.k8s.io/v1beta1");
        assert_eq!(list["resources"][0]["kind"], "NodeMetrics");
        assert_eq!(list["resources"][1]["namespaced"], true);
        let item = aggregated();
        assert_eq!(item["versions"][0]["resources"][1]["scope"], "Namespaced");
        assert_eq!(
            item["versions"][0]["resources"][0]["verbs"],
            json!(["get", "list"])
        );
        assert_eq!(api_group()["preferredVersion"]["version"], "v1beta1");
    }
}
