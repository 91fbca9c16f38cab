//! Tests: real kubectl bodies (tests/fixtures/protobuf) and hand-built ones.

use serde_json::{Value, json};

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../../tests/fixtures/protobuf/", $name, ".pb")) as &[u8],
            include_str!(concat!("../../tests/fixtures/protobuf/", $name, ".json")),
        )
    };
}

/// (name, body kubectl POSTed, what kubectl prints for the object with `-o json`).
const FIXTURES: &[(&str, &[u8], &str)] = &[
    fixture!("create-deployment"),
    fixture!("create-deployment-replicas-port"),
    fixture!("create-deployment-command"),
    fixture!("create-deployment-ns-replicas0"),
    fixture!("create-namespace"),
    fixture!("create-configmap"),
    fixture!("create-configmap-files"),
    fixture!("create-secret"),
    fixture!("create-secret-generic-type"),
    fixture!("create-secret-docker"),
    fixture!("create-service-clusterip"),
    fixture!("create-service-headless"),
    fixture!("create-service-nodeport"),
    fixture!("create-service-lb"),
    fixture!("create-service-externalname"),
    fixture!("create-serviceaccount"),
];

#[test]
fn protobuf_kubectl_bodies_decode_to_kubectls_own_json() {
    for (name, body, expected) in FIXTURES {
        let expected: Value = serde_json::from_str(expected).unwrap();
        let got = decode(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn protobuf_kubectl_bodies_re_encode_to_bodies_that_decode_the_same() {
    for (name, body, _) in FIXTURES {
        let decoded = decode(body).unwrap();
        let again = encode(&decoded).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decode(&again).unwrap(), decoded, "{name}");
    }
}

#[test]
fn protobuf_create_deployment_exact_json() {
    let got = decode(FIXTURES[0].1).unwrap();
    let template = json!({
        "metadata": {"creationTimestamp": null, "labels": {"app": "nginx-depl"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}
    });
    assert_eq!(
        got,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "nginx-depl",
                "creationTimestamp": null,
                "labels": {"app": "nginx-depl"}
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "nginx-depl"}},
                "template": template,
                "strategy": {}
            },
            "status": {}
        })
    );
}

#[test]
fn protobuf_kubectl_bodies_keep_zero_replicas_and_command() {
    let got = decode(FIXTURES[3].1).unwrap();
    assert_eq!(got["metadata"]["namespace"], "other");
    assert_eq!(got["spec"]["replicas"], 0);
    let container = &got["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"], json!(["sh", "-c", "echo hi"]));
    assert_eq!(container["ports"], json!([{"containerPort": 8080}]));
}

#[test]
fn protobuf_kubectl_binary_data_is_base64() {
    let got = decode(FIXTURES[6].1).unwrap();
    assert_eq!(got["binaryData"], json!({"bin.dat": "AAH/Ymlu"}));
    assert_eq!(got["data"], json!({"f.txt": "hello\n", "x": "y"}));
}

#[test]
fn protobuf_unsupported_kind_is_a_415_naming_the_kind() {
    let job = include_bytes!("../../tests/fixtures/protobuf/create-job.pb");
    let err = decode(job).unwrap_err();
    assert_eq!(
        err,
        ProtobufError::UnsupportedKind {
            api_version: "batch/v1".into(),
            kind: "Job".into()
        }
    );
    assert_eq!((err.code(), err.reason()), (415, "UnsupportedMediaType"));
    assert_eq!(
        err.to_string(),
        "the body of the request was in an unknown format - this server cannot decode Job \
         (batch/v1) from application/vnd.kubernetes.protobuf; accepted media types for it \
         include: application/json, application/yaml"
    );
    assert!(!supports("batch/v1", "Job"));
}

#[test]
fn protobuf_supported_kinds() {
    for (api_version, kind) in [
        ("apps/v1", "Deployment"),
        ("apps/v1", "ReplicaSet"),
        ("v1", "ConfigMap"),
        ("v1", "Namespace"),
        ("v1", "Pod"),
        ("v1", "Secret"),
        ("v1", "Service"),
        ("v1", "ServiceAccount"),
    ] {
        assert!(supports(api_version, kind), "{api_version} {kind}");
    }
    assert!(supported_kinds().contains(&("events.k8s.io/v1", "Event")));
    assert!(supported_kinds().contains(&("*", "DeleteOptions")));
    assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
    assert!(is_protobuf(
        "Application/VND.kubernetes.protobuf; charset=binary"
    ));
    assert!(!is_protobuf("application/json"));
    assert!(!is_protobuf("application/vnd.kubernetes.protobuf+json"));
}

// --- hand-built bodies --------------------------------------------------------------

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// A varint field.
fn vf(number: u32, v: u64) -> Vec<u8> {
    [varint(u64::from(number) << 3), varint(v)].concat()
}

/// A length-delimited field.
fn lf(number: u32, data: &[u8]) -> Vec<u8> {
    [
        varint(u64::from(number) << 3 | 2),
        varint(data.len() as u64),
        data.to_vec(),
    ]
    .concat()
}

fn entry(number: u32, key: &str, value: &[u8]) -> Vec<u8> {
    lf(number, &[lf(1, key.as_bytes()), lf(2, value)].concat())
}

fn body(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let type_meta = [lf(1, api_version.as_bytes()), lf(2, kind.as_bytes())].concat();
    [
        MAGIC.to_vec(),
        lf(1, &type_meta),
        lf(2, raw),
        lf(3, b""),
        lf(4, b""),
    ]
    .concat()
}

#[test]
fn protobuf_pod_with_every_field_kind() {
    let metadata = [
        lf(1, b"p"),
        lf(2, b""),
        vf(7, 0),
        lf(8, &[vf(1, 1_700_000_000), vf(2, 5)].concat()),
        vf(10, 0),
        entry(12, "note", b"x"),
        lf(
            13,
            &[
                lf(1, b"ReplicaSet"),
                lf(3, b"rs"),
                lf(4, b"u1"),
                lf(5, b"apps/v1"),
                vf(6, 1),
            ]
            .concat(),
        ),
    ]
    .concat();
    let probe = [
        lf(
            1,
            &lf(
                2,
                &[
                    lf(1, b"/healthz"),
                    lf(2, &[vf(1, 1), lf(3, b"http")].concat()),
                ]
                .concat(),
            ),
        ),
        vf(2, 5),
        vf(4, 0),
    ]
    .concat();
    let env = [
        lf(1, b"A"),
        lf(3, &lf(3, &[lf(1, &lf(1, b"cm")), lf(2, b"k")].concat())),
    ]
    .concat();
    let container = [
        lf(1, b"c"),
        lf(2, b"img"),
        lf(7, &env),
        lf(
            8,
            &[
                entry(1, "cpu", &lf(1, b"500m")),
                entry(2, "memory", &lf(1, b"64Mi")),
            ]
            .concat(),
        ),
        lf(10, &probe),
        lf(15, &[vf(2, 0), vf(4, 0)].concat()),
        vf(16, 0),
        lf(99, b"unknown field, skipped"),
    ]
    .concat();
    let volume = [
        lf(1, b"v"),
        lf(2, &lf(19, &[lf(1, &lf(1, b"cm")), vf(3, 420)].concat())),
    ]
    .concat();
    let spec = [
        lf(1, &volume),
        lf(2, &container),
        vf(11, 0),
        lf(
            14,
            &[lf(4, &[varint(1), varint(2)].concat()), vf(5, 2000)].concat(),
        ),
        lf(22, &[lf(1, b"k"), lf(2, b"Exists"), vf(5, 30)].concat()),
        vf(25, (-5i64) as u64),
        [varint(98 << 3 | 5), vec![1, 2, 3, 4]].concat(),
    ]
    .concat();
    let raw = [lf(1, &metadata), lf(2, &spec), lf(3, &lf(1, b"Pending"))].concat();
    assert_eq!(
        decode(&body("v1", "Pod", &raw)).unwrap(),
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "p",
                "creationTimestamp": "2023-11-14T22:13:20Z",
                "deletionGracePeriodSeconds": 0,
                "annotations": {"note": "x"},
                "ownerReferences": [{
                    "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1",
                    "controller": true
                }]
            },
            "spec": {
                "volumes": [{"name": "v", "configMap": {"name": "cm", "defaultMode": 420}}],
                "containers": [{
                    "name": "c",
                    "image": "img",
                    "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}],
                    "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
                    "livenessProbe": {
                        "httpGet": {"path": "/healthz", "port": "http"},
                        "initialDelaySeconds": 5
                    },
                    "securityContext": {"privileged": false, "runAsUser": 0}
                }],
                "securityContext": {"supplementalGroups": [1, 2], "fsGroup": 2000},
                "tolerations": [{"key": "k", "operator": "Exists", "tolerationSeconds": 30}],
                "priority": -5
            },
            "status": {"phase": "Pending"}
        })
    );
}

#[test]
fn protobuf_deployment_strategy_int_or_string() {
    let rolling = [
        lf(1, &[vf(1, 0), vf(2, 0)].concat()),
        lf(2, &[vf(1, 1), lf(3, b"25%")].concat()),
    ];
    let strategy = [lf(1, b"RollingUpdate"), lf(2, &rolling.concat())].concat();
    let raw = lf(2, &lf(4, &strategy));
    assert_eq!(
        decode(&body("apps/v1", "Deployment", &raw)).unwrap()["spec"],
        json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}})
    );
}

#[test]
fn protobuf_bad_magic() {
    assert_eq!(decode(b"{\"kind\":\"Pod\"}"), Err(ProtobufError::BadMagic));
    assert_eq!(decode(b"k8s"), Err(ProtobufError::BadMagic));
    assert_eq!(ProtobufError::BadMagic.code(), 400);
}

#[test]
fn protobuf_truncated_and_malformed_bodies_name_the_place() {
    let deployment = FIXTURES[0].1;
    let cut = &deployment[..deployment.len() - 20];
    assert_eq!(
        decode(cut),
        Err(ProtobufError::Truncated {
            at: "the runtime.Unknown envelope".into()
        })
    );
    for len in 0..deployment.len() {
        let _ = decode(&deployment[..len]); // never panics
    }
    let raw = lf(1, &[0x0a, 0x05, b'a']);
    assert_eq!(
        decode(&body("apps/v1", "Deployment", &raw)),
        Err(ProtobufError::Truncated {
            at: "Deployment.metadata".into()
        })
    );
    let raw = lf(2, &lf(1, b"3"));
    let err = decode(&body("apps/v1", "Deployment", &raw)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the protobuf body is malformed in Deployment.spec.replicas: expected an int32, found a \
         length-delimited value"
    );
    assert_eq!((err.code(), err.reason()), (400, "BadRequest"));
    let raw = lf(2, &lf(3, &lf(2, &lf(2, &vf(1, 7)))));
    let err = decode(&body("apps/v1", "Deployment", &raw)).unwrap_err();
    assert!(
        err.to_string()
            .contains("in Deployment.spec.template.spec.containers[0].name"),
        "{err}"
    );
}

#[test]
fn protobuf_envelope_errors() {
    let no_kind = [MAGIC.to_vec(), lf(2, b"")].concat();
    assert_eq!(decode(&no_kind), Err(ProtobufError::MissingTypeMeta));
    let type_meta = [lf(1, b"v1"), lf(2, b"Secret")].concat();
    let gzip = [
        MAGIC.to_vec(),
        lf(1, &type_meta),
        lf(2, b"\x1f\x8b"),
        lf(3, b"gzip"),
    ]
    .concat();
    let err = decode(&gzip).unwrap_err();
    assert_eq!(
        err,
        ProtobufError::UnsupportedEncoding("content encoding \"gzip\"".into())
    );
    assert_eq!(err.code(), 415);
    let json_inside = [
        MAGIC.to_vec(),
        lf(1, &type_meta),
        lf(2, b"{}"),
        lf(4, b"application/json"),
    ];
    assert!(matches!(
        decode(&json_inside.concat()),
        Err(ProtobufError::UnsupportedEncoding(_))
    ));
    let bad_wire = [MAGIC.to_vec(), vf(1, 3)].concat();
    assert!(matches!(
        decode(&bad_wire),
        Err(ProtobufError::Malformed { .. })
    ));
}
