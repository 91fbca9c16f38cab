//! Go clients' protobuf over HTTPS: DeleteOptions and events.k8s.io Event bodies, and
//! answers in protobuf to clients that accept nothing else.

use http::{Request, StatusCode, header};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use krust_api::protobuf;
use kube::api::{Api, PostParams};
use kube::client::Body;
use serde_json::{Value, json};

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
/// What client-go sends by default: protobuf preferred, JSON accepted.
const CLIENT_GO_ACCEPT: &str = "application/vnd.kubernetes.protobuf,application/json";

/// Sends one request; returns the status, the Content-Type and the body.
async fn send(
    client: &kube::Client,
    method: &str,
    uri: &str,
    accept: &str,
    body: Option<Vec<u8>>,
) -> (StatusCode, String, Vec<u8>) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::ACCEPT, accept);
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, PROTOBUF);
    }
    let req = req.body(Body::from(body.unwrap_or_default())).unwrap();
    let resp = client.send(req).await.expect("sending the request");
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = resp.into_body().collect_bytes().await.unwrap().to_vec();
    (status, content_type, bytes)
}

fn field(number: u32, bytes: &[u8]) -> Vec<u8> {
    assert!(bytes.len() < 128 && number < 16);
    [
        vec![(number << 3 | 2) as u8, bytes.len() as u8],
        bytes.to_vec(),
    ]
    .concat()
}

/// client-go's `DeleteOptions{GracePeriodSeconds: &0, Preconditions: {UID: &uid},
/// PropagationPolicy: &Background}` as gogo marshals it, in the envelope client-go writes.
fn delete_options(api_version: &str, uid: &str) -> Vec<u8> {
    let type_meta = [field(1, api_version.as_bytes()), field(2, b"DeleteOptions")].concat();
    let raw = [
        vec![1 << 3, 0],
        field(2, &field(1, uid.as_bytes())),
        field(4, b"Background"),
    ]
    .concat();
    [
        protobuf::MAGIC.to_vec(),
        field(1, &type_meta),
        field(2, &raw),
        field(3, b""),
        field(4, b""),
    ]
    .concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protobuf_delete_options_body_is_honoured() {
    let server = krust_testkit::start().await;
    server.namespace("pb").await;
    let api: Api<ConfigMap> = server.api("pb");
    let uri = "/api/v1/namespaces/pb/configmaps/";
    for (name, api_version) in [("one", "v1"), ("two", "meta.k8s.io/v1")] {
        let cm = api
            .create(
                &PostParams::default(),
                &krust_testkit::configmap(name, &[], &[]),
            )
            .await
            .unwrap();
        let uid = cm.metadata.uid.unwrap();

        // A UID precondition that does not hold: the body was read, and is a 409.
        let wrong = delete_options(api_version, "not-the-uid");
        let (code, _, body) = send(
            &server.client,
            "DELETE",
            &format!("{uri}{name}"),
            CLIENT_GO_ACCEPT,
            Some(wrong),
        )
        .await;
        assert_eq!(code, 409, "{}", String::from_utf8_lossy(&body));

        let right = delete_options(api_version, &uid);
        let (code, content_type, body) = send(
            &server.client,
            "DELETE",
            &format!("{uri}{name}"),
            CLIENT_GO_ACCEPT,
            Some(right),
        )
        .await;
        assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(content_type, "application/json");
        assert!(api.get_opt(name).await.unwrap().is_none(), "{name} deleted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protobuf_events_k8s_io_event_is_created() {
    let server = krust_testkit::start().await;
    server.namespace("pb").await;
    let event = json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web.1", "namespace": "pb", "creationTimestamp": null},
        "eventTime": "2025-03-01T10:05:00.123456Z",
        "reportingController": "example.com/operator",
        "reportingInstance": "operator-0",
        "action": "Reconcile",
        "reason": "Synced",
        "regarding": {"kind": "Pod", "namespace": "pb", "name": "web"},
        "note": "synced the pod",
        "type": "Normal",
        "deprecatedSource": {},
        "deprecatedFirstTimestamp": null,
        "deprecatedLastTimestamp": null
    });
    let body = protobuf::encode(&event).unwrap();
    let (code, _, answer) = send(
        &server.client,
        "POST",
        "/apis/events.k8s.io/v1/namespaces/pb/events",
        CLIENT_GO_ACCEPT,
        Some(body),
    )
    .await;
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&answer));
    let created: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(created["note"], "synced the pod");
    assert_eq!(created["eventTime"], "2025-03-01T10:05:00.123456Z");
    assert_eq!(created["regarding"]["name"], "web");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_accepting_only_protobuf_gets_protobuf_answers() {
    let server = krust_testkit::start().await;
    server.namespace("pb").await;
    let api: Api<Deployment> = server.api("pb");
    api.create(&PostParams::default(), &krust_testkit::deployment("web", 0))
        .await
        .unwrap();
    let uri = "/apis/apps/v1/namespaces/pb/deployments";

    // One object: the same object as the JSON answer, replicas 0 included.
    let (code, _, json_answer) = send(
        &server.client,
        "GET",
        &format!("{uri}/web"),
        "application/json",
        None,
    )
    .await;
    assert_eq!(code, 200);
    let expected: Value = serde_json::from_slice(&json_answer).unwrap();
    let (code, content_type, answer) =
        send(&server.client, "GET", &format!("{uri}/web"), PROTOBUF, None).await;
    assert_eq!((code.as_u16(), content_type.as_str()), (200, PROTOBUF));
    let got = protobuf::decode(&answer).expect("a protobuf answer");
    assert_eq!(got, expected);
    assert_eq!(got["spec"]["replicas"], 0);

    // The client-go default still gets JSON.
    let (_, content_type, _) = send(
        &server.client,
        "GET",
        &format!("{uri}/web"),
        CLIENT_GO_ACCEPT,
        None,
    )
    .await;
    assert_eq!(content_type, "application/json");

    // A list, and an error Status.
    let (code, content_type, answer) = send(&server.client, "GET", uri, PROTOBUF, None).await;
    assert_eq!((code.as_u16(), content_type.as_str()), (200, PROTOBUF));
    let list = protobuf::decode(&answer).unwrap();
    assert_eq!(list["kind"], "DeploymentList");
    assert_eq!(list["items"][0]["metadata"]["name"], "web");
    assert!(list["metadata"]["resourceVersion"].is_string());

    let (code, content_type, answer) = send(
        &server.client,
        "GET",
        &format!("{uri}/missing"),
        PROTOBUF,
        None,
    )
    .await;
    assert_eq!((code.as_u16(), content_type.as_str()), (404, PROTOBUF));
    let status = protobuf::decode(&answer).unwrap();
    assert_eq!(
        (&status["kind"], &status["reason"], &status["code"]),
        (&json!("Status"), &json!("NotFound"), &json!(404))
    );

    // A watch: length-delimited protobuf WatchEvents, the first the Deployment ADDED.
    let (code, content_type, answer) = send(
        &server.client,
        "GET",
        &format!("{uri}?watch=true&timeoutSeconds=1"),
        PROTOBUF,
        None,
    )
    .await;
    assert_eq!(
        (code.as_u16(), content_type.as_str()),
        (200, protobuf::WATCH_MEDIA_TYPE)
    );
    let len = u32::from_be_bytes(answer[..4].try_into().unwrap()) as usize;
    let (event_type, object) = protobuf::decode_watch_event(&answer[4..4 + len]).unwrap();
    assert_eq!(event_type, "ADDED");
    assert_eq!(object, expected);

    // A Table has no protobuf form: 406, as a protobuf Status.
    let table = "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io";
    let (code, content_type, answer) = send(
        &server.client,
        "GET",
        &format!("{uri}?watch=true"),
        table,
        None,
    )
    .await;
    assert_eq!((code.as_u16(), content_type.as_str()), (406, PROTOBUF));
    assert_eq!(
        protobuf::decode(&answer).unwrap()["reason"],
        "NotAcceptable"
    );
}
