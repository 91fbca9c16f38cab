//! managedFields tracking of non-apply writes on the hot paths (leases, pod status, creates),
//! and the one-walk comparison against the path-by-path one it replaced.

use serde_json::{Value, json};

use crate::patch::apply::{
    ApplyError, api_version, changed, changes_by_lookup, root, update_managed_fields,
    without_managed_fields,
};
use crate::patch::apply_changes::changes;
use crate::patch::apply_fields::{field_set, lookup};
use crate::patch::apply_tests::{DEPLOYMENT, T0, T1, T2, config, entries, fields_of};
use crate::patch::fieldset::FieldSet;
use crate::patch::managed::{Entry, Operation, read_entries, write_entries};

/// A change to make to an object.
type Edit = Box<dyn Fn(&mut Value)>;

const POD: &str = "io.k8s.api.core.v1.Pod";
const LEASE: &str = "io.k8s.api.coordination.v1.Lease";
const NODE: &str = "io.k8s.api.core.v1.Node";
const SERVICE: &str = "io.k8s.api.core.v1.Service";

/// `update_managed_fields` as it was before [`changes`]: the field sets of both objects, then
/// every path looked up from the root in both.
fn reference(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    definition: &str,
    now: &str,
) -> Result<Value, ApplyError> {
    let provided = new
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array);
    let mut result = without_managed_fields(new);
    if provided.is_some_and(|m| m.len() == 1 && m[0].as_object().is_some_and(|e| e.is_empty())) {
        return Ok(result);
    }
    let mut entries = match provided {
        Some(list) if !list.is_empty() => read_entries(new),
        _ => old.map(read_entries).unwrap_or_default(),
    };
    let node = root(definition);
    let before = old.map(without_managed_fields).unwrap_or_else(|| json!({}));
    let old_set = field_set(&before, node).map_err(ApplyError::Invalid)?;
    let new_set = field_set(&result, node).map_err(ApplyError::Invalid)?;
    let mut taken = FieldSet::default();
    for path in new_set.paths() {
        if changed(&new_set, &path, &before, &result) {
            taken.insert(&path);
        }
    }
    let mut gone = FieldSet::default();
    for path in old_set.paths() {
        if lookup(&result, &path).is_none() {
            gone.insert(&path);
        }
    }
    let mut dropped = taken.clone();
    dropped.union(&gone);
    for entry in &mut entries {
        entry.set = entry.set.difference(&dropped);
    }
    let version = api_version(&result);
    if !taken.is_empty() {
        let mine = entries
            .iter()
            .position(|e| e.is_of(manager.into(), Operation::Update) && e.api_version == version);
        match mine {
            Some(i) => {
                entries[i].set.union(&taken);
                entries[i].time = now.to_owned();
            }
            None => entries.push(Entry::new(
                manager.into(),
                Operation::Update,
                version,
                now,
                taken,
            )),
        }
    }
    write_entries(&mut result, entries);
    Ok(result)
}

/// [`update_managed_fields`], checked against [`reference`]; also whether the one walk
/// handled the objects (rather than the path-by-path fallback), and that it agrees with the
/// fallback when it did.
fn update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    definition: &str,
    now: &str,
) -> (Result<Value, ApplyError>, bool) {
    let got = update_managed_fields(old, new.clone(), manager, definition, now);
    let want = reference(old, new, manager, definition, now);
    assert_eq!(got, want, "old: {old:#?}\nnew: {new:#?}");
    let node = root(definition);
    let after = without_managed_fields(new);
    let walked = changes(old, &after, node);
    if let Ok(walked) = &walked {
        let by_lookup = changes_by_lookup(old, &after, node).expect("field sets");
        assert_eq!(walked.taken.paths(), by_lookup.taken.paths(), "taken");
        assert_eq!(walked.gone.paths(), by_lookup.gone.paths(), "gone");
    }
    (got, walked.is_ok())
}

/// [`update`] of a write that must succeed, on the one walk.
fn write(old: Option<&Value>, new: &Value, manager: &str, definition: &str, now: &str) -> Value {
    let (result, walked) = update(old, new, manager, definition, now);
    assert!(walked, "fell back to the path-by-path comparison");
    result.expect("update")
}

fn lease(renew: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": "node-1",
            "namespace": "kube-node-lease",
            "uid": "9d3c7f52-0000-4000-8000-000000000001",
            "resourceVersion": "100",
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "ownerReferences": [{ "apiVersion": "v1", "kind": "Node", "name": "node-1", "uid": "n1" }],
        },
        "spec": {
            "holderIdentity": "node-1",
            "leaseDurationSeconds": 40,
            "renewTime": renew,
        },
    })
}

#[test]
fn lease_renewals_keep_the_fields_and_update_the_time() {
    let created = write(
        None,
        &lease("2024-01-01T00:00:00.000000Z"),
        "kubelet",
        LEASE,
        T0,
    );
    let fields = json!({
        // OwnerReference is an atomic struct: items are owned as a whole.
        "f:metadata": { "f:ownerReferences": { "k:{\"uid\":\"n1\"}": {} } },
        "f:spec": { "f:holderIdentity": {}, "f:leaseDurationSeconds": {}, "f:renewTime": {} },
    });
    let entry = |time: &str| {
        json!({
            "manager": "kubelet", "operation": "Update", "apiVersion": "coordination.k8s.io/v1",
            "time": time, "fieldsType": "FieldsV1", "fieldsV1": fields,
        })
    };
    assert_eq!(entries(&created), &vec![entry(T0)]);
    let mut renewed = created.clone();
    renewed["spec"]["renewTime"] = json!("2024-01-01T00:00:10.000000Z");
    renewed["metadata"]["resourceVersion"] = json!("101");
    let renewed = write(Some(&created), &renewed, "kubelet", LEASE, T1);
    assert_eq!(
        renewed["spec"]["renewTime"],
        json!("2024-01-01T00:00:10.000000Z")
    );
    assert_eq!(entries(&renewed), &vec![entry(T1)]);
    // The same object again (only resourceVersion differs): nothing changes, not the time.
    let mut again = renewed.clone();
    again["metadata"]["resourceVersion"] = json!("102");
    let again = write(Some(&renewed), &again, "kubelet", LEASE, T2);
    assert_eq!(entries(&again), &vec![entry(T1)]);
    // Another holder takes the lease: it takes the fields it changed.
    let mut taken = again.clone();
    taken["spec"]["holderIdentity"] = json!("node-2");
    taken["spec"]["renewTime"] = json!("2024-01-01T00:01:00.000000Z");
    let taken = write(Some(&again), &taken, "other", LEASE, T2);
    assert_eq!(
        fields_of(&taken, "other"),
        &json!({ "f:spec": { "f:holderIdentity": {}, "f:renewTime": {} } })
    );
    assert_eq!(
        fields_of(&taken, "kubelet")["f:spec"],
        json!({ "f:leaseDurationSeconds": {} })
    );
}

/// A Pod as a controller creates it and the scheduler binds it (about 60 fields).
fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-7d9f8b6c5-x2x4z",
            "generateName": "web-7d9f8b6c5-",
            "namespace": "default",
            "uid": "4c5d1f1e-3f0a-4c1e-9b1a-2f3c4d5e6f70",
            "resourceVersion": "1234",
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "labels": { "app": "web", "pod-template-hash": "7d9f8b6c5" },
            "annotations": { "example.com/revision": "3" },
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8b6c5",
                "uid": "rs-1", "controller": true, "blockOwnerDeletion": true,
            }],
            "finalizers": ["example.com/protect"],
        },
        "spec": {
            "containers": [
                {
                    "name": "web", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                    "ports": [{ "containerPort": 80, "protocol": "TCP", "name": "http" }],
                    "env": [
                        { "name": "MODE", "value": "production" },
                        { "name": "PORT", "value": "80" },
                        { "name": "POD_NAME", "valueFrom": { "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.name" } } },
                    ],
                    "resources": { "requests": { "cpu": "100m", "memory": "128Mi" }, "limits": { "memory": "256Mi" } },
                    "volumeMounts": [{ "name": "data", "mountPath": "/data" }],
                    "readinessProbe": { "httpGet": { "path": "/healthz", "port": 80, "scheme": "HTTP" }, "periodSeconds": 10 },
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                },
                {
                    "name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "infinity"],
                    "imagePullPolicy": "IfNotPresent",
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                },
            ],
            "volumes": [{ "name": "data", "emptyDir": {} }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "nodeName": "node-1",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                { "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
                { "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
            ],
            "priority": 0,
            "enableServiceLinks": true,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": "Pending",
            "conditions": [
                { "type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-01-01T00:00:01Z" },
            ],
            "qosClass": "Burstable",
        },
    })
}

/// The status the kubelet reports once the pod runs.
fn running_status() -> Value {
    let condition = |t: &str| json!({ "type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-01-01T00:00:05Z" });
    let container = |name: &str, image: &str| {
        json!({
            "name": name, "image": image, "imageID": format!("docker.io/library/{image}@sha256:0123"),
            "containerID": format!("containerd://{name}0123"), "ready": true, "started": true,
            "restartCount": 0, "lastState": {}, "state": { "running": { "startedAt": "2024-01-01T00:00:04Z" } },
        })
    };
    json!({
        "phase": "Running",
        "conditions": [
            condition("Initialized"),
            condition("Ready"),
            condition("ContainersReady"),
            { "type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-01-01T00:00:01Z" },
        ],
        "hostIP": "10.0.0.1",
        "hostIPs": [{ "ip": "10.0.0.1" }],
        "podIP": "10.244.0.7",
        "podIPs": [{ "ip": "10.244.0.7" }],
        "startTime": "2024-01-01T00:00:02Z",
        "containerStatuses": [container("sidecar", "busybox:1.36"), container("web", "nginx:1.25")],
        "qosClass": "Burstable",
    })
}

/// A pod created by the controller and bound by the scheduler, and the running pod the
/// kubelet writes over it.
fn pod_status_update() -> (Value, Value) {
    let mut created = pod();
    created["status"] = json!({ "phase": "Pending", "qosClass": "Burstable" });
    created["spec"].as_object_mut().unwrap().remove("nodeName");
    let created = write(None, &created, "kube-controller-manager", POD, T0);
    let mut bound = created.clone();
    bound["spec"]["nodeName"] = json!("node-1");
    bound["status"] = pod()["status"].clone();
    let bound = write(Some(&created), &bound, "kube-scheduler", POD, T1);
    let mut running = bound.clone();
    running["status"] = running_status();
    (bound, running)
}

#[test]
fn creates_record_every_field_but_the_stripped_ones() {
    let created = write(None, &pod(), "kube-controller-manager", POD, T0);
    assert_eq!(entries(&created).len(), 1);
    let fields = fields_of(&created, "kube-controller-manager");
    assert_eq!(
        fields["f:metadata"],
        json!({
            "f:annotations": { "f:example.com/revision": {} },
            "f:finalizers": { "v:\"example.com/protect\"": {} },
            "f:generateName": {},
            "f:labels": { "f:app": {}, "f:pod-template-hash": {} },
            "f:ownerReferences": { "k:{\"uid\":\"rs-1\"}": {} },
        })
    );
    assert_eq!(
        fields["f:spec"]["f:containers"]["k:{\"name\":\"sidecar\"}"],
        json!({
            ".": {}, "f:args": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
            "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {},
        })
    );
    let web = &fields["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
    assert_eq!(
        web["f:ports"],
        json!({ "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
            ".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {},
        } })
    );
    assert_eq!(
        web["f:env"]["k:{\"name\":\"POD_NAME\"}"],
        // ObjectFieldSelector is an atomic struct.
        json!({ ".": {}, "f:name": {}, "f:valueFrom": { "f:fieldRef": {} } })
    );
    assert_eq!(fields["f:spec"]["f:securityContext"], json!({}));
    assert_eq!(fields["f:spec"]["f:tolerations"], json!({}));
    assert_eq!(
        fields["f:status"],
        json!({
            "f:conditions": { "k:{\"type\":\"PodScheduled\"}": {
                ".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {},
            } },
            "f:phase": {},
            "f:qosClass": {},
        })
    );
}

#[test]
fn status_updates_take_fields_from_other_managers() {
    let (bound, running) = pod_status_update();
    assert_eq!(
        fields_of(&bound, "kube-scheduler"),
        &json!({
            "f:spec": { "f:nodeName": {} },
            "f:status": { "f:conditions": { "k:{\"type\":\"PodScheduled\"}": {
                ".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {},
            } } },
        })
    );
    let updated = write(Some(&bound), &running, "kubelet", POD, T2);
    let condition = json!({
        ".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {},
    });
    assert_eq!(
        fields_of(&updated, "kubelet"),
        &json!({ "f:status": {
            "f:conditions": {
                "k:{\"type\":\"ContainersReady\"}": condition,
                "k:{\"type\":\"Initialized\"}": condition,
                "k:{\"type\":\"Ready\"}": condition,
            },
            "f:containerStatuses": {},
            "f:hostIP": {},
            "f:hostIPs": {},
            "f:phase": {},
            "f:podIP": {},
            "f:podIPs": { "k:{\"ip\":\"10.244.0.7\"}": { ".": {}, "f:ip": {} } },
            "f:startTime": {},
        } })
    );
    // The controller loses the phase, the scheduler keeps its unchanged condition.
    assert_eq!(
        fields_of(&updated, "kube-controller-manager")["f:status"],
        json!({ "f:qosClass": {} })
    );
    assert_eq!(
        fields_of(&updated, "kube-scheduler"),
        fields_of(&bound, "kube-scheduler")
    );
    let times: Vec<&Value> = entries(&updated).iter().map(|e| &e["time"]).collect();
    assert_eq!(times, vec![&json!(T0), &json!(T1), &json!(T2)]);
}

#[test]
fn removed_fields_leave_every_owner() {
    let (bound, _) = pod_status_update();
    let mut edited = bound.clone();
    edited["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("pod-template-hash");
    edited["spec"]["containers"][0]["env"]
        .as_array_mut()
        .unwrap()
        .remove(1);
    let edited = write(Some(&bound), &edited, "kubectl-edit", POD, T2);
    // Removing is no change the remover owns: it gets no entry.
    assert!(
        entries(&edited)
            .iter()
            .all(|e| e["manager"] != "kubectl-edit")
    );
    let fields = fields_of(&edited, "kube-controller-manager");
    assert_eq!(fields["f:metadata"]["f:labels"], json!({ "f:app": {} }));
    let env = &fields["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:env"];
    assert_eq!(env.get("k:{\"name\":\"PORT\"}"), None);
    assert!(env.get("k:{\"name\":\"MODE\"}").is_some());
    assert_eq!(entries(&edited)[0]["time"], json!(T0));
}

#[test]
fn list_items_are_matched_by_their_keys() {
    let (bound, _) = pod_status_update();
    let mut edited = bound.clone();
    let containers = edited["spec"]["containers"].as_array_mut().unwrap();
    containers.reverse();
    containers[1]["image"] = json!("nginx:1.26");
    containers.push(json!({ "name": "logger", "image": "fluent-bit:3" }));
    let edited = write(Some(&bound), &edited, "kubectl-set-image", POD, T2);
    assert_eq!(
        fields_of(&edited, "kubectl-set-image"),
        &json!({ "f:spec": { "f:containers": {
            "k:{\"name\":\"logger\"}": { ".": {}, "f:image": {}, "f:name": {} },
            "k:{\"name\":\"web\"}": { "f:image": {} },
        } } })
    );
    let containers = &fields_of(&edited, "kube-controller-manager")["f:spec"]["f:containers"];
    assert_eq!(containers["k:{\"name\":\"web\"}"].get("f:image"), None);
    assert_eq!(containers["k:{\"name\":\"sidecar\"}"]["f:image"], json!({}));
}

#[test]
fn maps_turning_into_values_and_back_match_the_path_by_path_comparison() {
    let created = write(None, &config(1, "nginx"), "a", DEPLOYMENT, T0);
    let steps: Vec<Edit> = vec![
        Box::new(|d| d["metadata"]["labels"] = json!("flat")),
        Box::new(|d| d["metadata"]["labels"] = json!({ "app": "nginx", "x": { "y": 1 } })),
        Box::new(|d| d["metadata"]["labels"]["x"] = json!(3)),
        Box::new(|d| d["metadata"]["labels"]["x"] = json!({})),
        Box::new(|d| d["metadata"]["labels"]["x"] = json!({ "z": [1, 2] })),
        Box::new(|d| d["spec"]["selector"] = json!({})),
        Box::new(|d| d["spec"]["template"]["spec"]["containers"] = json!({ "name": "c" })),
        Box::new(|d| d["spec"]["template"]["spec"]["containers"] = json!([])),
        Box::new(|d| d["spec"]["unknown"] = json!({ "a": { "b": [] } })),
        Box::new(|d| d["spec"]["unknown"] = json!(1)),
        Box::new(|d| d["metadata"] = json!({ "name": "x" })),
        Box::new(|d| *d = json!({ "kind": "Deployment" })),
    ];
    let mut current = created;
    for (i, step) in steps.iter().enumerate() {
        let mut next = current.clone();
        step(&mut next);
        current = write(Some(&current), &next, ["a", "b"][i % 2], DEPLOYMENT, T1);
    }
}

#[test]
fn irregular_lists_fall_back_to_the_path_by_path_comparison() {
    let (bound, _) = pod_status_update();
    let edits: Vec<Edit> = vec![
        // A key set to null that has a default.
        Box::new(|p| p["spec"]["containers"][0]["ports"][0]["protocol"] = Value::Null),
        // Duplicate keys.
        Box::new(|p| {
            let env = p["spec"]["containers"][0]["env"].as_array_mut().unwrap();
            env.push(json!({ "name": "MODE", "value": "debug" }));
        }),
        // Float keys and set items.
        Box::new(|p| p["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(80.5)),
        Box::new(|p| p["metadata"]["finalizers"] = json!([0.1])),
    ];
    for edit in &edits {
        let mut edited = bound.clone();
        edit(&mut edited);
        let (result, walked) = update(Some(&bound), &edited, "m", POD, T2);
        assert!(!walked);
        // The same irregularity in both objects (a subtree the walk would skip).
        let result = result.unwrap();
        let mut again = result.clone();
        again["spec"]["restartPolicy"] = json!("Never");
        let (_, walked) = update(Some(&result), &again, "m", POD, T2);
        assert!(!walked);
    }
    // Items without their key fail either way, with the error of the old object first.
    let mut keyless = bound.clone();
    keyless["spec"]["containers"][1]
        .as_object_mut()
        .unwrap()
        .remove("name");
    let (result, _) = update(Some(&bound), &keyless, "m", POD, T2);
    assert_eq!(result.unwrap_err().code(), 422);
    let mut also = keyless.clone();
    also["status"]["conditions"][0]
        .as_object_mut()
        .unwrap()
        .remove("type");
    let (result, _) = update(Some(&keyless), &also, "m", POD, T2);
    assert!(result.unwrap_err().to_string().contains("\"name\""));
}

#[test]
fn entries_not_as_written_are_rewritten() {
    let (bound, _) = pod_status_update();
    let fields = json!({ "f:spec": { "f:nodeName": {}, "f:restartPolicy": {} } });
    let entry = json!({
        "manager": "odd", "operation": "Update", "apiVersion": "v1", "time": T0,
        "fieldsType": "FieldsV1", "fieldsV1": fields,
    });
    let variants: Vec<Edit> = vec![
        Box::new(|_| {}),
        Box::new(|e| e["subresource"] = json!("status")),
        Box::new(|e| e["subresource"] = json!("")),
        Box::new(|e| e["extra"] = json!(1)),
        Box::new(|e| drop(e.as_object_mut().unwrap().remove("fieldsType"))),
        Box::new(|e| drop(e.as_object_mut().unwrap().remove("time"))),
        Box::new(|e| e["time"] = json!(5)),
        Box::new(|e| e["operation"] = json!("Other")),
        Box::new(|e| e["fieldsV1"] = json!({})),
        Box::new(|e| e["fieldsV1"] = json!({ ".": {}, "f:spec": { "f:nodeName": {} } })),
        Box::new(|e| e["fieldsV1"]["f:spec"]["."] = json!({})),
        Box::new(|e| e["fieldsV1"]["f:spec"]["f:nodeName"] = json!({ ".": {} })),
        Box::new(|e| e["fieldsV1"]["f:spec"]["f:nodeName"] = json!({ ".": { "x": 1 }, "f:a": {} })),
        Box::new(|e| e["fieldsV1"]["f:spec"]["x:bad"] = json!({})),
        Box::new(|e| e["fieldsV1"]["f:spec"]["f:nodeName"] = json!(1)),
    ];
    for variant in &variants {
        let mut odd = entry.clone();
        variant(&mut odd);
        let mut old = bound.clone();
        old["metadata"]["managedFields"]
            .as_array_mut()
            .unwrap()
            .push(odd);
        for (edit, manager) in [
            ("restartPolicy", "odd"),
            ("dnsPolicy", "odd"),
            ("restartPolicy", "m"),
        ] {
            // Entries carried by the old object, and by the request.
            let mut new = old.clone();
            new["spec"][edit] = json!("Changed");
            update(Some(&old), &new, manager, POD, T2).0.unwrap();
            let mut new = without_managed_fields(&new);
            update(Some(&old), &new, manager, POD, T2).0.unwrap();
            new["metadata"]["managedFields"] = old["metadata"]["managedFields"].clone();
            update(None, &new, manager, POD, T2).0.unwrap();
        }
    }
}

fn node() -> Value {
    let condition = |t: &str, s: &str| {
        json!({ "type": t, "status": s, "lastHeartbeatTime": "2024-01-01T00:00:00Z",
                "lastTransitionTime": "2024-01-01T00:00:00Z", "reason": format!("Kubelet{t}"), "message": "ok" })
    };
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": "node-1", "uid": "n1", "resourceVersion": "5",
            "labels": { "kubernetes.io/hostname": "node-1", "kubernetes.io/os": "linux" },
            "annotations": { "node.alpha.kubernetes.io/ttl": "0" },
        },
        "spec": { "podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"], "taints": [{ "key": "k", "effect": "NoSchedule" }] },
        "status": {
            "capacity": { "cpu": "4", "memory": "8Gi", "pods": "110" },
            "allocatable": { "cpu": "4", "memory": "8Gi", "pods": "110" },
            "conditions": [
                condition("MemoryPressure", "False"), condition("DiskPressure", "False"),
                condition("PIDPressure", "False"), condition("Ready", "True"),
            ],
            "addresses": [{ "type": "InternalIP", "address": "10.0.0.1" }, { "type": "Hostname", "address": "node-1" }],
            "daemonEndpoints": { "kubeletEndpoint": { "Port": 10250 } },
            "nodeInfo": { "kubeletVersion": "v1.30.0", "osImage": "Linux", "architecture": "amd64" },
            "images": [{ "names": ["nginx:1.25"], "sizeBytes": 1000 }],
        },
    })
}

fn service() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": "web", "namespace": "default", "labels": { "app": "web" } },
        "spec": {
            "selector": { "app": "web" },
            "ports": [{ "name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP" }, { "port": 53, "protocol": "UDP" }],
            "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"], "type": "ClusterIP",
            "sessionAffinity": "None", "ipFamilies": ["IPv4"],
        },
        "status": { "loadBalancer": {} },
    })
}

/// A small deterministic generator (xorshift64*).
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }

    fn scalar(&mut self) -> Value {
        let values = [
            json!("x"),
            json!("y"),
            json!(1),
            json!(2),
            json!(true),
            Value::Null,
            json!(1.5),
            json!({}),
            json!([]),
            json!("TCP"),
        ];
        values[self.below(values.len())].clone()
    }
}

/// Every path to a value in `value`, skipping managedFields.
fn places(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(path.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key != "managedFields" {
                    path.push(json!(key));
                    places(child, path, out);
                    path.pop();
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(json!(i));
                places(child, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(value: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match step {
        Value::String(key) => &mut v[key.as_str()],
        _ => &mut v[step.as_u64().unwrap() as usize],
    })
}

/// Changes `object` at one random place: a new value, a removal, an added field or list item
/// (a copy of another, often with another key), a reordered list.
fn mutate(object: &mut Value, random: &mut Random) {
    let mut all = Vec::new();
    places(object, &mut Vec::new(), &mut all);
    let path = all.swap_remove(random.below(all.len()));
    let op = random.below(6);
    if op == 1
        && let Some((last, parent)) = path.split_last()
    {
        match at(object, parent) {
            Value::Object(map) => {
                map.remove(last.as_str().unwrap());
            }
            Value::Array(items) => {
                items.remove(last.as_u64().unwrap() as usize);
            }
            _ => {}
        }
        return;
    }
    let target = at(object, &path);
    match (op, target) {
        (2, Value::Object(map)) => {
            let keys = ["a", "name", "zz", "protocol", "image"];
            let key = keys[random.below(keys.len())];
            map.insert(key.into(), random.scalar());
        }
        (2 | 3, Value::Array(items)) if !items.is_empty() => {
            let mut copy = items[random.below(items.len())].clone();
            if random.below(4) > 0
                && let Value::Object(map) = &mut copy
            {
                for key in ["name", "type", "containerPort", "port", "uid", "ip"] {
                    if let Some(v) = map.get_mut(key) {
                        *v = match v {
                            Value::Number(n) => json!(n.as_u64().unwrap_or(0) + 1),
                            _ => json!(format!("{v}-{}", random.below(100))),
                        };
                    }
                }
            }
            items.push(copy);
        }
        (3, target @ Value::Object(_)) => *target = json!({ "a": 1 }),
        (4, Value::Array(items)) => items.reverse(),
        (_, target) => *target = random.scalar(),
    }
}

#[test]
fn random_writes_match_the_path_by_path_comparison() {
    let objects = [
        (pod(), POD),
        (pod_status_update().1, POD),
        (lease("2024-01-01T00:00:00Z"), LEASE),
        (node(), NODE),
        (service(), SERVICE),
        (config(1, "nginx"), DEPLOYMENT),
    ];
    let managers = ["kubelet", "kube-scheduler", "kubectl"];
    let (mut writes, mut walked) = (0, 0);
    for seed in 1..=40u64 {
        let mut random = Random(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (object, definition) = &objects[seed as usize % objects.len()];
        let mut current = update(None, object, "creator", definition, T0).0.unwrap();
        for step in 0..25 {
            let mut next = current.clone();
            for _ in 0..=random.below(3) {
                mutate(&mut next, &mut random);
            }
            if let Some(meta) = next.get_mut("metadata").and_then(Value::as_object_mut) {
                match random.below(8) {
                    0 => drop(meta.remove("managedFields")),
                    1 => drop(meta.insert("managedFields".into(), json!([{}]))),
                    _ => {}
                }
            }
            let manager = managers[random.below(managers.len())];
            let now = [T1, T2][step % 2];
            let (result, fast) = update(Some(&current), &next, manager, definition, now);
            writes += 1;
            walked += usize::from(fast);
            if let Ok(result) = result
                && result.is_object()
            {
                current = result;
            }
        }
    }
    // Most writes stay on the one walk (the rest exercise the fallback).
    assert!(walked * 3 > writes * 2, "{walked} of {writes}");
}

/// Per-call times of typical writes (`cargo test --release -p krust-api -- --ignored
/// managed_fields_timing --nocapture`).
#[test]
#[ignore]
fn managed_fields_timing() {
    let time = |f: &dyn Fn() -> Value| {
        let runs = 20_000;
        let start = std::time::Instant::now();
        for _ in 0..runs {
            std::hint::black_box(f());
        }
        start.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
    };
    let (old, new) = pod_status_update();
    let created = pod();
    let held = update_managed_fields(None, lease("t0"), "kubelet", LEASE, T0).unwrap();
    let mut renewed = held.clone();
    renewed["spec"]["renewTime"] = json!("t1");
    // The kubelet's next status update: a container turns unready.
    let running = update_managed_fields(Some(&old), new.clone(), "kubelet", POD, T2).unwrap();
    let mut unready = running.clone();
    unready["status"]["conditions"][1]["status"] = json!("False");
    unready["status"]["conditions"][1]["lastTransitionTime"] = json!("t3");
    unready["status"]["containerStatuses"][1]["ready"] = json!(false);
    // A node heartbeat.
    let registered = update_managed_fields(None, node(), "kubelet", NODE, T0).unwrap();
    let mut beat = registered.clone();
    for condition in beat["status"]["conditions"].as_array_mut().unwrap() {
        condition["lastHeartbeatTime"] = json!("2024-01-01T00:00:40Z");
    }
    type Update = fn(Option<&Value>, &Value, &str, &str, &str) -> Result<Value, ApplyError>;
    let implementations: [(&str, Update); 2] = [
        ("before", reference),
        ("after", |old, new, manager, definition, now| {
            update_managed_fields(old, new.clone(), manager, definition, now)
        }),
    ];
    for (name, f) in implementations {
        let status = time(&|| f(Some(&old), &new, "kubelet", POD, T2).unwrap());
        let create = time(&|| f(None, &created, "kube-controller-manager", POD, T0).unwrap());
        let same = time(&|| f(Some(&old), &old, "kubelet", POD, T2).unwrap());
        let renew = time(&|| f(Some(&held), &renewed, "kubelet", LEASE, T1).unwrap());
        let again = time(&|| f(Some(&running), &unready, "kubelet", POD, T2).unwrap());
        let heartbeat = time(&|| f(Some(&registered), &beat, "kubelet", NODE, T1).unwrap());
        println!(
            "{name}: pod status update {status:.1} µs, next pod status update {again:.1} µs, \
             pod create {create:.1} µs, pod no-op update {same:.1} µs, \
             lease renewal {renew:.1} µs, node heartbeat {heartbeat:.1} µs"
        );
    }
}
