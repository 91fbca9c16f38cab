//! Error Statuses as clients see them: NotFound, AlreadyExists, Invalid, and writes into
//! a missing namespace.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use krust_testkit::{configmap, deployment, status};
use kube::api::{Api, PostParams};
use kube::core::response::StatusSummary;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_missing_is_404_with_details() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let s = status(cms.get("nope").await);
    assert_eq!(s.code, 404);
    assert_eq!(s.status, Some(StatusSummary::Failure));
    assert!(s.is_not_found());
    assert_eq!(s.reason, "NotFound");
    assert_eq!(s.message, r#"configmaps "nope" not found"#);
    let d = s.details.expect("details");
    assert_eq!(d.name, "nope");
    assert_eq!(d.kind, "configmaps");
    assert_eq!(d.group, "");

    let deploys: Api<Deployment> = srv.api("default");
    let s = status(deploys.get("nope").await);
    assert_eq!(s.code, 404);
    assert_eq!(s.message, r#"deployments.apps "nope" not found"#);
    let d = s.details.expect("details");
    assert_eq!(
        (d.name.as_str(), d.group.as_str(), d.kind.as_str()),
        ("nope", "apps", "deployments")
    );
}

/// Clients compare Status bodies as text: the members in Go's order, a newline at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_body_is_the_text_kube_apiserver_writes() {
    let srv = krust_testkit::start().await;
    let req = http::Request::get("/api/v1/namespaces/default/pods/nope")
        .body(Vec::new())
        .unwrap();
    let answer = srv.client.send(req.map(Into::into)).await.unwrap();
    assert_eq!(answer.status(), 404);
    let body = http_body_util::BodyExt::collect(answer.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        concat!(
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","#,
            r#""message":"pods \"nope\" not found","reason":"NotFound","#,
            r#""details":{"name":"nope","kind":"pods"},"code":404}"#,
            "\n"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_duplicate_is_409_already_exists() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    cms.create(&PostParams::default(), &configmap("dup", &[], &[]))
        .await
        .unwrap();
    let s = status(
        cms.create(&PostParams::default(), &configmap("dup", &[], &[]))
            .await,
    );
    assert_eq!(s.code, 409);
    assert_eq!(s.reason, "AlreadyExists");
    assert_eq!(s.message, r#"configmaps "dup" already exists"#);
    let d = s.details.expect("details");
    assert_eq!(d.name, "dup");
    assert_eq!(d.kind, "configmaps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_name_is_422_with_a_cause_on_metadata_name() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let s = status(
        cms.create(&PostParams::default(), &configmap("Bad_Name", &[], &[]))
            .await,
    );
    assert_eq!(s.code, 422);
    assert_eq!(s.reason, "Invalid");
    assert!(
        s.message.starts_with(
            r#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name""#
        ),
        "{}",
        s.message
    );
    let d = s.details.expect("details");
    assert_eq!(d.name, "Bad_Name");
    assert_eq!(d.kind, "ConfigMap");
    let cause = d
        .causes
        .iter()
        .find(|c| c.field == "metadata.name")
        .unwrap_or_else(|| panic!("a cause on metadata.name: {:?}", d.causes));
    assert_eq!(cause.reason, "FieldValueInvalid");
    assert!(cause.message.contains("RFC 1123"), "{}", cause.message);

    // A Deployment with a selector that does not match its template: 422 on the selector.
    let deploys: Api<Deployment> = srv.api("default");
    let mut d = deployment("web", 1);
    d.spec.as_mut().unwrap().selector.match_labels =
        Some([("app".to_string(), "other".to_string())].into());
    let s = status(deploys.create(&PostParams::default(), &d).await);
    assert_eq!(s.code, 422);
    assert_eq!(s.reason, "Invalid");
    let causes = s.details.map(|d| d.causes).unwrap_or_default();
    assert!(
        causes
            .iter()
            .any(|c| c.field == "spec.template.metadata.labels"),
        "causes: {causes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_in_a_missing_namespace_is_404() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("x");
    let s = status(
        cms.create(&PostParams::default(), &configmap("a", &[], &[]))
            .await,
    );
    assert_eq!(s.code, 404);
    assert_eq!(s.reason, "NotFound");
    assert_eq!(s.message, r#"namespaces "x" not found"#);
    let d = s.details.expect("details");
    assert_eq!(d.name, "x");
    assert_eq!(d.kind, "namespaces");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_namespace_mismatch_is_400() {
    let srv = krust_testkit::start().await;
    srv.namespace("other").await;
    let cms: Api<ConfigMap> = srv.api("default");
    let mut cm = configmap("a", &[], &[]);
    cm.metadata.namespace = Some("other".into());
    let s = status(cms.create(&PostParams::default(), &cm).await);
    assert_eq!(s.code, 400, "{s:?}");
    assert_eq!(s.reason, "BadRequest");
}

/// DELETE answers the deleted object only for the kinds whose Kubernetes storage returns it
/// (pods, services, namespaces, service accounts); other kinds get a success Status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_answers_a_success_status_for_kinds_that_do_not_return_the_object() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let cm = cms
        .create(
            &Default::default(),
            &krust_testkit::configmap("gone", &[], &[]),
        )
        .await
        .unwrap();
    let req = http::Request::delete("/api/v1/namespaces/default/configmaps/gone")
        .body(Vec::new())
        .unwrap();
    let text = srv.client.request_text(req).await.unwrap();
    let uid = cm.metadata.uid.unwrap();
    assert_eq!(
        text,
        format!(
            "{{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{{}},\"status\":\"Success\",\"details\":{{\"name\":\"gone\",\"kind\":\"configmaps\",\"uid\":\"{uid}\"}}}}\n"
        )
    );
    let pods: Api<k8s_openapi::api::core::v1::Pod> = srv.api("default");
    pods.create(&Default::default(), &krust_testkit::pod("kept"))
        .await
        .unwrap();
    let deleted = pods.delete("kept", &Default::default()).await.unwrap();
    assert!(deleted.left().is_some(), "a pod's DELETE answers the pod");
}
