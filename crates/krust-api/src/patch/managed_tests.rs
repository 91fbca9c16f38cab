//! managedFields tracking of non-apply writes, and the FieldsV1 set format.

use serde_json::json;

use super::apply_tests::{DEPLOYMENT, T0, T1, T2, config, entries, fields_of};
use super::fieldset::{FieldSet, display_path};
use super::update_managed_fields;

#[test]
fn updates_take_changed_fields_from_other_managers() {
    let created = update_managed_fields(
        None,
        config(1, "nginx:1.19"),
        "kubectl-create",
        DEPLOYMENT,
        T0,
    )
    .unwrap();
    assert_eq!(entries(&created).len(), 1);
    assert_eq!(entries(&created)[0]["operation"], json!("Update"));
    assert_eq!(
        fields_of(&created, "kubectl-create")["f:spec"]["f:replicas"],
        json!({})
    );
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(4);
    let scaled = update_managed_fields(
        Some(&created),
        scaled.clone(),
        "kube-controller-manager",
        DEPLOYMENT,
        T1,
    )
    .unwrap();
    assert_eq!(
        fields_of(&scaled, "kube-controller-manager"),
        &json!({ "f:spec": { "f:replicas": {} } })
    );
    assert_eq!(
        fields_of(&scaled, "kubectl-create")["f:spec"].get("f:replicas"),
        None
    );
    // A write that changes nothing records nothing new.
    let same =
        update_managed_fields(Some(&scaled), scaled.clone(), "someone", DEPLOYMENT, T2).unwrap();
    assert_eq!(same, scaled);
    // managedFields: [{}] clears the managed fields.
    let mut reset = scaled.clone();
    reset["metadata"]["managedFields"] = json!([{}]);
    let reset = update_managed_fields(Some(&scaled), reset.clone(), "kubectl-edit", DEPLOYMENT, T2)
        .unwrap();
    assert_eq!(reset["metadata"].get("managedFields"), None);
}

#[test]
fn field_sets_round_trip_and_print_like_kubernetes() {
    let v1 = json!({ "f:metadata": { "f:labels": { ".": {}, "f:app": {} } }, "f:spec": { "f:replicas": {} } });
    let set = FieldSet::from_fields_v1(&v1).unwrap();
    assert_eq!(set.to_fields_v1(), v1);
    assert!(set.contains(&["f:spec".into(), "f:replicas".into()]));
    assert!(set.contains(&["f:metadata".into(), "f:labels".into()]));
    assert!(!set.contains(&["f:spec".into()]));
    assert!(FieldSet::from_fields_v1(&json!({ "x:bad": {} })).is_err());
    let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        display_path(&path(&[
            "f:spec",
            "f:containers",
            r#"k:{"name":"nginx"}"#,
            "f:image"
        ])),
        r#".spec.containers[name="nginx"].image"#
    );
    assert_eq!(
        display_path(&path(&[
            "f:ports",
            r#"k:{"containerPort":80,"protocol":"TCP"}"#
        ])),
        r#".ports[containerPort=80,protocol="TCP"]"#
    );
    assert_eq!(
        display_path(&path(&["f:metadata", "f:finalizers", r#"v:"a""#])),
        r#".metadata.finalizers[="a"]"#
    );
}
