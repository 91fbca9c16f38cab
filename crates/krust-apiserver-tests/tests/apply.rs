//! Server-side apply through `Patch::Apply`: create when absent, field ownership,
//! conflicts between managers, `force`, and managedFields.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use krust_testkit::{deployment, status};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

/// The (manager, operation) of each managedFields entry, sorted.
fn managers(obj: &impl ResourceExt) -> Vec<(String, String)> {
    entries(obj, |m| m.operation.clone())
}

/// The (manager, what `other` picks) of each managedFields entry, sorted.
fn entries<O: ResourceExt>(
    obj: &O,
    other: impl Fn(&ManagedFieldsEntry) -> Option<String>,
) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = obj
        .managed_fields()
        .iter()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                other(m).unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The managedFields entry of `manager`, as JSON.
fn fields_of(obj: &impl ResourceExt, manager: &str) -> serde_json::Value {
    let entry = obj
        .managed_fields()
        .iter()
        .find(|m| m.manager.as_deref() == Some(manager))
        .unwrap_or_else(|| panic!("no managedFields entry for {manager}"));
    assert_eq!(entry.fields_type.as_deref(), Some("FieldsV1"));
    assert!(entry.time.is_some(), "managedFields entries carry a time");
    serde_json::to_value(entry.fields_v1.as_ref().expect("fieldsV1")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_then_conflicts_then_forces() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");

    // Create when absent.
    let applied = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cfg", "labels": {"owner": "mgr"}},
        "data": {"shared": "one", "mine": "x"},
    });
    let cm = cms
        .patch("cfg", &PatchParams::apply("mgr"), &Patch::Apply(&applied))
        .await
        .unwrap();
    assert_eq!(cm.data.as_ref().unwrap()["shared"], "one");
    assert!(cm.uid().is_some());
    assert_eq!(managers(&cm), [("mgr".to_string(), "Apply".to_string())]);
    let f = fields_of(&cm, "mgr");
    assert!(
        f.pointer("/f:data/f:shared").is_some(),
        "mgr owns data.shared: {f}"
    );
    assert!(
        f.pointer("/f:metadata/f:labels/f:owner").is_some(),
        "mgr owns the label: {f}"
    );

    // Applying the same thing again changes nothing.
    let again = cms
        .patch("cfg", &PatchParams::apply("mgr"), &Patch::Apply(&applied))
        .await
        .unwrap();
    assert_eq!(
        again.resource_version(),
        cm.resource_version(),
        "a no-op apply does not write"
    );

    // Another manager applying a different value of an owned field: 409 Conflict.
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"shared": "two"}});
    let s = status(
        cms.patch("cfg", &PatchParams::apply("other"), &Patch::Apply(&other))
            .await,
    );
    assert_eq!(s.code, 409, "{s:?}");
    assert_eq!(s.reason, "Conflict");
    assert!(
        s.message.contains("mgr"),
        "the conflict names the owner: {}",
        s.message
    );
    assert!(
        s.message.contains(".data.shared"),
        "the conflict names the field: {}",
        s.message
    );
    assert_eq!(
        cms.get("cfg").await.unwrap().data.unwrap()["shared"],
        "one",
        "a conflict changes nothing"
    );

    // Agreeing on the value is no conflict: both own it then.
    let same = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"shared": "one", "theirs": "y"}});
    let cm = cms
        .patch("cfg", &PatchParams::apply("other"), &Patch::Apply(&same))
        .await
        .unwrap();
    assert_eq!(cm.data.as_ref().unwrap()["theirs"], "y");
    assert_eq!(
        managers(&cm),
        [
            ("mgr".to_string(), "Apply".to_string()),
            ("other".to_string(), "Apply".to_string())
        ]
    );

    // With force, the value changes and ownership moves.
    let cm = cms
        .patch(
            "cfg",
            &PatchParams::apply("other").force(),
            &Patch::Apply(&other),
        )
        .await
        .unwrap();
    let data = cm.data.clone().unwrap();
    assert_eq!(data["shared"], "two");
    assert_eq!(data["mine"], "x", "fields of other managers stay");
    assert!(
        !data.contains_key("theirs"),
        "a field dropped from an apply by its only owner is removed"
    );
    assert!(
        fields_of(&cm, "other")
            .pointer("/f:data/f:shared")
            .is_some()
    );
    assert!(
        fields_of(&cm, "mgr").pointer("/f:data/f:shared").is_none(),
        "mgr lost data.shared"
    );
    assert!(fields_of(&cm, "mgr").pointer("/f:data/f:mine").is_some());

    // A manager dropping a field it alone owns removes it.
    let fewer = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "labels": {"owner": "mgr"}}, "data": {}});
    let cm = cms
        .patch("cfg", &PatchParams::apply("mgr"), &Patch::Apply(&fewer))
        .await
        .unwrap();
    let data = cm.data.unwrap_or_default();
    assert!(!data.contains_key("mine"), "data: {data:?}");
    assert_eq!(data.get("shared").map(String::as_str), Some("two"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_records_update_managers_and_conflicts_with_them() {
    let srv = krust_testkit::start().await;
    let deploys: Api<Deployment> = srv.api("default");
    let pp = PostParams {
        field_manager: Some("creator".into()),
        ..Default::default()
    };
    deploys.create(&pp, &deployment("web", 2)).await.unwrap();
    // spec.replicas is owned by the creator (an Update manager): applying another value conflicts.
    let applied = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}},
    });
    let s = status(
        deploys
            .patch("web", &PatchParams::apply("ci"), &Patch::Apply(&applied))
            .await,
    );
    assert_eq!(s.code, 409, "{s:?}");
    assert!(s.message.contains("creator"), "{}", s.message);
    assert!(s.message.contains(".spec.replicas"), "{}", s.message);

    let d = deploys
        .patch(
            "web",
            &PatchParams::apply("ci").force(),
            &Patch::Apply(&applied),
        )
        .await
        .unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(4));
    assert_eq!(d.metadata.generation, Some(2));
    // Containers merge by name: the sidecar, which ci does not mention, stays.
    let containers = &d
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers;
    assert_eq!(
        containers
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["app", "sidecar"]
    );
    let f = fields_of(&d, "ci");
    assert!(
        f.pointer("/f:spec/f:replicas").is_some(),
        "ci owns spec.replicas: {f}"
    );
    assert!(
        f.pointer("/f:spec/f:template/f:spec/f:containers/k:{\"name\":\"app\"}")
            .is_some(),
        "ci owns the app container by its key: {f}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_requires_a_field_manager() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});
    let s = status(
        cms.patch("a", &PatchParams::default(), &Patch::Apply(&body))
            .await,
    );
    assert_eq!(s.code, 422, "apply without a fieldManager: {s:?}");
    assert_eq!(s.reason, "Invalid");
    assert!(krust_testkit::status(cms.get("a").await).is_not_found());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_with_another_name_in_the_body_is_400() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});

    // On an existing object.
    let b = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"k": "v"}});
    cms.patch("b", &PatchParams::apply("mgr"), &Patch::Apply(&b))
        .await
        .unwrap();
    let s = status(
        cms.patch("b", &PatchParams::apply("mgr"), &Patch::Apply(&body))
            .await,
    );
    assert_eq!(s.code, 400, "{s:?}");
    assert_eq!(s.reason, "BadRequest");

    // Creating.
    let s = status(
        cms.patch("c", &PatchParams::apply("mgr"), &Patch::Apply(&body))
            .await,
    );
    assert_eq!(s.code, 400, "{s:?}");
    assert_eq!(s.reason, "BadRequest");
    assert!(
        s.message.contains("does not match the name on the URL"),
        "{}",
        s.message
    );
    assert!(
        status(cms.get("c").await).is_not_found(),
        "nothing is created"
    );
    assert!(
        status(cms.get("a").await).is_not_found(),
        "nothing is created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_conflict_lists_causes() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let body = |v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"x": v, "y": v}});
    cms.patch("cfg", &PatchParams::apply("mgr"), &Patch::Apply(body("1")))
        .await
        .unwrap();
    let s = status(
        cms.patch(
            "cfg",
            &PatchParams::apply("other"),
            &Patch::Apply(body("2")),
        )
        .await,
    );
    assert_eq!(s.code, 409);
    assert_eq!(s.reason, "Conflict");
    assert!(
        s.message.starts_with("Apply failed with 2 conflicts:"),
        "{}",
        s.message
    );
    let mut causes: Vec<(String, String, String)> = s
        .details
        .map(|d| d.causes)
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.reason, c.message, c.field))
        .collect();
    causes.sort();
    let cause = |f: &str| {
        (
            "FieldManagerConflict".to_string(),
            r#"conflict with "mgr""#.to_string(),
            f.to_string(),
        )
    };
    assert_eq!(causes, [cause(".data.x"), cause(".data.y")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_record_update_managers() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let pp = PostParams {
        field_manager: Some("creator".into()),
        ..Default::default()
    };
    let cm = cms
        .create(&pp, &krust_testkit::configmap("cm", &[], &[("a", "1")]))
        .await
        .unwrap();
    assert_eq!(
        managers(&cm),
        [("creator".to_string(), "Update".to_string())]
    );
    assert!(fields_of(&cm, "creator").pointer("/f:data/f:a").is_some());

    let patch = json!({"data": {"b": "2"}});
    let params = PatchParams {
        field_manager: Some("editor".into()),
        ..Default::default()
    };
    let cm = cms
        .patch("cm", &params, &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(
        managers(&cm),
        [
            ("creator".to_string(), "Update".to_string()),
            ("editor".to_string(), "Update".to_string())
        ]
    );
    assert!(fields_of(&cm, "editor").pointer("/f:data/f:b").is_some());
    assert!(fields_of(&cm, "editor").pointer("/f:data/f:a").is_none());
}

/// Owning a map (here, an empty `data` set on create) is not owning the keys others add
/// to it: structured-merge-diff reports only leaves and added or removed maps as changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_adding_a_key_to_a_map_another_manager_created_is_no_conflict() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let pp = PostParams {
        field_manager: Some("creator".into()),
        ..Default::default()
    };
    // `data: {}` is dropped as Go's omitempty drops it, so the creator owns no `f:data`;
    // either way, adding a key is no conflict.
    cms.create(&pp, &krust_testkit::configmap("cm", &[], &[]))
        .await
        .unwrap();

    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"k": "v"}});
    let cm = cms
        .patch("cm", &PatchParams::apply("mgr"), &Patch::Apply(&body))
        .await
        .unwrap();
    assert_eq!(cm.data.unwrap()["k"], "v");
}

/// Writes through `/status` and `/scale` are recorded with their subresource, apart from
/// the same manager's writes of the object itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_subresources_record_the_subresource() {
    let srv = krust_testkit::start().await;
    let deployments: Api<Deployment> = srv.api("default");
    let params = PostParams {
        field_manager: Some("tool".into()),
        ..Default::default()
    };
    deployments
        .create(&params, &deployment("web", 1))
        .await
        .unwrap();
    let as_tool = PatchParams {
        field_manager: Some("tool".into()),
        ..Default::default()
    };
    let status = json!({"status": {"observedGeneration": 1}});
    deployments
        .patch_status("web", &as_tool, &Patch::Merge(&status))
        .await
        .unwrap();
    let scale = json!({"spec": {"replicas": 3}});
    deployments
        .patch_scale("web", &as_tool, &Patch::Merge(&scale))
        .await
        .unwrap();
    let web = deployments.get("web").await.unwrap();
    let entry = |m: &str, s: &str| (m.to_string(), s.to_string());
    assert_eq!(
        entries(&web, |m| m.subresource.clone()),
        [
            entry("tool", ""),
            entry("tool", "scale"),
            entry("tool", "status")
        ]
    );
    let scaled = web
        .managed_fields()
        .iter()
        .find(|m| m.subresource.as_deref() == Some("scale"))
        .unwrap();
    let fields = serde_json::to_value(scaled.fields_v1.as_ref().unwrap()).unwrap();
    assert_eq!(fields, json!({"f:spec": {"f:replicas": {}}}));
}
