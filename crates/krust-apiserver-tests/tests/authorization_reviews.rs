//! The authorization.k8s.io/v1 reviews through kube-rs: a SubjectAccessReview answered by the
//! authorizer with RBAC's reason, a LocalSubjectAccessReview bound to its namespace, and the
//! validation errors Kubernetes gives.

use k8s_openapi::api::authorization::v1::{
    LocalSubjectAccessReview, SelfSubjectAccessReview, SubjectAccessReview,
};
use krust_testkit::status;
use kube::api::{Api, PostParams};
use serde_json::json;

fn review<K: k8s_openapi::serde::de::DeserializeOwned>(v: serde_json::Value) -> K {
    serde_json::from_value(v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_access_review_says_what_the_authorizer_says() {
    let srv = krust_testkit::start().await;
    let reviews: Api<SubjectAccessReview> = Api::all(srv.client.clone());
    let pp = PostParams::default();
    let admin = review(
        json!({"spec": {"user": "root", "groups": ["system:masters"],
        "resourceAttributes": {"verb": "delete", "resource": "nodes", "name": "n1"}}}),
    );
    let answer = reviews.create(&pp, &admin).await.unwrap().status.unwrap();
    assert!(answer.allowed);
    assert_eq!(
        answer.reason.as_deref(),
        Some(
            "RBAC: allowed by ClusterRoleBinding \"cluster-admin\" of ClusterRole \"cluster-admin\" to Group \"system:masters\""
        )
    );
    let node = review(
        json!({"spec": {"user": "system:node:n1", "groups": ["system:nodes"],
        "resourceAttributes": {"verb": "get", "resource": "nodes", "subresource": "proxy", "name": "n1"}}}),
    );
    let answer = reviews.create(&pp, &node).await.unwrap().status.unwrap();
    assert!(!answer.allowed);
    assert_eq!(answer.reason, None);
    let path = review(json!({"spec": {"groups": ["system:authenticated"],
        "nonResourceAttributes": {"verb": "get", "path": "/apis/apps/v1"}}}));
    assert!(
        reviews
            .create(&pp, &path)
            .await
            .unwrap()
            .status
            .unwrap()
            .allowed
    );

    let nobody =
        review(json!({"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}}));
    let s = status(reviews.create(&pp, &nobody).await);
    assert_eq!(s.code, 422);
    assert_eq!(
        s.message,
        "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \"\": at least one of user or group must be specified"
    );
    let neither: SubjectAccessReview = review(json!({"spec": {"user": "u"}}));
    let s = status(reviews.create(&pp, &neither).await);
    assert!(
        s.message.contains(
            "exactly one of nonResourceAttributes or resourceAttributes must be specified"
        ),
        "{}",
        s.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_review_stays_in_its_namespace_and_a_self_review_asks_for_the_caller() {
    let srv = krust_testkit::start().await;
    let pp = PostParams::default();
    let local: Api<LocalSubjectAccessReview> = Api::namespaced(srv.client.clone(), "krt-az-2");
    let here = review(
        json!({"metadata": {"namespace": "krt-az-2"}, "spec": {"user": "u",
        "resourceAttributes": {"namespace": "krt-az-2", "verb": "get", "resource": "pods"}}}),
    );
    let answer = local.create(&pp, &here).await.unwrap();
    assert_eq!(answer.metadata.namespace.as_deref(), Some("krt-az-2"));
    assert!(!answer.status.unwrap().allowed);
    let elsewhere = review(
        json!({"metadata": {"namespace": "krt-az-2"}, "spec": {"user": "u",
        "resourceAttributes": {"namespace": "other", "verb": "get", "resource": "pods"}}}),
    );
    let s = status(local.create(&pp, &elsewhere).await);
    assert_eq!(
        (s.code, s.message.as_str()),
        (
            400,
            "spec.resourceAttributes.namespace must match namespace: krt-az-2"
        )
    );
    let own: Api<SelfSubjectAccessReview> = Api::all(srv.client.clone());
    let mine =
        review(json!({"spec": {"resourceAttributes": {"verb": "create", "resource": "pods"}}}));
    assert!(
        own.create(&pp, &mine)
            .await
            .unwrap()
            .status
            .unwrap()
            .allowed
    );
}
