//! The fixed documents beside the resource paths: `/version`, `/api`, `/apis`, as
//! kube-apiserver serves them (with or without a trailing slash).

use serde_json::Value;

async fn get(srv: &krust_testkit::TestServer, path: &str) -> Value {
    let req = http::Request::get(path).body(Vec::new()).unwrap();
    let text = srv
        .client
        .request_text(req)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_api_and_apis_are_served_with_a_trailing_slash_too() {
    let srv = krust_testkit::start().await;
    for path in ["/version", "/api", "/apis"] {
        let plain = get(&srv, path).await;
        let slashed = get(&srv, &format!("{path}/")).await;
        assert_eq!(plain, slashed, "{path} and {path}/");
    }
    assert_eq!(get(&srv, "/api/").await["kind"], "APIVersions");
    assert_eq!(get(&srv, "/apis/").await["kind"], "APIGroupList");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_reports_a_commit_id() {
    let srv = krust_testkit::start().await;
    let version = get(&srv, "/version/").await;
    let commit = version["gitCommit"].as_str().unwrap();
    assert_eq!(commit.len(), 40, "{commit}");
    assert!(commit.bytes().all(|b| b.is_ascii_hexdigit()), "{commit}");
    assert_eq!(version["minor"], "32");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregated_discovery_answers_the_version_the_client_asks_for() {
    let srv = krust_testkit::start().await;
    let ask = |accept: &'static str| {
        let srv = &srv;
        async move {
            let req = http::Request::get("/apis")
                .header("Accept", accept)
                .body(Vec::new())
                .unwrap();
            let text = srv.client.request_text(req).await.unwrap();
            serde_json::from_str::<Value>(&text).unwrap()
        }
    };
    // kubectl 1.27–1.29 ask for v2beta1, 1.30 and later for v2 first.
    let beta = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    assert_eq!(ask(beta).await["apiVersion"], "apidiscovery.k8s.io/v2beta1");
    let both = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    let v2 = ask(both).await;
    assert_eq!(v2["apiVersion"], "apidiscovery.k8s.io/v2");
    assert_eq!(ask(beta).await["items"], v2["items"]);
    assert_eq!(ask("application/json").await["kind"], "APIGroupList");
}
