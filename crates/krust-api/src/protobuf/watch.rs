//! Protobuf watch streams, as apimachinery writes them: each `meta/v1.WatchEvent`
//! (`{1: type, 2: object RawExtension {1: raw}}`, `raw` being the object's full protobuf
//! body) encoded by the raw serializer, without magic or envelope, behind the 4-byte
//! big-endian length of `runtime/serializer/protobuf`'s `LengthDelimitedFramer`.

use serde_json::Value;

use super::wire::{self, Wire, put_len_field};
use super::{ProtobufError, convert, decode, encode};

/// The Content-Type of a protobuf watch stream.
pub const WATCH_MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// One frame of a protobuf watch stream: the length, then the `WatchEvent` of
/// `event_type` (`ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`, `ERROR`) and `object`.
pub fn watch_frame(event_type: &str, object: &Value) -> Result<Vec<u8>, ProtobufError> {
    let mut raw = Vec::new();
    put_len_field(&mut raw, 1, &encode(object)?);
    let mut event = Vec::new();
    put_len_field(&mut event, 1, event_type.as_bytes());
    put_len_field(&mut event, 2, &raw);
    let len = u32::try_from(event.len()).map_err(|_| ProtobufError::Unencodable {
        at: "a watch event".into(),
        reason: "larger than 4 GiB".into(),
    })?;
    let mut frame = len.to_be_bytes().to_vec();
    frame.extend(event);
    Ok(frame)
}

/// The event type and object of one `WatchEvent` message (a frame without its length).
pub fn decode_watch_event(message: &[u8]) -> Result<(String, Value), ProtobufError> {
    const AT: &str = "a WatchEvent";
    let (mut event_type, mut raw) = (String::new(), &[][..]);
    for item in wire::fields(message) {
        match item.map_err(|e| convert::wire_error(e, AT))? {
            (1, Wire::Len(t)) => event_type = String::from_utf8_lossy(t).into_owned(),
            (2, Wire::Len(extension)) => {
                for item in wire::fields(extension) {
                    if let (1, Wire::Len(r)) = item.map_err(|e| convert::wire_error(e, AT))? {
                        raw = r;
                    }
                }
            }
            _ => {}
        }
    }
    Ok((event_type, decode(raw)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_watch_frame_is_a_length_and_a_watch_event_holding_the_object() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "resourceVersion": "7", "creationTimestamp": null}});
        let frame = watch_frame("ADDED", &pod).unwrap();
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        assert_eq!(
            decode_watch_event(&frame[4..]).unwrap(),
            ("ADDED".to_owned(), pod)
        );
    }
}
