//! Stored JSON at a revision: `metadata.resourceVersion` spliced into the stored bytes as text.
//!
//! The store holds objects as the registry encoded them, without `resourceVersion` (the
//! revision of a write is known only once it commits). Answers and watch events are those
//! bytes with the revision put first into `metadata`: the top-level members before `metadata`
//! are stepped over and everything else is copied, never parsed. Bytes of another shape (no
//! `metadata` object, whitespace or escapes in the way) are parsed and encoded instead.

use bytes::Bytes;
use krust_api::status::ApiError;
use krust_store::Revision;
use serde_json::{Map, Value};

use super::at_revision;

/// The stored JSON `stored` with `metadata.resourceVersion` set to `rev`.
pub(crate) fn with_revision(stored: &[u8], rev: Revision) -> Result<Bytes, ApiError> {
    let Some(open) = metadata_start(stored) else {
        let obj: Map<String, Value> = serde_json::from_slice(stored).map_err(ApiError::internal)?;
        let json = serde_json::to_vec(&at_revision(obj.into(), rev)).map_err(ApiError::internal)?;
        return Ok(json.into());
    };
    let (head, rest) = stored.split_at(open);
    let mut out = Vec::with_capacity(stored.len() + 40);
    out.extend_from_slice(head);
    out.extend_from_slice(br#""resourceVersion":""#);
    out.extend_from_slice(rev.to_string().as_bytes());
    out.push(b'"');
    if rest.first() != Some(&b'}') {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Ok(out.into())
}

/// Where the members of the top-level `metadata` object begin (just past its `{`), in compact
/// JSON as the registry encodes it; `None` for anything else.
fn metadata_start(json: &[u8]) -> Option<usize> {
    let mut at = expect(json, 0, b'{')?;
    loop {
        let key_start = expect(json, at, b'"')?;
        let key_end = string_end(json, key_start)?;
        let value = expect(json, key_end + 1, b':')?;
        if &json[key_start..key_end] == b"metadata" {
            return expect(json, value, b'{');
        }
        at = expect(json, value_end(json, value)?, b',')?;
    }
}

/// The index past `byte` if it is at `at`.
fn expect(json: &[u8], at: usize, byte: u8) -> Option<usize> {
    (json.get(at) == Some(&byte)).then_some(at + 1)
}

/// The index of the quote closing the string whose contents start at `at`.
fn string_end(json: &[u8], mut at: usize) -> Option<usize> {
    loop {
        match json.get(at)? {
            b'"' => return Some(at),
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
}

/// The index just past the value starting at `at`.
fn value_end(json: &[u8], at: usize) -> Option<usize> {
    match json.get(at)? {
        b'"' => Some(string_end(json, at + 1)? + 1),
        b'{' | b'[' => {
            let (mut depth, mut i) = (0usize, at);
            loop {
                match json.get(i)? {
                    b'"' => i = string_end(json, i + 1)?,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
            let len = json[at..].iter().position(|b| matches!(b, b',' | b'}'))?;
            Some(at + len)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What parsing, setting the revision and encoding gives.
    fn parsed(stored: &[u8], rev: Revision) -> Value {
        at_revision(serde_json::from_slice(stored).unwrap(), rev)
    }

    #[test]
    fn the_revision_goes_first_into_metadata() {
        let stored = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{}}"#;
        assert_eq!(
            with_revision(stored, 7).unwrap().as_ref(),
            br#"{"apiVersion":"v1","kind":"Pod","metadata":{"resourceVersion":"7","name":"a"},"spec":{}}"#
        );
        assert_eq!(
            with_revision(br#"{"metadata":{}}"#, 7).unwrap().as_ref(),
            br#"{"metadata":{"resourceVersion":"7"}}"#
        );
    }

    #[test]
    fn members_before_metadata_of_any_shape_are_stepped_over() {
        for stored in [
            &br#"{"a":"x\"metadata\":{","b":{"metadata":{"c":[1,"]}"]}},"count":-1.5e3,"d":null,"e":true,"metadata":{"name":"q"}}"#[..],
            br#"{"action":"Binding","involvedObject":{"kind":"Pod","name":"p"},"metadata":{"name":"p.1"}}"#,
        ] {
            let out = with_revision(stored, 9).unwrap();
            assert!(out.starts_with(&stored[..stored.len() - 20]), "copied as is");
            let sent: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(sent, parsed(stored, 9));
        }
    }

    #[test]
    fn other_shapes_are_parsed_and_encoded() {
        for stored in [
            &br#"{"kind":"X"}"#[..],
            br#"{"kind":"X","metadata":null}"#,
            br#"{ "metadata": {"name":"a"} }"#,
            br#"{"a": "q,", "metadata": {"name":"a"}}"#,
            br#"{"met\u0061data":{"name":"a"}}"#,
        ] {
            let sent: Value = serde_json::from_slice(&with_revision(stored, 3).unwrap()).unwrap();
            assert_eq!(
                sent,
                parsed(stored, 3),
                "{}",
                String::from_utf8_lossy(stored)
            );
        }
        assert_eq!(
            parsed(br#"{"kind":"X"}"#, 3),
            json!({"kind": "X", "metadata": {"resourceVersion": "3"}})
        );
    }

    #[test]
    fn what_does_not_parse_is_an_error() {
        for bad in [&b"{not json"[..], b"", b"[1]", b"{\"a\":\"unterminated"] {
            assert!(with_revision(bad, 1).is_err(), "{bad:?}");
        }
    }
}
