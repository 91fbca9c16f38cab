//! Structural schemas: pruning, defaulting and validation of a custom object against a
//! CustomResourceDefinition version's `schema.openAPIV3Schema`, as apiextensions-apiserver
//! does it (its `schema/pruning`, `schema/defaulting`, `schema/listtype` and
//! `schema/objectmeta` packages, and the kube-openapi validator behind
//! `apiserver/validation`), with kube-apiserver 1.32's messages.
//!
//! The schema is the CRD's JSON as it is (`type`, `properties`, `items`,
//! `additionalProperties`, the value validations, `x-kubernetes-*` extensions). It is
//! assumed to have passed the CRD's own validation (to be structural); a malformed schema
//! never panics, its odd parts are ignored. `x-kubernetes-validations` (CEL) is not
//! evaluated here.
//!
//! The order upstream applies these in: [`prune`] when the object is decoded, then
//! [`default`], then [`validate`].

use crate::status::Cause;
use serde_json::Value;

mod checks;
mod defaulting;
mod embedded;
mod formats;
mod listtype;
mod pruning;
mod render;
mod validation;

#[cfg(test)]
mod tests;

const PRESERVE_UNKNOWN: &str = "x-kubernetes-preserve-unknown-fields";
const EMBEDDED_RESOURCE: &str = "x-kubernetes-embedded-resource";
const INT_OR_STRING: &str = "x-kubernetes-int-or-string";

/// The fields of a resource that its schema does not govern: an embedded resource's (and the
/// root's) type and object meta.
const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Removes the fields the schema does not declare, at every level that neither has
/// `x-kubernetes-preserve-unknown-fields: true` nor is an embedded resource's
/// `apiVersion`/`kind`/`metadata` (which are kept as they are). The root's `apiVersion`,
/// `kind` and `metadata` are never touched: metadata is handled elsewhere. Like upstream's
/// decoder, it also drops the `null`s of non-nullable fields that have no default (those
/// with a default get it from [`default`]).
///
/// Returns the pruned fields' paths, sorted, as kube-apiserver puts them inside its
/// messages: `spec.foo`, `spec.items[0].bar`, `spec.labels.a.b` (a map key is dotted). The
/// strict-decoding error and the `fieldValidation=Warn` warning both read
/// `unknown field "spec.foo"`; server-side apply's `.spec.foo: field not declared in
/// schema` is the same path with a leading `.`.
pub fn prune(schema: &Value, obj: &mut Value) -> Vec<String> {
    pruning::prune(schema, obj)
}

/// Sets the schema's `default`s where a field is absent, or `null` while not `nullable`,
/// recursing into objects, arrays' items and additionalProperties values (a default itself
/// gets the defaults of the fields beneath). The root's `metadata` is left alone.
pub fn default(schema: &Value, obj: &mut Value) {
    defaulting::default(schema, obj)
}

/// Validates `obj` against the schema: the value validations (kube-openapi's, as
/// apiextensions-apiserver turns them into field errors), then embedded resources'
/// `apiVersion`/`kind`/`metadata`, then `x-kubernetes-list-type: set|map` uniqueness.
///
/// Field paths are upstream's: `spec.replicas`, `spec.items[0].name`; a value validated by
/// an `additionalProperties` schema is at `spec.labels.key` (kube-openapi dots map keys),
/// while embedded-resource and list-type causes write it `spec.labels[key]`. Causes about
/// the whole object (`allOf`, `anyOf`, `oneOf`, `not`, or a type error at the root) have
/// the field `<nil>`, as kube-apiserver prints them.
pub fn validate(schema: &Value, obj: &Value) -> Vec<Cause> {
    let mut causes = validation::validate(schema, obj);
    causes.extend(embedded::validate(schema, obj));
    causes.extend(listtype::validate(schema, obj));
    causes
}

/// `x` is `true` in schema `s`.
fn flag(s: &Value, name: &str) -> bool {
    s.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// The schema of property `key`.
fn property<'a>(s: &'a Value, key: &str) -> Option<&'a Value> {
    s.get("properties")?.get(key).filter(|p| p.is_object())
}

/// The schema of an array's items.
fn items(s: &Value) -> Option<&Value> {
    s.get("items").filter(|i| i.is_object())
}

/// `additionalProperties` as the structural schema holds it: absent (`None`), a boolean
/// (`Some(None)`: the keys are allowed, nothing is declared beneath), or a schema.
fn additional(s: &Value) -> Option<Option<&Value>> {
    match s.get("additionalProperties")? {
        v @ Value::Object(_) => Some(Some(v)),
        Value::Bool(_) => Some(None),
        _ => None,
    }
}

/// The schema of the value under `key` in an object of schema `s`: its property's, else
/// additionalProperties'.
fn field_schema<'a>(s: &'a Value, key: &str) -> Option<&'a Value> {
    property(s, key).or_else(|| additional(s).flatten())
}

/// The schema's `default`, if it has one (a `null` default is none, as upstream).
fn default_of(s: &Value) -> Option<&Value> {
    s.get("default").filter(|d| !d.is_null())
}

/// Calls `visit` with every value of `obj` the schema declares (properties,
/// additionalProperties as `path[key]`, items as `path[i]`), the root first, each with its
/// schema and path.
fn walk(s: &Value, x: &Value, path: &str, visit: &mut impl FnMut(&Value, &Value, &str)) {
    visit(s, x, path);
    match x {
        Value::Object(map) => {
            for (k, v) in map {
                if let Some(p) = property(s, k) {
                    walk(p, v, &child(path, k), visit);
                } else if let Some(Some(extra)) = additional(s) {
                    walk(extra, v, &format!("{path}[{k}]"), visit);
                }
            }
        }
        Value::Array(list) => {
            if let Some(items) = items(s) {
                for (i, v) in list.iter().enumerate() {
                    walk(items, v, &format!("{path}[{i}]"), visit);
                }
            }
        }
        _ => {}
    }
}

/// `a.b`: property `b` of path `a` (the root's own properties have no leading dot).
fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
