//! Tests of structural schema pruning, defaulting and validation, mostly on a CronTab (the
//! CRD of Kubernetes' walkthrough, grown a few fields).

use super::{default, prune, validate};
use serde_json::{Value, json};

mod defaulting;
mod pruning;
mod structure;
mod types;
mod values;

/// The CronTab schema.
fn crontab() -> Value {
    json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["cronSpec", "image"],
                "properties": {
                    "cronSpec": {
                        "type": "string",
                        "pattern": r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$"
                    },
                    "image": {"type": "string", "maxLength": 64},
                    "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                    "paused": {"type": "boolean", "nullable": true},
                    "policy": {
                        "type": "string",
                        "enum": ["Allow", "Forbid", "Replace"],
                        "default": "Allow"
                    },
                    "containers": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string"},
                                "ports": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "port": {"type": "integer", "format": "int32"},
                                            "protocol": {"type": "string", "default": "TCP"}
                                        }
                                    }
                                }
                            }
                        }
                    },
                    "labels": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "maxLength": 8}
                    },
                    "port": {"x-kubernetes-int-or-string": true},
                    "config": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true,
                        "properties": {
                            "limits": {"type": "object", "properties": {"cpu": {"type": "string"}}}
                        }
                    },
                    "template": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": true,
                        "x-kubernetes-preserve-unknown-fields": true
                    }
                }
            },
            "status": {
                "type": "object",
                "properties": {"lastScheduleTime": {"type": "string", "format": "date-time"}}
            }
        }
    })
}

/// A valid CronTab.
fn cron() -> Value {
    json!({
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "my-new-cron-object"},
        "spec": {
            "cronSpec": "* * * * */5",
            "image": "my-awesome-cron-image",
            "replicas": 3,
            "containers": [{"name": "a", "ports": [{"port": 80}]}],
            "labels": {"tier": "web"}
        }
    })
}

/// The CronTab with `spec.<field>` set to `value`.
fn cron_with(field: &str, value: Value) -> Value {
    let mut obj = cron();
    obj["spec"][field] = value;
    obj
}

/// Each cause as (field, message).
fn causes(schema: &Value, obj: &Value) -> Vec<(String, String)> {
    validate(schema, obj)
        .into_iter()
        .map(|c| (c.field, c.message))
        .collect()
}

/// The causes of `value` as `spec.x` of schema `x`.
fn at_x(x: Value, value: Value) -> Vec<(String, String)> {
    let schema = json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"x": x}}}
    });
    causes(&schema, &json!({"spec": {"x": value}}))
}

/// One expected cause.
fn cause(field: &str, message: &str) -> Vec<(String, String)> {
    vec![(field.to_string(), message.to_string())]
}
