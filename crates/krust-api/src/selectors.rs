//! Label and field selectors, parsed, validated, rendered and matched the way the
//! Kubernetes API server does it (`k8s.io/apimachinery/pkg/labels`,
//! `k8s.io/apimachinery/pkg/fields` and the per-kind field label conversions).
//!
//! Error messages carry Kubernetes' exact wording, so they can be put verbatim in a
//! `BadRequest` Status.

mod field;
mod label;
mod parser;
mod validation;

#[cfg(test)]
mod tests;

pub use field::{FieldSelector, FieldTerm};
pub use label::{LabelSelector, Operator, Requirement};

use serde_json::{Map, Value};

/// A selector that could not be parsed, built or validated. The message is worded as
/// the Kubernetes API server words it (e.g. `unable to parse requirement: …` or
/// `field label not supported: foo`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SelectorError {
    message: String,
}

impl SelectorError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message, as Kubernetes words it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Renders a `metav1.LabelSelector` object in the string form, as
/// `metav1.LabelSelectorAsSelector(sel).String()` does: `"app=nginx"`,
/// `"app=nginx,tier in (a,b)"`. An empty or absent selector, or one that does not
/// convert, renders as `""`. Used for `Scale.status.selector`.
pub fn label_selector_string(v: &Value) -> String {
    LabelSelector::from_object(v)
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// `metav1.FormatLabelSelector`: like [`label_selector_string`], but `"<none>"` for a
/// selector that renders empty and `"<error>"` for one that does not convert.
pub fn format_label_selector(v: &Value) -> String {
    match LabelSelector::from_object(v) {
        Ok(s) => {
            let s = s.to_string();
            if s.is_empty() {
                "<none>".to_string()
            } else {
                s
            }
        }
        Err(_) => "<error>".to_string(),
    }
}

/// `labels.FormatLabels`: a label map as sorted `k=v` pairs joined by `,`, or
/// `"<none>"` when empty or absent.
pub fn format_labels(labels: Option<&Map<String, Value>>) -> String {
    let mut pairs: Vec<(&str, String)> = labels
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), label_value(v)))
        .collect();
    if pairs.is_empty() {
        return "<none>".to_string();
    }
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A label value as a string (labels are strings; anything else is rendered as JSON).
pub(crate) fn label_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
