//! Server-side apply and managedFields tracking.

use serde_json::{Value, json};

use super::{ApplyConflict, ApplyError, apply, update_managed_fields};

pub(super) const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";
pub(super) const T0: &str = "2024-01-01T00:00:00Z";
pub(super) const T1: &str = "2024-01-01T00:01:00Z";
pub(super) const T2: &str = "2024-01-01T00:02:00Z";

/// The configuration `kubectl apply --server-side` sends.
pub(super) fn config(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "nginx", "namespace": "default", "labels": { "app": "nginx" } },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": "nginx" } },
            "template": {
                "metadata": { "labels": { "app": "nginx" } },
                "spec": { "containers": [{ "name": "nginx", "image": image, "ports": [{ "containerPort": 80 }] }] },
            },
        },
    })
}

pub(super) fn entries(object: &Value) -> &Vec<Value> {
    object["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
}

pub(super) fn fields_of<'a>(object: &'a Value, manager: &str) -> &'a Value {
    let entry = entries(object)
        .iter()
        .find(|e| e["manager"] == json!(manager))
        .unwrap_or_else(|| panic!("{manager}"));
    &entry["fieldsV1"]
}

fn without_managed(object: &Value) -> Value {
    let mut object = object.clone();
    object["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("managedFields");
    object
}

#[test]
fn create_by_apply_records_the_applied_fields() {
    let created = apply(
        None,
        &config(1, "nginx:1.19"),
        "kubectl",
        false,
        DEPLOYMENT,
        T0,
    )
    .unwrap();
    assert_eq!(without_managed(&created), config(1, "nginx:1.19"));
    assert_eq!(
        entries(&created),
        &vec![json!({
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": { "f:labels": { "f:app": {} } },
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": { "f:labels": { "f:app": {} } },
                        "f:spec": { "f:containers": { "k:{\"name\":\"nginx\"}": {
                            ".": {},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": { "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": { ".": {}, "f:containerPort": {} } },
                        } } },
                    },
                },
            },
        })]
    );
}

#[test]
fn reapply_by_the_same_manager_changes_fields() {
    let created = apply(
        None,
        &config(1, "nginx:1.19"),
        "kubectl",
        false,
        DEPLOYMENT,
        T0,
    )
    .unwrap();
    let mut live = created.clone();
    live["metadata"]["uid"] = json!("u1");
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
    let updated = apply(
        Some(&live),
        &config(3, "nginx:1.20"),
        "kubectl",
        false,
        DEPLOYMENT,
        T1,
    )
    .unwrap();
    assert_eq!(updated["spec"]["replicas"], json!(3));
    let container = &updated["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        (&container["image"], &container["imagePullPolicy"]),
        (&json!("nginx:1.20"), &json!("IfNotPresent"))
    );
    assert_eq!(updated["metadata"]["uid"], json!("u1"));
    assert_eq!(entries(&updated)[0]["time"], json!(T1));
    // A no-op apply keeps the entry's time.
    let again = apply(
        Some(&updated),
        &config(3, "nginx:1.20"),
        "kubectl",
        false,
        DEPLOYMENT,
        T2,
    )
    .unwrap();
    assert_eq!(entries(&again)[0]["time"], json!(T1));
    assert_eq!(again, updated);
}

/// A Deployment created by client-side `kubectl apply` (an Update by kubectl-client-side-apply).
fn client_side_applied() -> Value {
    update_managed_fields(
        None,
        config(1, "nginx:1.19"),
        "kubectl-client-side-apply",
        DEPLOYMENT,
        T0,
    )
    .unwrap()
}

#[test]
fn conflicting_apply_is_rejected_with_the_kubernetes_message() {
    let live = client_side_applied();
    let err = apply(
        Some(&live),
        &config(2, "nginx:1.19"),
        "kubectl",
        false,
        DEPLOYMENT,
        T1,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#
    );
    assert_eq!((err.code(), err.reason()), (409, "Conflict"));
    let ApplyError::Conflict { conflicts, .. } = err else {
        unreachable!()
    };
    assert_eq!(
        conflicts,
        vec![ApplyConflict {
            manager: r#""kubectl-client-side-apply" using apps/v1"#.into(),
            field: ".spec.replicas".into()
        }]
    );
    let err = apply(
        Some(&live),
        &config(2, "nginx:1.20"),
        "kubectl",
        false,
        DEPLOYMENT,
        T1,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n\
         - .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
    );
}

#[test]
fn same_values_are_shared_and_force_takes_ownership() {
    let live = client_side_applied();
    let shared = apply(
        Some(&live),
        &config(1, "nginx:1.19"),
        "kubectl",
        false,
        DEPLOYMENT,
        T1,
    )
    .unwrap();
    assert_eq!(
        fields_of(&shared, "kubectl-client-side-apply")["f:spec"]["f:replicas"],
        json!({})
    );
    assert_eq!(
        fields_of(&shared, "kubectl")["f:spec"]["f:replicas"],
        json!({})
    );
    let forced = apply(
        Some(&live),
        &config(2, "nginx:1.19"),
        "kubectl",
        true,
        DEPLOYMENT,
        T1,
    )
    .unwrap();
    assert_eq!(forced["spec"]["replicas"], json!(2));
    assert_eq!(
        fields_of(&forced, "kubectl-client-side-apply")["f:spec"].get("f:replicas"),
        None
    );
    assert_eq!(
        fields_of(&forced, "kubectl")["f:spec"]["f:replicas"],
        json!({})
    );
    // Apply entries sort before Update entries.
    assert_eq!(entries(&forced)[0]["operation"], json!("Apply"));
    assert_eq!(entries(&forced)[1]["operation"], json!("Update"));
}

#[test]
fn fields_no_longer_applied_are_removed_unless_owned_by_others() {
    let mut first = config(1, "nginx:1.19");
    first["metadata"]["labels"]["tier"] = json!("web");
    first["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "sidecar", "image": "busybox" }));
    let live = apply(None, &first, "kubectl", false, DEPLOYMENT, T0).unwrap();
    let second = apply(
        Some(&live),
        &config(1, "nginx:1.19"),
        "kubectl",
        false,
        DEPLOYMENT,
        T1,
    )
    .unwrap();
    assert_eq!(without_managed(&second), config(1, "nginx:1.19"));
    assert_eq!(
        fields_of(&second, "kubectl"),
        fields_of(
            &apply(None, &config(1, "nginx:1.19"), "m", false, DEPLOYMENT, T0).unwrap(),
            "m"
        )
    );
    // Another manager took over the label: dropping it from the configuration keeps it.
    let mut edited = live.clone();
    edited["metadata"]["labels"]["tier"] = json!("frontend");
    let edited =
        update_managed_fields(Some(&live), edited.clone(), "kubectl-edit", DEPLOYMENT, T1).unwrap();
    assert_eq!(
        fields_of(&edited, "kubectl-edit"),
        &json!({ "f:metadata": { "f:labels": { "f:tier": {} } } })
    );
    let third = apply(
        Some(&edited),
        &config(1, "nginx:1.19"),
        "kubectl",
        false,
        DEPLOYMENT,
        T2,
    )
    .unwrap();
    assert_eq!(
        third["metadata"]["labels"],
        json!({ "app": "nginx", "tier": "frontend" })
    );
    let names: Vec<&Value> = third["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, vec![&json!("nginx")]);
}

#[test]
fn associative_lists_merge_by_key() {
    let live = apply(
        None,
        &config(1, "nginx:1.19"),
        "kubectl",
        false,
        DEPLOYMENT,
        T0,
    )
    .unwrap();
    let sidecar = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "nginx" },
        "spec": { "template": { "spec": { "containers": [{ "name": "sidecar", "image": "busybox" }] } } },
    });
    let both = apply(
        Some(&live),
        &sidecar,
        "sidecar-injector",
        false,
        DEPLOYMENT,
        T1,
    )
    .unwrap();
    let containers = &both["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["name"], json!("nginx"));
    assert_eq!(
        containers[1],
        json!({ "name": "sidecar", "image": "busybox" })
    );
    // kubectl re-applying its configuration leaves the injector's container alone.
    let again = apply(
        Some(&both),
        &config(2, "nginx:1.19"),
        "kubectl",
        false,
        DEPLOYMENT,
        T2,
    )
    .unwrap();
    assert_eq!(
        again["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(again["spec"]["replicas"], json!(2));
}

#[test]
fn objects_without_managed_fields_belong_to_before_first_apply() {
    let live = without_managed(&client_side_applied());
    let err = apply(
        Some(&live),
        &config(5, "nginx:1.19"),
        "kubectl",
        false,
        DEPLOYMENT,
        T1,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas"#
    );
}

#[test]
fn invalid_configurations_are_rejected() {
    let mut with_managed = config(1, "x");
    with_managed["metadata"]["managedFields"] = json!([{ "manager": "x" }]);
    let err = apply(None, &with_managed, "kubectl", false, DEPLOYMENT, T0).unwrap_err();
    assert_eq!(
        err,
        ApplyError::BadRequest("metadata.managedFields must be nil".into())
    );
    let mut keyless = config(1, "x");
    keyless["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("name");
    let err = apply(None, &keyless, "kubectl", false, DEPLOYMENT, T0).unwrap_err();
    assert_eq!(err.code(), 422);
    assert!(
        err.to_string().contains(r#"omits key field "name""#),
        "{err}"
    );
}

#[test]
fn set_lists_are_tracked_by_value() {
    let mut cfg = config(1, "x");
    cfg["metadata"]["finalizers"] = json!(["example.com/a"]);
    let created = apply(None, &cfg, "kubectl", false, DEPLOYMENT, T0).unwrap();
    assert_eq!(
        fields_of(&created, "kubectl")["f:metadata"]["f:finalizers"],
        json!({ "v:\"example.com/a\"": {} })
    );
    let mut live = created.clone();
    live["metadata"]["finalizers"] = json!(["example.com/b", "example.com/a"]);
    let reapplied = apply(
        Some(&live),
        &config(1, "x"),
        "kubectl",
        false,
        DEPLOYMENT,
        T1,
    )
    .unwrap();
    assert_eq!(
        reapplied["metadata"]["finalizers"],
        json!(["example.com/b"])
    );
}
