//! Field selectors: `fields.ParseSelector`, the per-kind field label conversions the
//! API server applies before listing, and matching against an object's selectable
//! fields.

use std::fmt;

use serde_json::Value;

use super::SelectorError;
use super::validation::go_quote;

/// One term of a field selector: `field=value`, `field==value` or `field!=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    /// The field label, e.g. `status.phase`.
    pub field: String,
    /// The value, unescaped.
    pub value: String,
    /// `true` for `!=`.
    pub not_equal: bool,
}

/// A field selector: terms that must all hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// Parses `metadata.name=x,status.phase!=Running` (`=`, `==`, `!=`; `\`, `,` and
    /// `=` escaped with `\` in values), as `fields.ParseSelector` does, with its error
    /// wording (`invalid selector: 'a'; can't understand 'a'`, …).
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(s);
        parts.sort();
        let mut terms = Vec::new();
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let Some((field, op, rhs)) = split_term(part) else {
                return Err(SelectorError::new(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            terms.push(FieldTerm {
                field: field.to_string(),
                value: unescape_value(rhs)?,
                not_equal: op == "!=",
            });
        }
        Ok(Self { terms })
    }

    /// Checks that every field is selectable for the resource (`group` `""` for core),
    /// as the API server's field label conversion does. The error is the first one in
    /// the selector's sorted order, worded as Kubernetes words it:
    /// `field label not supported: foo`, or for kinds without their own conversion
    /// `"foo" is not a known field selector: only "metadata.name", "metadata.namespace"`.
    pub fn validate(&self, group: &str, resource: &str) -> Result<(), SelectorError> {
        for t in &self.terms {
            let f = t.field.as_str();
            let supported = match supported_fields(group, resource) {
                Some(list) => list.contains(&f),
                None => {
                    if f == "metadata.name" || f == "metadata.namespace" {
                        continue;
                    }
                    return Err(SelectorError::new(format!(
                        "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                        go_quote(f)
                    )));
                }
            };
            if !supported {
                return Err(SelectorError::new(format!(
                    "field label not supported: {f}"
                )));
            }
        }
        Ok(())
    }

    /// Whether the object's selectable fields satisfy every term. A missing field
    /// compares as `""`; booleans as `"true"`/`"false"` (`spec.hostNetwork` and
    /// `spec.unschedulable` default to `"false"`), numbers in decimal.
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms
            .iter()
            .all(|t| (field_value(obj, &t.field) == t.value) != t.not_equal)
    }

    /// Whether there are no terms (matches everything).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms, sorted as Kubernetes sorts them.
    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// The value a field must equal, if the selector requires one exactly
    /// (`RequiresExactMatch`), e.g. `metadata.name` for a single-object watch.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && !t.not_equal)
            .map(|t| t.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    /// `Selector.String()`: `field=value` terms, values escaped, joined by `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                let op = if t.not_equal { "!=" } else { "=" };
                format!("{}{op}{}", t.field, escape_value(&t.value))
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// The field labels a resource's own conversion function accepts; `None` for kinds
/// that only have the default (`metadata.name`, `metadata.namespace`).
fn supported_fields(group: &str, resource: &str) -> Option<&'static [&'static str]> {
    Some(match (group, resource) {
        ("", "pods") => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
            "spec.host",
        ],
        ("", "nodes") => &["metadata.name", "spec.unschedulable"],
        ("", "replicationcontrollers") => {
            &["metadata.name", "metadata.namespace", "status.replicas"]
        }
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            "metadata.namespace",
            "metadata.name",
        ],
        ("", "namespaces") => &["status.phase", "metadata.name"],
        ("", "secrets") => &["type", "metadata.namespace", "metadata.name"],
        ("", "services") => &[
            "metadata.namespace",
            "metadata.name",
            "spec.clusterIP",
            "spec.type",
        ],
        ("events.k8s.io", "events") => &[
            "reason",
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reportingController",
            "type",
            "metadata.namespace",
            "metadata.name",
        ],
        ("batch", "jobs") => &["metadata.name", "metadata.namespace", "status.successful"],
        ("certificates.k8s.io", "certificatesigningrequests") => {
            &["metadata.name", "spec.signerName"]
        }
        _ => return None,
    })
}

fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn first_of(obj: &Value, paths: &[&str]) -> String {
    paths
        .iter()
        .find_map(|p| scalar(lookup_indexed(obj, p)).filter(|s| !s.is_empty()))
        .unwrap_or_default()
}

/// The value of a selectable field of an object, as the registries' `GetAttrs`
/// compute it. Core and `events.k8s.io` event shapes are both understood.
fn field_value(obj: &Value, field: &str) -> String {
    match field {
        "spec.host" => first_of(obj, &["spec.nodeName"]),
        "spec.hostNetwork" | "spec.unschedulable" => {
            scalar(lookup_indexed(obj, field)).unwrap_or_else(|| "false".into())
        }
        "status.replicas" => scalar(lookup_indexed(obj, field)).unwrap_or_else(|| "0".into()),
        "status.successful" => {
            scalar(lookup_indexed(obj, "status.succeeded")).unwrap_or_else(|| "0".into())
        }
        "status.podIP" => first_of(obj, &["status.podIPs.0.ip", "status.podIP"]),
        "source" => first_of(
            obj,
            &[
                "source.component",
                "deprecatedSource.component",
                "reportingComponent",
                "reportingController",
            ],
        ),
        "reportingComponent" | "reportingController" => {
            first_of(obj, &["reportingComponent", "reportingController"])
        }
        f => {
            if let Some(rest) = f
                .strip_prefix("involvedObject.")
                .or_else(|| f.strip_prefix("regarding."))
            {
                let a = format!("involvedObject.{rest}");
                let b = format!("regarding.{rest}");
                return first_of(obj, &[&a, &b]);
            }
            scalar(lookup_indexed(obj, f)).unwrap_or_default()
        }
    }
}

/// Looks a dotted path up in a JSON object, stepping into arrays by index.
fn lookup_indexed<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(obj, |v, k| match v {
        Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => v.get(k),
    })
}

/// `fields.splitTerms`: splits on commas not escaped by a backslash.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// `fields.splitTerm`: the first `!=`, `==` or `=` in the term.
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        for op in ["!=", "==", "="] {
            if term[i..].starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

/// `fields.UnescapeValue`.
fn unescape_value(s: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::new(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                )));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Go prints the rune with %v, i.e. as a number.
            ',' | '=' => {
                return Err(SelectorError::new(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )));
            }
            c => out.push(c),
        }
    }
    if in_slash {
        return Err(SelectorError::new(
            "invalid field selector: invalid escape sequence: \\",
        ));
    }
    Ok(out)
}

/// `fields.EscapeValue`.
fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
