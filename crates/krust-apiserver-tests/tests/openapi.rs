//! `/openapi/v2` over HTTPS: the protobuf form for kubectl's `Accept`, JSON for JSON, 406
//! for anything else, and ETag revalidation.

use http::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LAST_MODIFIED, VARY};
use http_body_util::BodyExt;
use kube::client::Body;

/// What kubectl 1.32 sends for `/openapi/v2`.
const KUBECTL_ACCEPT: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

async fn get(
    client: &kube::Client,
    headers: &[(http::HeaderName, &str)],
) -> (http::response::Parts, Vec<u8>) {
    let mut req = http::Request::get("/openapi/v2?timeout=32s");
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    let res = client
        .send(req.body(Body::empty()).unwrap())
        .await
        .expect("GET /openapi/v2");
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("reading the body").to_bytes();
    (parts, body.to_vec())
}

fn header(parts: &http::response::Parts, name: http::HeaderName) -> &str {
    parts
        .headers
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectls_accept_gets_the_protobuf_document() {
    let srv = krust_testkit::start().await;
    let (parts, body) = get(&srv.client, &[(ACCEPT, KUBECTL_ACCEPT)]).await;
    assert_eq!(parts.status, 200);
    assert_eq!(header(&parts, CONTENT_TYPE), PROTOBUF);
    assert_eq!(header(&parts, VARY), "Accept");
    assert!(header(&parts, LAST_MODIFIED).ends_with(" GMT"));
    // Document.swagger (field 1) = "2.0", first; the body is not JSON.
    assert!(body.starts_with(b"\x0a\x032.0"), "{:?}", &body[..16]);
    assert!(body.len() > 100_000, "{} bytes", body.len());
    for needle in [
        "io.k8s.api.apps.v1.Deployment",
        "x-kubernetes-group-version-kind",
        "x-kubernetes-patch-merge-key",
        "fieldValidation",
    ] {
        assert!(
            body.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} missing"
        );
    }

    // The newer spelling of the type, and a list that prefers it, get the same bytes.
    let (parts, again) = get(
        &srv.client,
        &[(
            ACCEPT,
            "application/json;q=0.5, application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
        )],
    )
    .await;
    assert_eq!(header(&parts, CONTENT_TYPE), PROTOBUF);
    assert_eq!(again, body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_and_wildcards_get_swagger_json_and_other_types_406() {
    let srv = krust_testkit::start().await;
    for accept in ["application/json", "*/*", "application/json, */*"] {
        let (parts, body) = get(&srv.client, &[(ACCEPT, accept)]).await;
        assert_eq!(parts.status, 200, "{accept}");
        assert_eq!(header(&parts, CONTENT_TYPE), "application/json", "{accept}");
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["swagger"], "2.0");
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(patch["parameters"][0]["in"], "body", "{accept}");
    }
    let (parts, _) = get(&srv.client, &[(ACCEPT, "application/yaml")]).await;
    assert_eq!(parts.status, 406);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matching_etag_gets_304_without_a_body() {
    let srv = krust_testkit::start().await;
    let (parts, _) = get(&srv.client, &[(ACCEPT, KUBECTL_ACCEPT)]).await;
    let etag = header(&parts, ETAG).to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let (parts, body) = get(
        &srv.client,
        &[(ACCEPT, KUBECTL_ACCEPT), (IF_NONE_MATCH, etag.as_str())],
    )
    .await;
    assert_eq!(parts.status, 304);
    assert!(body.is_empty());
    let (parts, body) = get(
        &srv.client,
        &[(ACCEPT, KUBECTL_ACCEPT), (IF_NONE_MATCH, "\"other\"")],
    )
    .await;
    assert_eq!(parts.status, 200);
    assert!(!body.is_empty());
}
