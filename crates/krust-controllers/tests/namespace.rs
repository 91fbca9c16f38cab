//! The namespace controller against an in-process API server: deleting a namespace empties
//! it, then the namespace goes.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use krust_testkit::{create, eventually, namespace, pod_json, spawn};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::time::Duration;

async fn namespace_gone(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    eventually(
        Duration::from_secs(15),
        &format!("namespace {name} deleted"),
        || async { api.get_opt(name).await.unwrap().is_none().then_some(()) },
    )
    .await
}

#[tokio::test]
async fn deleting_a_namespace_empties_and_removes_it() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _ctl = spawn(
        "namespace",
        krust_controllers::namespace::run(client.clone()),
    );
    namespace(&client, "doomed").await;
    namespace(&client, "kept").await;
    for ns in ["doomed", "kept"] {
        let _: ConfigMap = create(&client, ns, json!({"metadata": {"name": "cm"}})).await;
        let _: Secret = create(&client, ns, json!({"metadata": {"name": "s"}})).await;
        let _: Pod = create(&client, ns, pod_json("p", json!({"app": "x"}), None)).await;
        let _: Service = create(
            &client,
            ns,
            json!({"metadata": {"name": "svc"}, "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}),
        )
        .await;
        let _: Deployment = create(
            &client,
            ns,
            json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "x"}},
                "template": {"metadata": {"labels": {"app": "x"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
        )
        .await;
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    namespace_gone(&client, "doomed").await;

    // Nothing of it is left; the other namespace is untouched.
    let cms: Api<ConfigMap> = Api::all(client.clone());
    let left: Vec<String> = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|c| c.namespace().as_deref() == Some("doomed"))
        .map(|c| c.name_any())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    for ns in ["doomed", "kept"] {
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
        let n = pods.list(&ListParams::default()).await.unwrap().items.len()
            + deployments
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len();
        assert_eq!(n, if ns == "kept" { 2 } else { 0 }, "in {ns}");
    }
}

#[tokio::test]
async fn a_namespace_waits_for_finalizers_and_says_why() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _ctl = spawn(
        "namespace",
        krust_controllers::namespace::run(client.clone()),
    );
    namespace(&client, "held").await;
    let _: ConfigMap = create(
        &client,
        "held",
        json!({"metadata": {"name": "cm", "finalizers": ["example.com/hold"]}}),
    )
    .await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete("held", &DeleteParams::default())
        .await
        .unwrap();

    let ns = eventually(
        Duration::from_secs(10),
        "conditions saying what remains",
        || async {
            let ns = namespaces.get("held").await.unwrap();
            let conditions = ns.status.as_ref()?.conditions.clone()?;
            conditions
                .iter()
                .any(|c| c.type_ == "NamespaceFinalizersRemaining" && c.status == "True")
                .then_some(ns)
        },
    )
    .await;
    let status = ns.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Terminating"));
    let by_type = |t: &str| {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == t)
            .cloned()
            .unwrap()
    };
    let remaining = by_type("NamespaceContentRemaining");
    assert_eq!(remaining.status, "True");
    assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
    assert_eq!(
        remaining.message.as_deref(),
        Some("Some resources are remaining: configmaps has 1 resource instances")
    );
    assert_eq!(
        by_type("NamespaceFinalizersRemaining").message.as_deref(),
        Some(
            "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
        )
    );
    assert_eq!(by_type("NamespaceDeletionContentFailure").status, "False");
    assert_eq!(
        ns.spec.unwrap().finalizers.unwrap(),
        vec!["kubernetes".to_string()]
    );

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "held");
    cms.patch(
        "cm",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    namespace_gone(&client, "held").await;
}

/// What a user sees: `kubectl delete namespace` waits for the namespace to go, and returns.
#[tokio::test]
async fn kubectl_delete_namespace_finishes() {
    if std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("kubectl not found; skipped");
        return;
    }
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _ctl = spawn(
        "namespace",
        krust_controllers::namespace::run(client.clone()),
    );
    namespace(&client, "tutorial").await;
    let _: ConfigMap = create(&client, "tutorial", json!({"metadata": {"name": "cm"}})).await;
    let cache = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&server.running.kubeconfig)
        .arg("--cache-dir")
        .arg(cache.path())
        .args(["delete", "namespace", "tutorial", "--timeout=20s"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "namespace \"tutorial\" deleted");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    assert!(namespaces.get_opt("tutorial").await.unwrap().is_none());
}
