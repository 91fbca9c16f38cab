//! Tests of the generated table and the encoder: every served kind round trips (JSON →
//! protobuf → JSON), option bodies decode, and the table agrees with k8s-openapi.

use serde_json::{Value, json};

use super::table::{Base, Message, table};
use super::wire::{put_len_field, put_varint_field};
use super::*;
use crate::decode::FieldValidation;
use crate::resources::RESOURCES;

macro_rules! object {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                "../../tests/fixtures/protobuf/objects/",
                $name,
                ".json"
            )),
        )
    };
}

/// A realistic, full object of every served kind (and of the subresource, option, list
/// and Status bodies), in the JSON Go's `encoding/json` writes.
const OBJECTS: &[(&str, &str)] = &[
    object!("pod"),
    object!("service"),
    object!("binding"),
    object!("configmap"),
    object!("endpoints"),
    object!("event"),
    object!("namespace"),
    object!("node"),
    object!("secret"),
    object!("serviceaccount"),
    object!("deployment"),
    object!("replicaset"),
    object!("csr"),
    object!("lease"),
    object!("endpointslice"),
    object!("events-event"),
    object!("networkpolicy"),
    object!("scale"),
    object!("tokenrequest"),
    object!("tokenreview"),
    object!("selfsubjectreview"),
    object!("subjectaccessreview"),
    object!("selfsubjectaccessreview"),
    object!("localsubjectaccessreview"),
    object!("selfsubjectrulesreview"),
    object!("deleteoptions"),
    object!("status"),
    object!("podlist"),
];

fn objects() -> impl Iterator<Item = (&'static str, Value)> {
    OBJECTS
        .iter()
        .map(|(name, text)| (*name, serde_json::from_str(text).unwrap()))
}

/// The served resources with a protobuf form: all but CustomResourceDefinitions, served as
/// JSON only (their protobuf form carries schemas as nested JSON; no client asks for it).
fn with_protobuf() -> impl Iterator<Item = &'static crate::resources::Resource> {
    RESOURCES
        .iter()
        .filter(|r| r.kind != "CustomResourceDefinition")
}

fn kind_of(v: &Value) -> (&str, &str) {
    (
        v["apiVersion"].as_str().unwrap(),
        v["kind"].as_str().unwrap(),
    )
}

#[test]
fn every_served_kind_round_trips_through_protobuf_unchanged() {
    for (name, object) in objects() {
        let body = encode(&object).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(body.starts_with(MAGIC), "{name}");
        let back = decode(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back, object, "{name}");
    }
}

#[test]
fn every_served_kind_has_a_round_trip_object() {
    let covered: Vec<(String, String)> = objects()
        .map(|(_, o)| {
            let (v, k) = kind_of(&o);
            (v.to_owned(), k.to_owned())
        })
        .collect();
    for r in with_protobuf() {
        let kind = (r.api_version(), r.kind.to_owned());
        assert!(covered.contains(&kind), "no round-trip object of {kind:?}");
    }
}

#[test]
fn every_served_kind_its_list_and_its_subresources_are_in_the_table() {
    for r in with_protobuf() {
        let api_version = r.api_version();
        assert!(supports(&api_version, r.kind), "{api_version} {}", r.kind);
        // Bindings and reviews are only ever created: Kubernetes has no lists of them.
        if r.is_listable() {
            assert!(supports(&api_version, &r.list_kind()), "{}", r.list_kind());
        }
        for s in r.subresources {
            // exec, attach and portforward answer with upgraded streams, never a body: their
            // kinds (PodExecOptions, …) name them in discovery only, as Kubernetes does.
            if s.kind.ends_with("Options") {
                continue;
            }
            let sub_version = crate::resources::group_version(s.group, s.version);
            assert!(supports(&sub_version, s.kind), "{sub_version} {}", s.kind);
        }
    }
    for options in [
        "DeleteOptions",
        "CreateOptions",
        "UpdateOptions",
        "PatchOptions",
    ] {
        for api_version in ["v1", "meta.k8s.io/v1", "apps/v1"] {
            assert!(supports(api_version, options), "{api_version} {options}");
        }
    }
    assert!(supports("v1", "Status"));
}

#[test]
fn round_trip_objects_hold_no_field_unknown_to_k8s_openapi() {
    for (name, mut object) in objects() {
        let (api_version, kind) = kind_of(&object);
        let (api_version, kind) = (api_version.to_owned(), kind.to_owned());
        crate::decode::decode_kind(&mut object, &api_version, &kind, FieldValidation::Strict)
            .unwrap_or_else(|e| panic!("{name}: {}", e.message));
    }
}

#[test]
fn every_table_field_is_a_property_k8s_openapi_knows() {
    let table = table();
    let mut checked = std::collections::HashSet::new();
    let mut kinds = 0;
    for (group, version, kind, definition) in crate::schema::served_kinds() {
        let api_version = crate::resources::group_version(group, version);
        let Some(message) = table.kind(&api_version, kind) else {
            continue;
        };
        kinds += 1;
        walk(message, definition, &mut checked);
    }
    assert!(kinds >= RESOURCES.len(), "only {kinds} kinds checked");
    assert!(
        checked.len() > 150,
        "only {} messages checked",
        checked.len()
    );
}

/// Checks every field of `msg` against the OpenAPI `definition`, recursively.
fn walk(
    msg: &'static Message,
    definition: &'static str,
    checked: &mut std::collections::HashSet<(&'static str, &'static str)>,
) {
    if !checked.insert((msg.name, definition)) {
        return;
    }
    let table = table();
    for field in &msg.fields {
        if field.inline() {
            let Base::Message(i) = field.base else {
                unreachable!()
            };
            walk(table.message(i), definition, checked);
            continue;
        }
        let property = crate::schema::property(definition, field.json).unwrap_or_else(|| {
            panic!(
                "{}.{} is not a property of {definition}",
                msg.name, field.json
            )
        });
        if let (Base::Message(i), Some(child)) = (field.base, property.definition) {
            walk(table.message(i), child, checked);
        }
    }
}

// --- option and event bodies, as Go clients send them ---------------------------------

fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Vec::new();
    put_len_field(&mut type_meta, 1, api_version.as_bytes());
    put_len_field(&mut type_meta, 2, kind.as_bytes());
    let mut body = MAGIC.to_vec();
    put_len_field(&mut body, 1, &type_meta);
    put_len_field(&mut body, 2, raw);
    put_len_field(&mut body, 3, b"");
    put_len_field(&mut body, 4, b"");
    body
}

#[test]
fn delete_options_bodies_decode_whatever_group_version_names_them() {
    // client-go's DeleteOptions{GracePeriodSeconds: &0, PropagationPolicy: &Background}
    // with a UID precondition, as gogo marshals it.
    let mut raw = Vec::new();
    put_varint_field(&mut raw, 1, 0);
    let mut preconditions = Vec::new();
    put_len_field(&mut preconditions, 1, b"u-1");
    put_len_field(&mut raw, 2, &preconditions);
    put_len_field(&mut raw, 4, b"Background");
    for api_version in ["v1", "meta.k8s.io/v1", "apps/v1"] {
        let got = decode(&envelope(api_version, "DeleteOptions", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "apiVersion": api_version,
                "kind": "DeleteOptions",
                "gracePeriodSeconds": 0,
                "preconditions": {"uid": "u-1"},
                "propagationPolicy": "Background"
            })
        );
    }
}

#[test]
fn create_update_and_patch_options_bodies_decode() {
    // fieldManager is field 3 of CreateOptions, field 2 of UpdateOptions.
    for (kind, number) in [("CreateOptions", 3), ("UpdateOptions", 2)] {
        let mut raw = Vec::new();
        put_len_field(&mut raw, 1, b"All");
        put_len_field(&mut raw, number, b"kubectl");
        let got = decode(&envelope("meta.k8s.io/v1", kind, &raw)).unwrap();
        assert_eq!(got["dryRun"], json!(["All"]), "{kind}");
        assert_eq!(got["fieldManager"], "kubectl", "{kind}");
    }
    let mut raw = Vec::new();
    put_varint_field(&mut raw, 2, 1);
    let got = decode(&envelope("meta.k8s.io/v1", "PatchOptions", &raw)).unwrap();
    assert_eq!(got["force"], true);
}

#[test]
fn an_events_k8s_io_event_body_decodes_with_micro_times() {
    let mut metadata = Vec::new();
    put_len_field(&mut metadata, 1, b"web-0.1");
    put_len_field(&mut metadata, 3, b"shop");
    let mut event_time = Vec::new();
    put_varint_field(&mut event_time, 1, 1_740_823_500);
    put_varint_field(&mut event_time, 2, 123_456_789);
    let mut regarding = Vec::new();
    put_len_field(&mut regarding, 1, b"Pod");
    put_len_field(&mut regarding, 3, b"web-0");
    let mut raw = Vec::new();
    put_len_field(&mut raw, 1, &metadata);
    put_len_field(&mut raw, 2, &event_time);
    put_len_field(&mut raw, 4, b"example.com/operator");
    put_len_field(&mut raw, 5, b"operator-0");
    put_len_field(&mut raw, 6, b"Reconcile");
    put_len_field(&mut raw, 7, b"Synced");
    put_len_field(&mut raw, 8, &regarding);
    put_len_field(&mut raw, 10, b"synced");
    put_len_field(&mut raw, 11, b"Normal");
    put_len_field(&mut raw, 12, &[]); // deprecatedSource: an empty struct
    put_len_field(&mut raw, 13, &[]); // deprecatedFirstTimestamp: the zero time
    put_varint_field(&mut raw, 15, 0); // deprecatedCount: 0, omitempty
    let got = decode(&envelope("events.k8s.io/v1", "Event", &raw)).unwrap();
    assert_eq!(
        got,
        json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "web-0.1", "namespace": "shop"},
            "eventTime": "2025-03-01T10:05:00.123456Z",
            "reportingController": "example.com/operator",
            "reportingInstance": "operator-0",
            "action": "Reconcile",
            "reason": "Synced",
            "regarding": {"kind": "Pod", "name": "web-0"},
            "note": "synced",
            "type": "Normal",
            "deprecatedSource": {},
            "deprecatedFirstTimestamp": null
        })
    );
}

#[test]
fn pointer_zero_values_are_kept_and_omitempty_zeros_dropped() {
    // Deployment spec: replicas *int32 = 0 (kept), minReadySeconds int32 = 0 (omitempty,
    // dropped), paused bool = false (dropped), revisionHistoryLimit *int32 = 0 (kept).
    let mut spec = Vec::new();
    put_varint_field(&mut spec, 1, 0);
    put_varint_field(&mut spec, 5, 0);
    put_varint_field(&mut spec, 6, 0);
    put_varint_field(&mut spec, 7, 0);
    let mut raw = Vec::new();
    put_len_field(&mut raw, 2, &spec);
    let got = decode(&envelope("apps/v1", "Deployment", &raw)).unwrap();
    assert_eq!(
        got["spec"],
        json!({"replicas": 0, "revisionHistoryLimit": 0})
    );
    // ServiceAccount automountServiceAccountToken *bool = false (kept).
    let mut raw = Vec::new();
    put_varint_field(&mut raw, 4, 0);
    let got = decode(&envelope("v1", "ServiceAccount", &raw)).unwrap();
    assert_eq!(got["automountServiceAccountToken"], false);
    // Endpoints port: port int32 without omitempty = 0 (kept).
    let mut port = Vec::new();
    put_varint_field(&mut port, 2, 0);
    let mut subset = Vec::new();
    put_len_field(&mut subset, 3, &port);
    let mut raw = Vec::new();
    put_len_field(&mut raw, 2, &subset);
    let got = decode(&envelope("v1", "Endpoints", &raw)).unwrap();
    assert_eq!(got["subsets"], json!([{"ports": [{"port": 0}]}]));
}

#[test]
fn go_zero_time_in_seconds_decodes_as_null() {
    let mut time = Vec::new();
    put_varint_field(&mut time, 1, convert::ZERO_TIME_SECONDS as u64);
    let mut metadata = Vec::new();
    put_len_field(&mut metadata, 8, &time);
    let mut raw = Vec::new();
    put_len_field(&mut raw, 1, &metadata);
    let got = decode(&envelope("v1", "ConfigMap", &raw)).unwrap();
    assert_eq!(got["metadata"], json!({"creationTimestamp": null}));
}

#[test]
fn encoding_needs_a_known_kind_and_values_of_the_right_type() {
    assert_eq!(
        encode(&json!({"apiVersion": "batch/v1", "kind": "Job"})),
        Err(ProtobufError::UnsupportedKind {
            api_version: "batch/v1".into(),
            kind: "Job".into()
        })
    );
    assert_eq!(
        encode(&json!({"kind": "Pod"})),
        Err(ProtobufError::MissingTypeMeta)
    );
    let err = encode(&json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "spec": {"replicas": "three"}}))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot encode Deployment.spec.replicas as protobuf: expected an integer"
    );
}
