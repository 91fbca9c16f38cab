//! Content negotiation: request parameters, body formats, and the Table media type.

use http::HeaderMap;
use krust_api::status::ApiError;
use serde_json::Value;

/// Request bodies over this many bytes get 413, as in Kubernetes.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Query parameters, as given (repeated keys kept).
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string.
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(query.unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
        Ok(Params(pairs))
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter, read as Kubernetes reads one (`Convert_Slice_string_To_bool`):
    /// absent, `0` or `false` (any case) is false, every other value (`true`, `True` as the
    /// Python client sends, even empty) is true.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
    }

    /// An integer parameter.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {s:?}")))
            })
            .transpose()
    }

    /// `dryRun=All`.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: {other:?}: supported values: \"All\""
            ))),
        }
    }
}

/// Whether the client asked for a `meta.k8s.io` Table.
pub fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .take(1)
        .any(|first| first.contains("as=Table"))
}

/// Whether the client asked for metadata only (`PartialObjectMetadata[List]`).
pub fn wants_metadata(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .take(1)
        .any(|first| first.contains("as=PartialObjectMetadata"))
}

/// Whether the client accepts only Kubernetes protobuf (`Accept:
/// application/vnd.kubernetes.protobuf`, with no JSON, YAML or wildcard alternative), so
/// that its answers must be protobuf. kubectl and client-go also accept JSON and get JSON.
pub fn wants_protobuf_only(headers: &HeaderMap) -> bool {
    let mut ranges = headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .peekable();
    ranges.peek().is_some() && ranges.all(krust_api::protobuf::is_protobuf)
}

/// An object reduced to its metadata.
pub fn partial(obj: &Value) -> Value {
    serde_json::json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| serde_json::json!({})),
    })
}

/// The media type of the body, without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decodes an object body: JSON, YAML, or Kubernetes protobuf.
pub fn decode_object(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let ct = content_type(headers);
    let value = match ct.as_str() {
        "application/json" | "" | "*/*" => parse_json(body)?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => parse_yaml(body)?,
        "application/vnd.kubernetes.protobuf" => krust_api::protobuf::decode(body)
            .map_err(|e| ApiError::new(e.code(), e.reason(), e.to_string()))?,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    Ok(value)
}

/// Parses JSON with Kubernetes' wording on failure.
pub fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

/// Parses YAML (apply-patch bodies, `application/yaml` requests).
pub fn parse_yaml(body: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_request(format!("body is not UTF-8: {e}")))?;
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_accept() {
        let mut h = HeaderMap::new();
        h.insert("accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json".parse().unwrap());
        assert!(wants_table(&h));
        h.insert("accept", "application/json".parse().unwrap());
        assert!(!wants_table(&h));
    }

    #[test]
    fn protobuf_is_answered_only_to_clients_that_accept_nothing_else() {
        let accept = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("accept", v.parse().unwrap());
            wants_protobuf_only(&h)
        };
        assert!(accept("application/vnd.kubernetes.protobuf"));
        assert!(accept(
            "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io"
        ));
        assert!(!accept(
            "application/vnd.kubernetes.protobuf,application/json"
        ));
        assert!(!accept("application/vnd.kubernetes.protobuf, */*"));
        assert!(!accept("application/json"));
        assert!(!wants_protobuf_only(&HeaderMap::new()));
    }

    #[test]
    fn params() {
        let p = Params::parse(Some("command=ls&command=-la&watch=true&limit=500")).unwrap();
        assert_eq!(p.get("command"), Some("ls"));
        assert!(p.flag("watch"));
        assert_eq!(p.int("limit").unwrap(), Some(500));
        let p = Params::parse(Some("a=True&b=&c=0&d=FALSE&e=false&f=1")).unwrap();
        assert!(p.flag("a") && p.flag("b") && p.flag("f"));
        assert!(!p.flag("c") && !p.flag("d") && !p.flag("e") && !p.flag("absent"));
        assert!(
            Params::parse(Some("limit=x"))
                .unwrap()
                .int("limit")
                .is_err()
        );
    }

    #[test]
    fn yaml_and_bad_json() {
        assert_eq!(
            parse_yaml(b"a: 1\nb: [x]\n").unwrap(),
            serde_json::json!({"a": 1, "b": ["x"]})
        );
        assert_eq!(parse_json(b"{nope").unwrap_err().code, 400);
    }
}
