//! Create, get, list with selectors, replace, patch and delete through typed kube-rs APIs,
//! plus generation, the status subresource and the scale subresource.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use krust_testkit::{configmap, deployment, names, pod, status};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_create_get_replace_delete() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");

    let created = cms
        .create(
            &PostParams::default(),
            &configmap("one", &[("a", "1")], &[("k", "v")]),
        )
        .await
        .unwrap();
    assert_eq!(created.name_any(), "one");
    assert_eq!(created.namespace().as_deref(), Some("default"));
    assert!(created.uid().is_some_and(|u| !u.is_empty()), "uid is set");
    assert!(
        created.creation_timestamp().is_some(),
        "creationTimestamp is set"
    );
    let rv1 = created.resource_version().expect("resourceVersion is set");

    let got = cms.get("one").await.unwrap();
    assert_eq!(got.data, created.data);
    assert_eq!(got.resource_version().as_deref(), Some(rv1.as_str()));
    assert_eq!(got.uid(), created.uid());

    // Replace with the current resourceVersion succeeds and moves it on.
    let mut next = got.clone();
    next.data.as_mut().unwrap().insert("k".into(), "v2".into());
    let replaced = cms
        .replace("one", &PostParams::default(), &next)
        .await
        .unwrap();
    assert_eq!(replaced.data.as_ref().unwrap()["k"], "v2");
    let rv2 = replaced.resource_version().unwrap();
    assert_ne!(rv1, rv2);
    assert!(rv2.parse::<i64>().unwrap() > rv1.parse::<i64>().unwrap());
    assert_eq!(replaced.uid(), created.uid(), "uid survives a replace");
    assert_eq!(replaced.creation_timestamp(), created.creation_timestamp());

    // Replace with the stale resourceVersion: 409 Conflict.
    let mut stale = got.clone();
    stale.data.as_mut().unwrap().insert("k".into(), "v3".into());
    let s = status(cms.replace("one", &PostParams::default(), &stale).await);
    assert_eq!(s.code, 409);
    assert_eq!(s.reason, "Conflict");
    assert!(
        s.message.contains("the object has been modified"),
        "message: {}",
        s.message
    );
    assert_eq!(
        cms.get("one").await.unwrap().data.unwrap()["k"],
        "v2",
        "a conflicting write changes nothing"
    );

    // Delete, then it is gone.
    cms.delete("one", &DeleteParams::default()).await.unwrap();
    let s = status(cms.get("one").await);
    assert_eq!(s.code, 404);
    assert!(
        cms.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_with_label_and_field_selectors() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let pp = PostParams::default();
    cms.create(
        &pp,
        &configmap("a", &[("env", "prod"), ("tier", "web")], &[]),
    )
    .await
    .unwrap();
    cms.create(&pp, &configmap("b", &[("env", "dev"), ("tier", "db")], &[]))
        .await
        .unwrap();
    cms.create(&pp, &configmap("c", &[("env", "staging")], &[]))
        .await
        .unwrap();
    cms.create(&pp, &configmap("d", &[], &[])).await.unwrap();

    let cases: &[(&str, &[&str])] = &[
        ("env=prod", &["a"]),
        ("env==prod", &["a"]),
        ("env!=prod", &["b", "c", "d"]),
        ("env in (prod,dev)", &["a", "b"]),
        ("env notin (prod,dev)", &["c", "d"]),
        ("tier", &["a", "b"]),
        ("!tier", &["c", "d"]),
        ("env=prod,tier=web", &["a"]),
        ("env=prod,tier=db", &[]),
        ("env in (dev,staging),!tier", &["c"]),
    ];
    for (selector, want) in cases {
        let list = cms
            .list(&ListParams::default().labels(selector))
            .await
            .unwrap();
        assert_eq!(names(&list.items), *want, "labelSelector {selector:?}");
    }

    let fields: &[(&str, &[&str])] = &[
        ("metadata.name=b", &["b"]),
        ("metadata.name==b", &["b"]),
        ("metadata.name!=b", &["a", "c", "d"]),
        ("metadata.namespace=default", &["a", "b", "c", "d"]),
        ("metadata.namespace=other", &[]),
    ];
    for (selector, want) in fields {
        let list = cms
            .list(&ListParams::default().fields(selector))
            .await
            .unwrap();
        assert_eq!(names(&list.items), *want, "fieldSelector {selector:?}");
    }

    // Both kinds together.
    let list = cms
        .list(
            &ListParams::default()
                .labels("env")
                .fields("metadata.name!=a"),
        )
        .await
        .unwrap();
    assert_eq!(names(&list.items), ["b", "c"]);

    // A field selector on an unsupported field is refused.
    let s = status(cms.list(&ListParams::default().fields("data.x=1")).await);
    assert_eq!(s.code, 400, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_patches_merge_json_strategic() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    cms.create(
        &PostParams::default(),
        &configmap("p", &[("keep", "1")], &[("a", "1"), ("b", "2")]),
    )
    .await
    .unwrap();
    let pp = PatchParams::default();

    // Merge: add a label, change a key, delete a key with null.
    let patch = json!({"metadata": {"labels": {"added": "yes"}}, "data": {"a": "10", "b": null}});
    let cm = cms.patch("p", &pp, &Patch::Merge(&patch)).await.unwrap();
    assert_eq!(cm.labels().get("keep").map(String::as_str), Some("1"));
    assert_eq!(cm.labels().get("added").map(String::as_str), Some("yes"));
    let data = cm.data.unwrap();
    assert_eq!(data.get("a").map(String::as_str), Some("10"));
    assert!(!data.contains_key("b"));

    // JSON patch: test, add, replace, remove.
    let ops = json!([
        {"op": "test", "path": "/data/a", "value": "10"},
        {"op": "add", "path": "/data/c", "value": "3"},
        {"op": "replace", "path": "/data/a", "value": "11"},
        {"op": "remove", "path": "/metadata/labels/keep"},
    ]);
    let cm = cms
        .patch(
            "p",
            &pp,
            &Patch::<()>::Json(serde_json::from_value(ops).unwrap()),
        )
        .await
        .unwrap();
    let data = cm.data.clone().unwrap();
    assert_eq!(data.get("a").map(String::as_str), Some("11"));
    assert_eq!(data.get("c").map(String::as_str), Some("3"));
    assert!(!cm.labels().contains_key("keep"));

    // A failing JSON patch `test` op changes nothing and is refused.
    let ops = json!([{"op": "test", "path": "/data/a", "value": "nope"}, {"op": "add", "path": "/data/z", "value": "x"}]);
    let s = status(
        cms.patch(
            "p",
            &pp,
            &Patch::<()>::Json(serde_json::from_value(ops).unwrap()),
        )
        .await,
    );
    assert!(
        s.code == 422 || s.code == 409 || s.code == 500,
        "failed test op: {s:?}"
    );
    assert!(!cms.get("p").await.unwrap().data.unwrap().contains_key("z"));

    // Strategic merge on a ConfigMap (maps only): like a merge patch.
    let patch = json!({"data": {"d": "4", "c": null}});
    let cm = cms
        .patch("p", &pp, &Patch::Strategic(&patch))
        .await
        .unwrap();
    let data = cm.data.unwrap();
    assert_eq!(data.get("d").map(String::as_str), Some("4"));
    assert!(!data.contains_key("c"));
    assert_eq!(data.get("a").map(String::as_str), Some("11"));

    // A patch may not rename the object.
    let s = status(
        cms.patch("p", &pp, &Patch::Merge(json!({"metadata": {"name": "q"}})))
            .await,
    );
    assert_eq!(s.code, 400, "{s:?}");
    assert_eq!(s.reason, "BadRequest");

    // A patch carrying a stale resourceVersion conflicts.
    let patch = json!({"metadata": {"resourceVersion": "1"}, "data": {"e": "5"}});
    let s = status(cms.patch("p", &pp, &Patch::Merge(&patch)).await);
    assert_eq!(s.code, 409, "{s:?}");
    assert_eq!(s.reason, "Conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_strategic_merge_by_container_name() {
    let srv = krust_testkit::start().await;
    let pods: Api<Pod> = srv.api("default");
    let created = pods
        .create(&PostParams::default(), &pod("web"))
        .await
        .unwrap();
    assert_eq!(created.spec.as_ref().unwrap().containers.len(), 2);

    let pp = PatchParams::default();

    // Strategic: containers merge by name (the image is the one mutable container field).
    let patch = json!({"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.37"}]}});
    let p = pods
        .patch("web", &pp, &Patch::Strategic(&patch))
        .await
        .unwrap();
    let containers = p.spec.unwrap().containers;
    let names: Vec<_> = containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["app", "sidecar"]);
    assert_eq!(containers[0].image.as_deref(), Some("nginx:1.27"));
    assert_eq!(containers[1].image.as_deref(), Some("busybox:1.37"));
    assert_eq!(
        containers[1].command.as_deref(),
        Some(&["sleep".to_string(), "3600".to_string()][..])
    );
    let env = containers[0].env.as_ref().unwrap();
    assert_eq!(env.len(), 1, "fields the patch does not mention stay");

    // Merge patch: lists are replaced whole, which here drops a container, and pod
    // containers are immutable: 422.
    let patch = json!({"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}});
    let s = status(pods.patch("web", &pp, &Patch::Merge(&patch)).await);
    assert_eq!(s.code, 422, "{s:?}");
    assert_eq!(s.reason, "Invalid");

    // Strategic on a set of primitives: finalizers merge, and
    // `$deleteFromPrimitiveList` removes one.
    let add = |f: &str| json!({"metadata": {"finalizers": [f]}});
    pods.patch("web", &pp, &Patch::Strategic(add("example.com/a")))
        .await
        .unwrap();
    let p = pods
        .patch("web", &pp, &Patch::Strategic(add("example.com/b")))
        .await
        .unwrap();
    let mut finalizers = p.finalizers().to_vec();
    finalizers.sort();
    assert_eq!(finalizers, ["example.com/a", "example.com/b"]);
    let del = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}});
    let p = pods
        .patch("web", &pp, &Patch::Strategic(&del))
        .await
        .unwrap();
    assert_eq!(p.finalizers(), ["example.com/b"]);
    // A merge patch replaces the list whole.
    let p = pods
        .patch(
            "web",
            &pp,
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    assert!(p.finalizers().is_empty());

    // JSON patch on an allowed field: the image.
    let ops = json!([{"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.28"}]);
    let p = pods
        .patch(
            "web",
            &pp,
            &Patch::<()>::Json(serde_json::from_value(ops).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(
        p.spec.unwrap().containers[0].image.as_deref(),
        Some("nginx:1.28")
    );

    pods.delete("web", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_generation_bumps_on_spec_change_only() {
    let srv = krust_testkit::start().await;
    let deploys: Api<Deployment> = srv.api("default");
    let d = deploys
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));

    // Metadata-only change: same generation.
    let d = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    assert_eq!(d.labels().get("x").map(String::as_str), Some("y"));

    // Spec change: next generation.
    let d = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(2));

    // A replace that changes nothing in spec keeps it; one that changes it bumps it.
    let mut same = deploys.get("web").await.unwrap();
    same.annotations_mut().insert("note".into(), "hi".into());
    let d = deploys
        .replace("web", &PostParams::default(), &same)
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(2));
    let mut changed = d.clone();
    changed
        .spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .containers[0]
        .image = Some("nginx:1.28".into());
    let d = deploys
        .replace("web", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(3));

    // Strategic merge on containers by name.
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.37"}]}}}});
    let d = deploys
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap();
    let containers = d
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers
        .clone();
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[0].image.as_deref(), Some("nginx:1.28"));
    assert_eq!(containers[1].image.as_deref(), Some("busybox:1.37"));
    assert_eq!(d.metadata.generation, Some(4));

    // Strategic on a nested list: env merges by name, `$patch: delete` removes by name.
    let env = |e: serde_json::Value| json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "env": e}]}}}});
    deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(env(json!([{"name": "A", "value": "1"}]))),
        )
        .await
        .unwrap();
    deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(env(json!([{"name": "B", "value": "2"}]))),
        )
        .await
        .unwrap();
    let d = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(env(
                json!([{"name": "A", "$patch": "delete"}, {"name": "C", "value": "3"}]),
            )),
        )
        .await
        .unwrap();
    let containers = d
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers
        .clone();
    let env: Vec<_> = containers[0]
        .env
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| (e.name.as_str(), e.value.as_deref()))
        .collect();
    let mut env = env;
    env.sort();
    assert_eq!(env, [("B", Some("2")), ("C", Some("3"))]);
    assert_eq!(containers.len(), 2);
    assert_eq!(d.metadata.generation, Some(7));

    // A client cannot set generation.
    let d = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"generation": 42}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_status_subresource_splits_spec_and_status() {
    let srv = krust_testkit::start().await;
    let deploys: Api<Deployment> = srv.api("default");

    // Status given on create is dropped.
    let mut d = deployment("web", 2);
    d.status = Some(serde_json::from_value(json!({"replicas": 9})).unwrap());
    let d = deploys.create(&PostParams::default(), &d).await.unwrap();
    assert!(
        d.status.as_ref().and_then(|s| s.replicas).is_none(),
        "status on create is ignored: {:?}",
        d.status
    );

    // replace_status: status changes, the spec in the body is ignored.
    let mut body = deploys.get_status("web").await.unwrap();
    body.spec.as_mut().unwrap().replicas = Some(7);
    body.status = Some(
        serde_json::from_value(json!({"replicas": 2, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 2, "observedGeneration": 1}))
            .unwrap(),
    );
    let d = deploys
        .replace_status("web", &PostParams::default(), &body)
        .await
        .unwrap();
    let st = d.status.clone().unwrap();
    assert_eq!(st.replicas, Some(2));
    assert_eq!(st.ready_replicas, Some(1));
    assert_eq!(st.observed_generation, Some(1));
    assert_eq!(
        d.spec.as_ref().unwrap().replicas,
        Some(2),
        "spec is not written through /status"
    );
    assert_eq!(d.metadata.generation, Some(1));

    // patch_status: only status.
    let patch =
        json!({"spec": {"replicas": 5}, "status": {"readyReplicas": 2, "availableReplicas": 2}});
    let d = deploys
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let st = d.status.clone().unwrap();
    assert_eq!(st.ready_replicas, Some(2));
    assert_eq!(st.available_replicas, Some(2));
    assert_eq!(st.replicas, Some(2));
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2));
    assert_eq!(
        deploys.get("web").await.unwrap().spec.unwrap().replicas,
        Some(2)
    );

    // A main-resource write ignores status.
    let patch = json!({"spec": {"replicas": 3}, "status": {"readyReplicas": 0, "replicas": 99}});
    let d = deploys
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(3));
    let st = d.status.clone().unwrap();
    assert_eq!(
        st.replicas,
        Some(2),
        "status is not written through the main resource"
    );
    assert_eq!(st.ready_replicas, Some(2));
    let mut body = d.clone();
    body.status.as_mut().unwrap().replicas = Some(50);
    let d = deploys
        .replace("web", &PostParams::default(), &body)
        .await
        .unwrap();
    assert_eq!(d.status.unwrap().replicas, Some(2));

    // A status write with a stale resourceVersion conflicts.
    let mut stale = body.clone();
    stale.metadata.resource_version = Some("1".into());
    let s = status(
        deploys
            .replace_status("web", &PostParams::default(), &stale)
            .await,
    );
    assert_eq!(s.code, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_scale_subresource() {
    let srv = krust_testkit::start().await;
    let deploys: Api<Deployment> = srv.api("default");
    deploys
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .unwrap();

    let scale = deploys.get_scale("web").await.unwrap();
    assert_eq!(scale.metadata.name.as_deref(), Some("web"));
    assert_eq!(scale.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(scale.spec.as_ref().unwrap().replicas, Some(2));
    assert_eq!(
        scale.status.as_ref().unwrap().selector.as_deref(),
        Some("app=web")
    );
    let rv = scale.metadata.resource_version.clone().unwrap();
    assert_eq!(
        deploys.get("web").await.unwrap().resource_version(),
        Some(rv)
    );

    let scale = deploys
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(scale.spec.as_ref().unwrap().replicas, Some(5));
    let d = deploys.get("web").await.unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(5));
    assert_eq!(
        d.metadata.generation,
        Some(2),
        "a scale changes the spec, so the generation"
    );
    assert_eq!(scale.metadata.resource_version, d.metadata.resource_version);

    // replace_scale with the current resourceVersion, then with a stale one.
    let mut scale = deploys.get_scale("web").await.unwrap();
    let stale = scale.clone();
    scale.spec.as_mut().unwrap().replicas = Some(1);
    let scale = deploys
        .replace_scale("web", &PostParams::default(), &scale)
        .await
        .unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    let s = status(
        deploys
            .replace_scale("web", &PostParams::default(), &stale)
            .await,
    );
    assert_eq!(s.code, 409);

    // Negative replicas: 422.
    let s = status(
        deploys
            .patch_scale(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": -1}})),
            )
            .await,
    );
    assert_eq!(s.code, 422);
    assert_eq!(
        deploys.get("web").await.unwrap().spec.unwrap().replicas,
        Some(1)
    );

    // The scale of a missing deployment: 404.
    let s = status(deploys.get_scale("nope").await);
    assert_eq!(s.code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_answers_a_success_status_and_delete_collection_by_label() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let pp = PostParams::default();
    for (n, team) in [("a", "x"), ("b", "x"), ("c", "y")] {
        cms.create(&pp, &configmap(n, &[("team", team)], &[]))
            .await
            .unwrap();
    }
    let deleted = cms.delete("a", &DeleteParams::default()).await.unwrap();
    let done = deleted
        .right()
        .expect("a ConfigMap is deleted at once and a Status answered");
    assert_eq!(done.details.unwrap().name, "a");

    cms.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("team=x"),
    )
    .await
    .unwrap();
    assert_eq!(
        names(&cms.list(&ListParams::default()).await.unwrap().items),
        ["c"]
    );

    let s = status(cms.delete("a", &DeleteParams::default()).await);
    assert_eq!(s.code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_status_subresource_splits_spec_and_status() {
    let srv = krust_testkit::start().await;
    let pods: Api<Pod> = srv.api("default");
    pods.create(&PostParams::default(), &pod("web"))
        .await
        .unwrap();
    let pp = PatchParams::default();

    // Through /status: status changes, a spec change in the same patch does not.
    let patch = json!({
        "spec": {"activeDeadlineSeconds": 30},
        "status": {"phase": "Running", "podIP": "10.42.0.7", "podIPs": [{"ip": "10.42.0.7"}]},
    });
    let p = pods
        .patch_status("web", &pp, &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(p.status.as_ref().unwrap().phase.as_deref(), Some("Running"));
    assert_eq!(
        p.status.as_ref().unwrap().pod_ip.as_deref(),
        Some("10.42.0.7")
    );
    assert_eq!(p.spec.as_ref().unwrap().active_deadline_seconds, None);
    let got = pods.get_status("web").await.unwrap();
    assert_eq!(got.status.unwrap().phase.as_deref(), Some("Running"));

    // Through the main resource: the spec change lands, the status change does not.
    let patch = json!({"spec": {"activeDeadlineSeconds": 30}, "status": {"phase": "Failed"}});
    let p = pods.patch("web", &pp, &Patch::Merge(&patch)).await.unwrap();
    assert_eq!(p.spec.as_ref().unwrap().active_deadline_seconds, Some(30));
    assert_eq!(p.status.as_ref().unwrap().phase.as_deref(), Some("Running"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_new_in_a_terminating_namespace() {
    use k8s_openapi::api::core::v1::Namespace;
    let srv = krust_testkit::start().await;
    let namespaces: Api<Namespace> = Api::all(srv.client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "going"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let maps: Api<ConfigMap> = srv.api("going");
    maps.create(&PostParams::default(), &configmap("before", &[], &[]))
        .await
        .unwrap();
    // No namespace controller runs here: the `kubernetes` finalizer keeps it terminating.
    namespaces
        .delete("going", &DeleteParams::default())
        .await
        .unwrap();
    let s = status(
        maps.create(&PostParams::default(), &configmap("after", &[], &[]))
            .await,
    );
    assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"), "{s:?}");
    assert_eq!(
        s.message,
        "configmaps \"after\" is forbidden: unable to create new content in namespace going because it is being terminated"
    );
    let s = status(
        srv.api::<ConfigMap>("nowhere")
            .create(&PostParams::default(), &configmap("x", &[], &[]))
            .await,
    );
    assert_eq!(s.code, 404, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_of_subdomain_kinds_may_be_253_characters_and_data_keys_are_checked() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let long = "a".repeat(64);
    cms.create(
        &PostParams::default(),
        &krust_testkit::configmap(&long, &[], &[]),
    )
    .await
    .expect("a 64-character name");
    for key in ["", "a/b", "..", "a b"] {
        let s = krust_testkit::status(
            cms.create(
                &PostParams::default(),
                &krust_testkit::configmap("keys", &[], &[(key, "v")]),
            )
            .await,
        );
        assert_eq!(s.code, 422, "{key:?}");
        let causes = s.details.unwrap().causes;
        assert_eq!(causes[0].field, format!("data[{key}]"));
    }
}
