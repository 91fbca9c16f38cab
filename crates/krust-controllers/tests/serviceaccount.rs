//! The service account controller against an in-process API server.

use k8s_openapi::api::core::v1::ServiceAccount;
use krust_testkit::{eventually, namespace, spawn};
use kube::api::{Api, DeleteParams};
use kube::{Client, ResourceExt};
use std::time::Duration;

async fn default_account(client: &Client, ns: &str) -> ServiceAccount {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    eventually(
        Duration::from_secs(10),
        &format!("default service account in {ns}"),
        || async { api.get_opt("default").await.unwrap() },
    )
    .await
}

#[tokio::test]
async fn every_namespace_gets_a_default_service_account() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _ctl = spawn(
        "serviceaccount",
        krust_controllers::serviceaccount::run(client.clone()),
    );
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        default_account(&client, ns).await;
    }
    namespace(&client, "team-a").await;
    let sa = default_account(&client, "team-a").await;
    assert_eq!(sa.namespace().as_deref(), Some("team-a"));

    // Deleted: re-created (a new object).
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), "team-a");
    api.delete("default", &DeleteParams::default())
        .await
        .unwrap();
    let again = eventually(Duration::from_secs(10), "default re-created", || async {
        api.get_opt("default")
            .await
            .unwrap()
            .filter(|s| s.uid() != sa.uid())
    })
    .await;
    assert_eq!(again.name_any(), "default");
}
