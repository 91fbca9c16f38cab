//! Strategic merge patch on real Kubernetes objects, with the results Kubernetes gives.

use serde_json::{Value, json};

use super::{PatchError, strategic_merge_patch};

pub(super) const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";
pub(super) const POD: &str = "io.k8s.api.core.v1.Pod";

/// A Deployment as the server stores it after `kubectl apply` and defaulting.
pub(super) fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "nginx",
            "namespace": "default",
            "uid": "6d1c7e0a-6b47-4a53-9b0e-2f4c1a1e9d11",
            "resourceVersion": "1042",
            "generation": 1,
            "labels": { "app": "nginx" },
            "annotations": {
                "deployment.kubernetes.io/revision": "1",
                "kubectl.kubernetes.io/last-applied-configuration": "{\"old\":true}\n",
            },
        },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "nginx" } },
            "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } },
            "template": {
                "metadata": { "labels": { "app": "nginx" } },
                "spec": {
                    "containers": [{
                        "name": "nginx",
                        "image": "nginx:1.19",
                        "imagePullPolicy": "IfNotPresent",
                        "ports": [{ "containerPort": 80, "protocol": "TCP" }],
                        "env": [{ "name": "A", "value": "1" }, { "name": "B", "value": "2" }, { "name": "C", "value": "3" }],
                        "resources": {},
                        "terminationMessagePath": "/dev/termination-log",
                    }],
                    "restartPolicy": "Always",
                    "dnsPolicy": "ClusterFirst",
                    "tolerations": [{ "key": "a", "operator": "Exists" }, { "key": "b", "operator": "Exists" }],
                },
            },
        },
        "status": { "replicas": 1, "observedGeneration": 1 },
    })
}

pub(super) fn smp(target: &Value, patch: Value, definition: &str) -> Value {
    strategic_merge_patch(target.clone(), &patch, definition).unwrap_or_else(|e| panic!("{e}"))
}

fn container(obj: &Value) -> &Value {
    &obj["spec"]["template"]["spec"]["containers"][0]
}

#[test]
fn kubectl_apply_patch_changes_image_and_replicas_only() {
    let live = deployment();
    let patch = json!({
        "metadata": { "annotations": { "kubectl.kubernetes.io/last-applied-configuration": "{\"new\":true}\n" } },
        "spec": {
            "replicas": 2,
            "template": { "spec": {
                "$setElementOrder/containers": [{ "name": "nginx" }],
                "containers": [{ "image": "nginx:1.20", "name": "nginx" }],
            } },
        },
    });
    let got = smp(&live, patch, DEPLOYMENT);
    let mut expected = deployment();
    expected["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
        json!("{\"new\":true}\n");
    expected["spec"]["replicas"] = json!(2);
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.20");
    assert_eq!(got, expected);
}

#[test]
fn kubectl_set_image_patch() {
    let patch = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "nginx", "image": "nginx:1.21" }] } } } });
    let got = smp(&deployment(), patch, DEPLOYMENT);
    let mut expected = deployment();
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.21");
    assert_eq!(got, expected);
}

#[test]
fn patch_adding_a_container_puts_it_first() {
    // As in the Kubernetes docs ("Update API Objects in Place Using kubectl patch"): the new
    // container comes before the existing one when the patch has no $setElementOrder.
    let patch = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "redis", "image": "redis" }] } } } });
    let got = smp(&deployment(), patch, DEPLOYMENT);
    let names: Vec<&Value> = got["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, [&json!("redis"), &json!("nginx")]);
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"][1],
        deployment()["spec"]["template"]["spec"]["containers"][0]
    );
}

#[test]
fn set_element_order_puts_new_container_where_asked() {
    let patch = json!({ "spec": { "template": { "spec": {
        "$setElementOrder/containers": [{ "name": "nginx" }, { "name": "sidecar" }],
        "containers": [{ "name": "sidecar", "image": "busybox" }],
    } } } });
    let got = smp(&deployment(), patch, DEPLOYMENT);
    let containers = &got["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        containers[0],
        deployment()["spec"]["template"]["spec"]["containers"][0]
    );
    assert_eq!(
        containers[1],
        json!({ "name": "sidecar", "image": "busybox" })
    );
    assert_eq!(containers.as_array().unwrap().len(), 2);
}

#[test]
fn container_ports_merge_by_container_port() {
    let patch = json!({ "spec": { "template": { "spec": { "containers": [{
        "name": "nginx",
        "$setElementOrder/ports": [{ "containerPort": 80 }, { "containerPort": 443 }],
        "ports": [{ "containerPort": 80, "name": "http" }, { "containerPort": 443, "protocol": "TCP" }],
    }] } } } });
    let got = smp(&deployment(), patch, DEPLOYMENT);
    assert_eq!(
        container(&got)["ports"],
        json!([
            { "containerPort": 80, "protocol": "TCP", "name": "http" },
            { "containerPort": 443, "protocol": "TCP" },
        ])
    );
    assert_eq!(container(&got)["image"], json!("nginx:1.19"));
}

#[test]
fn env_item_deleted_with_patch_delete() {
    let patch = json!({ "spec": { "template": { "spec": { "containers": [{
        "name": "nginx",
        "env": [{ "name": "B", "$patch": "delete" }, { "name": "C", "value": "30" }],
    }] } } } });
    let got = smp(&deployment(), patch, DEPLOYMENT);
    assert_eq!(
        container(&got)["env"],
        json!([{ "name": "A", "value": "1" }, { "name": "C", "value": "30" }])
    );
}

#[test]
fn retain_keys_on_strategy_drops_rolling_update() {
    // What `kubectl apply` sends when the strategy changes from RollingUpdate to Recreate.
    let patch = json!({ "spec": { "strategy": { "$retainKeys": ["type"], "type": "Recreate" } } });
    let got = smp(&deployment(), patch, DEPLOYMENT);
    assert_eq!(got["spec"]["strategy"], json!({ "type": "Recreate" }));
    // Without the directive the strategy is merged and rollingUpdate stays.
    let merged = smp(
        &deployment(),
        json!({ "spec": { "strategy": { "type": "Recreate" } } }),
        DEPLOYMENT,
    );
    assert_eq!(
        merged["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
        json!("25%")
    );
}

#[test]
fn retain_keys_must_list_every_patched_key() {
    let patch = json!({ "spec": { "strategy": { "$retainKeys": ["type"], "type": "RollingUpdate", "rollingUpdate": {} } } });
    let err = strategic_merge_patch(deployment(), &patch, DEPLOYMENT).unwrap_err();
    assert_eq!(
        err,
        PatchError::bad_request("invalid patch format of retainKeys")
    );
}

#[test]
fn volume_retain_keys_switches_volume_source() {
    let mut live = deployment();
    live["spec"]["template"]["spec"]["volumes"] =
        json!([{ "name": "data", "emptyDir": {} }, { "name": "tmp", "emptyDir": {} }]);
    let patch = json!({ "spec": { "template": { "spec": {
        "$setElementOrder/volumes": [{ "name": "data" }, { "name": "tmp" }],
        "volumes": [{ "$retainKeys": ["configMap", "name"], "configMap": { "name": "cm" }, "name": "data" }],
    } } } });
    let got = smp(&live, patch, DEPLOYMENT);
    assert_eq!(
        got["spec"]["template"]["spec"]["volumes"],
        json!([{ "name": "data", "configMap": { "name": "cm" } }, { "name": "tmp", "emptyDir": {} }])
    );
}

#[test]
fn tolerations_have_no_merge_key_and_are_replaced() {
    let patch = json!({ "spec": { "template": { "spec": { "tolerations": [{ "key": "c", "operator": "Exists" }] } } } });
    let got = smp(&deployment(), patch, DEPLOYMENT);
    assert_eq!(
        got["spec"]["template"]["spec"]["tolerations"],
        json!([{ "key": "c", "operator": "Exists" }])
    );
}

#[test]
fn finalizers_merge_as_a_set() {
    let mut live = deployment();
    live["metadata"]["finalizers"] = json!(["a", "b"]);
    let got = smp(
        &live,
        json!({ "metadata": { "finalizers": ["b", "c"] } }),
        DEPLOYMENT,
    );
    // Patch items in patch order; "b" is in both, so "a" (live-only, before "b") stays first.
    assert_eq!(got["metadata"]["finalizers"], json!(["a", "b", "c"]));
    let got = smp(
        &live,
        json!({ "metadata": { "finalizers": ["a"] } }),
        DEPLOYMENT,
    );
    assert_eq!(got["metadata"]["finalizers"], json!(["a", "b"]));
    let got = smp(
        &live,
        json!({ "metadata": { "$deleteFromPrimitiveList/finalizers": ["a", "x"] } }),
        DEPLOYMENT,
    );
    assert_eq!(got["metadata"]["finalizers"], json!(["b"]));
    let got = smp(
        &live,
        json!({ "metadata": { "$setElementOrder/finalizers": ["c", "b"], "finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"] } }),
        DEPLOYMENT,
    );
    assert_eq!(got["metadata"]["finalizers"], json!(["c", "b"]));
    // Deleting from a list that does not exist does not create it.
    let got = smp(
        &deployment(),
        json!({ "metadata": { "$deleteFromPrimitiveList/finalizers": ["a"] } }),
        DEPLOYMENT,
    );
    assert_eq!(got["metadata"].get("finalizers"), None);
}

#[test]
fn null_deletes_and_maps_merge() {
    let patch = json!({ "metadata": { "labels": { "app": null, "tier": "web" }, "annotations": { "deployment.kubernetes.io/revision": null } } });
    let got = smp(&deployment(), patch, DEPLOYMENT);
    assert_eq!(got["metadata"]["labels"], json!({ "tier": "web" }));
    assert_eq!(
        got["metadata"]["annotations"],
        json!({ "kubectl.kubernetes.io/last-applied-configuration": "{\"old\":true}\n" })
    );
    let got = smp(
        &deployment(),
        json!({ "status": null, "spec": { "nope": null } }),
        DEPLOYMENT,
    );
    assert_eq!(got.get("status"), None);
    assert_eq!(got["spec"], deployment()["spec"]);
}

#[test]
fn map_directives_replace_and_delete() {
    let got = smp(
        &deployment(),
        json!({ "metadata": { "labels": { "$patch": "replace", "x": "y" } } }),
        DEPLOYMENT,
    );
    assert_eq!(got["metadata"]["labels"], json!({ "x": "y" }));
    let patch = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "nginx", "resources": { "$patch": "delete" } }] } } } });
    assert_eq!(
        container(&smp(&deployment(), patch, DEPLOYMENT))["resources"],
        json!({})
    );
    let got = smp(
        &deployment(),
        json!({ "spec": { "$patch": "replace", "replicas": 3 } }),
        DEPLOYMENT,
    );
    assert_eq!(got["spec"], json!({ "replicas": 3 }));
    let err = strategic_merge_patch(
        deployment(),
        &json!({ "spec": { "$patch": "bogus" } }),
        DEPLOYMENT,
    )
    .unwrap_err();
    assert_eq!(err.code, 422);
    assert!(
        err.message.starts_with("unknown patch type: bogus in map"),
        "{err}"
    );
}

#[test]
fn list_replace_directive_replaces_the_list() {
    let patch = json!({ "spec": { "template": { "spec": { "containers": [{ "$patch": "replace" }, { "name": "only", "image": "x" }] } } } });
    let got = smp(&deployment(), patch, DEPLOYMENT);
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"],
        json!([{ "name": "only", "image": "x" }])
    );
    let patch = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "x", "$patch": "merge" }] } } } });
    let err = strategic_merge_patch(deployment(), &patch, DEPLOYMENT).unwrap_err();
    assert_eq!(
        err,
        PatchError::invalid("merging lists cannot yet be specified in the patch")
    );
}

#[test]
fn missing_merge_key_is_an_error() {
    let patch =
        json!({ "spec": { "template": { "spec": { "containers": [{ "image": "nginx:2" }] } } } });
    let err = strategic_merge_patch(deployment(), &patch, DEPLOYMENT).unwrap_err();
    assert_eq!(err.code, 422);
    assert!(
        err.message
            .ends_with("does not contain declared merge key: name"),
        "{err}"
    );
}

#[test]
fn set_element_order_must_match_patch_order() {
    let patch = json!({ "spec": { "template": { "spec": {
        "$setElementOrder/containers": [{ "name": "a" }, { "name": "b" }],
        "containers": [{ "name": "b", "image": "b" }, { "name": "a", "image": "a" }],
    } } } });
    let err = strategic_merge_patch(deployment(), &patch, DEPLOYMENT).unwrap_err();
    assert!(
        err.message.contains("doesn't match $setElementOrder list"),
        "{err}"
    );
}
