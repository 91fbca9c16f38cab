//! Strategic merge patch on other kinds, schema-less fallback and malformed patches.

use serde_json::json;

use super::strategic_tests::{DEPLOYMENT, POD, deployment, smp};
use super::{PatchError, strategic_merge_patch};

#[test]
fn service_ports_merge_by_port() {
    let live = json!({ "spec": { "ports": [{ "name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080 }], "selector": { "app": "a" } } });
    let patch = json!({ "spec": { "ports": [{ "port": 80, "targetPort": 9090 }, { "name": "https", "port": 443, "targetPort": 8443 }] } });
    let got = smp(&live, patch, "io.k8s.api.core.v1.Service");
    assert_eq!(
        got["spec"]["ports"],
        json!([
            { "name": "http", "port": 80, "protocol": "TCP", "targetPort": 9090 },
            { "name": "https", "port": 443, "targetPort": 8443 },
        ])
    );
    // The selector map merges (strategic merge patch ignores x-kubernetes-map-type).
    let got = smp(
        &live,
        json!({ "spec": { "selector": { "tier": "b" } } }),
        "io.k8s.api.core.v1.Service",
    );
    assert_eq!(got["spec"]["selector"], json!({ "app": "a", "tier": "b" }));
}

#[test]
fn node_addresses_and_conditions_merge_by_type() {
    let live = json!({ "status": {
        "addresses": [{ "type": "InternalIP", "address": "10.0.0.1" }, { "type": "Hostname", "address": "n1" }],
        "conditions": [{ "type": "Ready", "status": "False", "reason": "KubeletNotReady" }, { "type": "DiskPressure", "status": "False" }],
    } });
    let patch = json!({ "status": {
        "addresses": [{ "type": "InternalIP", "address": "10.0.0.2" }],
        "conditions": [{ "type": "Ready", "status": "True", "reason": "KubeletReady" }],
    } });
    let got = smp(&live, patch, "io.k8s.api.core.v1.Node");
    assert_eq!(
        got["status"]["addresses"],
        json!([{ "type": "InternalIP", "address": "10.0.0.2" }, { "type": "Hostname", "address": "n1" }])
    );
    assert_eq!(
        got["status"]["conditions"],
        json!([{ "type": "Ready", "status": "True", "reason": "KubeletReady" }, { "type": "DiskPressure", "status": "False" }])
    );
}

#[test]
fn owner_references_merge_by_uid_and_pod_conditions_by_type() {
    let live = json!({
        "metadata": { "ownerReferences": [{ "uid": "u1", "kind": "ReplicaSet", "name": "rs", "controller": true }] },
        "status": { "conditions": [{ "type": "PodScheduled", "status": "True" }] },
    });
    let patch = json!({
        "metadata": { "ownerReferences": [{ "uid": "u1", "blockOwnerDeletion": true }] },
        "status": { "conditions": [{ "type": "Ready", "status": "True" }] },
    });
    let got = smp(&live, patch, POD);
    assert_eq!(
        got["metadata"]["ownerReferences"],
        json!([{ "uid": "u1", "kind": "ReplicaSet", "name": "rs", "controller": true, "blockOwnerDeletion": true }])
    );
    assert_eq!(
        got["status"]["conditions"],
        json!([{ "type": "Ready", "status": "True" }, { "type": "PodScheduled", "status": "True" }])
    );
}

#[test]
fn unknown_places_fall_back_to_merge_patch() {
    let live = json!({ "spec": { "list": [1, 2], "map": { "a": 1, "b": { "c": 1 } } }, "data": { "k": "v" } });
    let patch = json!({ "spec": { "list": [3], "map": { "a": null, "b": { "d": 2 } } }, "data": { "k2": "v2" } });
    let expected = json!({ "spec": { "list": [3], "map": { "b": { "c": 1, "d": 2 } } }, "data": { "k": "v", "k2": "v2" } });
    assert_eq!(smp(&live, patch.clone(), "io.example.v1.Unknown"), expected);
    assert_eq!(smp(&live, patch, "io.k8s.api.core.v1.ConfigMap"), expected);
    // An unknown field inside a typed object: its list is replaced.
    let got = smp(
        &deployment(),
        json!({ "spec": { "template": { "spec": { "extra": [{ "name": "x" }] } } } }),
        DEPLOYMENT,
    );
    assert_eq!(
        got["spec"]["template"]["spec"]["extra"],
        json!([{ "name": "x" }])
    );
}

#[test]
fn new_values_carry_no_directives() {
    let mut live = deployment();
    live["spec"]["template"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("containers");
    let patch = json!({ "spec": { "template": { "spec": { "containers": [
        { "name": "a", "env": [{ "name": "X", "$patch": "delete" }, { "name": "Y", "value": "y" }] },
        { "name": "gone", "$patch": "delete" },
    ] } } } });
    let got = smp(&live, patch, DEPLOYMENT);
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"],
        json!([{ "name": "a", "env": [{ "name": "Y", "value": "y" }] }])
    );
}

#[test]
fn malformed_patches_are_rejected() {
    assert_eq!(
        strategic_merge_patch(deployment(), &json!([1]), DEPLOYMENT)
            .unwrap_err()
            .code,
        400
    );
    let err = strategic_merge_patch(
        json!({ "metadata": { "finalizers": ["a"] } }),
        &json!({ "metadata": { "finalizers": [["x"]] } }),
        POD,
    )
    .unwrap_err();
    assert_eq!(err, PatchError::invalid("lists of lists are not supported"));
    let err = strategic_merge_patch(
        deployment(),
        &json!({ "metadata": { "$deleteFromPrimitiveList/finalizers": "a" } }),
        DEPLOYMENT,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::bad_request("invalid patch format of primitive list")
    );
    let err = strategic_merge_patch(
        deployment(),
        &json!({ "metadata": { "$setElementOrder/finalizers": "a" } }),
        DEPLOYMENT,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::bad_request("invalid patch format of setElementOrder list")
    );
    assert_eq!(err.reason(), "BadRequest");
}
