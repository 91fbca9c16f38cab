//! Kubernetes `Status` errors.

use serde_json::Value;

/// One cause of an `Invalid` (422) or `BadRequest` error.
#[derive(Clone, Debug, PartialEq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, …
    pub reason: &'static str,
    pub message: String,
    /// The field path, e.g. `metadata.name`.
    pub field: String,
}

impl Cause {
    /// `Invalid value: "x": why`.
    pub fn invalid(field: impl Into<String>, value: &Value, why: impl std::fmt::Display) -> Self {
        let shown = match value {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        Cause {
            reason: "FieldValueInvalid",
            message: format!("Invalid value: {shown}: {why}"),
            field: field.into(),
        }
    }

    /// `Required value`.
    pub fn required(field: impl Into<String>, why: &str) -> Self {
        let message = if why.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {why}")
        };
        Cause {
            reason: "FieldValueRequired",
            message,
            field: field.into(),
        }
    }

    /// `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(field: impl Into<String>, value: &Value, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Cause {
            reason: "FieldValueNotSupported",
            message: format!(
                "Unsupported value: {value}: supported values: {}",
                list.join(", ")
            ),
            field: field.into(),
        }
    }

    /// `Duplicate value: "x"`.
    pub fn duplicate(field: impl Into<String>, value: &Value) -> Self {
        Cause {
            reason: "FieldValueDuplicate",
            message: format!("Duplicate value: {value}"),
            field: field.into(),
        }
    }

    /// `Not found: "x"`.
    pub fn not_found(field: impl Into<String>, value: &Value) -> Self {
        Cause {
            reason: "FieldValueNotFound",
            message: format!("Not found: {value}"),
            field: field.into(),
        }
    }

    /// `Forbidden: why`.
    pub fn forbidden(field: impl Into<String>, why: impl std::fmt::Display) -> Self {
        Cause {
            reason: "FieldValueForbidden",
            message: format!("Forbidden: {why}"),
            field: field.into(),
        }
    }
}

/// An API error, rendered as a `v1 Status`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details.name`, `details.group`, `details.kind`.
    pub name: Option<String>,
    pub group: Option<String>,
    pub kind: Option<String>,
    pub causes: Vec<Cause>,
    /// `details.retryAfterSeconds`.
    pub retry_after: Option<u32>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// An error with no details.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            name: None,
            group: None,
            kind: None,
            causes: Vec::new(),
            retry_after: None,
        }
    }

    /// `details`: the group, kind (resource) and name the error is about.
    pub fn about(mut self, group: &str, kind: &str, name: &str) -> Self {
        self.group = (!group.is_empty()).then(|| group.to_string());
        self.kind = Some(kind.to_string());
        self.name = (!name.is_empty()).then(|| name.to_string());
        self
    }

    /// 404: `pods "x" not found` (`resource` is `pods` or `deployments.apps`).
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        let qualified = qualify(group, plural);
        Self::new(404, "NotFound", format!("{qualified} {name:?} not found"))
            .about(group, plural, name)
    }

    /// 409: `pods "x" already exists`.
    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        let qualified = qualify(group, plural);
        Self::new(
            409,
            "AlreadyExists",
            format!("{qualified} {name:?} already exists"),
        )
        .about(group, plural, name)
    }

    /// 409: the object was modified since it was read.
    pub fn conflict(group: &str, plural: &str, name: &str, why: &str) -> Self {
        let qualified = qualify(group, plural);
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {qualified} {name:?}: {why}"),
        )
        .about(group, plural, name)
    }

    /// 422: `Pod "x" is invalid: <causes>`, `Deployment.apps "x" is invalid: …` (`kind`
    /// is the Kind, e.g. `Pod`).
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let list: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let summary = if list.len() == 1 {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        // The kind qualified by its group, as Go's `schema.GroupKind` prints it.
        let qualified = match group {
            "" => kind.to_string(),
            group => format!("{kind}.{group}"),
        };
        let mut e = Self::new(
            422,
            "Invalid",
            format!("{qualified} {name:?} is invalid: {summary}"),
        )
        .about(group, kind, name);
        e.causes = causes;
        e
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 405.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 410: the requested resourceVersion is gone.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 415.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json, application/yaml, application/vnd.kubernetes.protobuf \
                 (got {content_type:?})"
            ),
        )
    }

    /// 500.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
    }

    /// The `v1 Status` body.
    pub fn to_status(&self) -> Value {
        serde_json::to_value(self.body()).unwrap_or_default()
    }

    /// The `v1 Status` body as kube-apiserver writes it: members in the order of Go's
    /// `metav1.Status` (`kind, apiVersion, metadata, status, message, reason, details,
    /// code`), empty ones left out, and a newline at the end. Clients compare these bodies
    /// as text.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.body()).unwrap_or_default();
        out.push(b'\n');
        out
    }

    fn body(&self) -> StatusBody<'_> {
        let details = Details {
            name: self.name.as_deref(),
            group: self.group.as_deref(),
            kind: self.kind.as_deref(),
            uid: None,
            causes: self.causes.iter().map(CauseBody::from).collect(),
            retry_after_seconds: self.retry_after,
        };
        let empty = details.name.is_none()
            && details.group.is_none()
            && details.kind.is_none()
            && details.causes.is_empty()
            && details.retry_after_seconds.is_none();
        StatusBody {
            kind: "Status",
            api_version: "v1",
            metadata: Empty {},
            status: "Failure",
            message: &self.message,
            reason: self.reason,
            details: (!empty).then_some(details),
            code: self.code,
        }
    }
}

/// `metav1.Status`, its members in Go's order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: Empty,
    status: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Details<'a>>,
    #[serde(skip_serializing_if = "is_zero")]
    code: u16,
}

fn is_zero(code: &u16) -> bool {
    *code == 0
}

#[derive(serde::Serialize)]
struct Empty {}

/// `metav1.StatusDetails`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Details<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    causes: Vec<CauseBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_seconds: Option<u32>,
}

/// `metav1.StatusCause`.
#[derive(serde::Serialize)]
struct CauseBody<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    field: &'a str,
}

impl<'a> From<&'a Cause> for CauseBody<'a> {
    fn from(c: &'a Cause) -> Self {
        CauseBody {
            reason: c.reason,
            message: &c.message,
            field: &c.field,
        }
    }
}

fn qualify(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

/// A `v1 Status` of success, as kube-apiserver writes it: what DELETE answers when the object
/// is gone, for kinds whose storage does not return the deleted object.
pub fn success(group: &str, plural: &str, name: &str, uid: &str) -> Vec<u8> {
    let body = StatusBody {
        kind: "Status",
        api_version: "v1",
        metadata: Empty {},
        status: "Success",
        message: "",
        reason: "",
        details: Some(Details {
            name: Some(name),
            group: (!group.is_empty()).then_some(group),
            kind: Some(plural),
            uid: Some(uid),
            causes: Vec::new(),
            retry_after_seconds: None,
        }),
        code: 0,
    };
    let mut out = serde_json::to_vec(&body).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invalid_message_matches_kubectl_expectation() {
        let e = ApiError::invalid(
            "",
            "Pod",
            "Bad_Name",
            vec![Cause::invalid(
                "metadata.name",
                &json!("Bad_Name"),
                "a lowercase RFC 1123 subdomain",
            )],
        );
        assert_eq!(
            e.message,
            "Pod \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"
        );
        let s = e.to_status();
        assert_eq!(s["code"], 422);
        assert_eq!(s["details"]["causes"][0]["field"], "metadata.name");
    }

    #[test]
    fn not_found_names_group() {
        let e = ApiError::not_found("apps", "deployments", "web");
        assert_eq!(e.message, "deployments.apps \"web\" not found");
        assert_eq!(e.to_status()["details"]["group"], "apps");
    }

    #[test]
    fn a_status_body_is_written_as_kube_apiserver_writes_it() {
        let e = ApiError::not_found("", "pods", "nope");
        assert_eq!(
            String::from_utf8(e.to_json()).unwrap(),
            concat!(
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","#,
                r#""message":"pods \"nope\" not found","reason":"NotFound","#,
                r#""details":{"name":"nope","kind":"pods"},"code":404}"#,
                "\n"
            )
        );
        let mut busy = ApiError::invalid(
            "apps",
            "Deployment",
            "web",
            vec![Cause::required("spec.selector", "")],
        );
        busy.retry_after = Some(1);
        assert_eq!(
            String::from_utf8(busy.to_json()).unwrap(),
            concat!(
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","#,
                r#""message":"Deployment.apps \"web\" is invalid: spec.selector: Required value","#,
                r#""reason":"Invalid","details":{"name":"web","group":"apps","kind":"Deployment","#,
                r#""causes":[{"reason":"FieldValueRequired","message":"Required value","#,
                r#""field":"spec.selector"}],"retryAfterSeconds":1},"code":422}"#,
                "\n"
            )
        );
    }

    #[test]
    fn a_success_status_names_what_was_deleted() {
        assert_eq!(
            String::from_utf8(success("apps", "deployments", "web", "u-1")).unwrap(),
            concat!(
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","#,
                r#""details":{"name":"web","group":"apps","kind":"deployments","uid":"u-1"}}"#,
                "\n"
            )
        );
    }
}
