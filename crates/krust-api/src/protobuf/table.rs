//! The message-descriptor table that drives decoding, parsed once from the checked-in
//! `messages.txt` (its header comment describes the format).

use std::collections::HashMap;
use std::sync::OnceLock;

/// What one value of a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Base {
    String,
    Int32,
    Int64,
    Bool,
    /// Raw bytes, base64 in JSON.
    Bytes,
    /// `meta/v1.Time`: `{1: seconds, 2: nanos}`, RFC 3339 in whole seconds in JSON.
    Time,
    /// `meta/v1.MicroTime`: `{1: seconds, 2: nanos}`, RFC 3339 with microseconds in JSON.
    MicroTime,
    /// `meta/v1.FieldsV1`, `runtime.RawExtension`: `{1: raw}`, the raw bytes being JSON.
    Json,
    /// `util/intstr.IntOrString`: `{1: type, 2: intVal, 3: strVal}`.
    IntOrString,
    /// `api/resource.Quantity`: `{1: string}`.
    Quantity,
    /// A named `[]string` as a map's value (`ExtraValue`): `{1: repeated string}`, a JSON
    /// list of strings.
    Strings,
    /// Another message of the table, by index.
    Message(usize),
}

impl Base {
    /// Whether values of this base travel as varints (and may be packed when repeated).
    pub(super) fn is_varint(self) -> bool {
        matches!(self, Base::Int32 | Base::Int64 | Base::Bool)
    }

    /// Whether this is a plain scalar, the only kind Go's `omitempty` can drop.
    pub(super) fn is_scalar(self) -> bool {
        self.is_varint() || matches!(self, Base::String | Base::Bytes)
    }
}

/// How many values a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// One value; `keep_zero` keeps a zero scalar in JSON instead of dropping it.
    Single { keep_zero: bool },
    /// A JSON array.
    Repeated,
    /// A JSON object: repeated `{1: key, 2: value}` entries.
    Map,
}

/// One field of a message.
#[derive(Debug)]
pub(super) struct Field {
    pub number: u32,
    /// The JSON key, or `-` to merge the (message) value into the parent object.
    pub json: &'static str,
    pub base: Base,
    pub shape: Shape,
}

impl Field {
    /// Whether the field's message is inlined into its parent (Go `json:",inline"`).
    pub(super) fn inline(&self) -> bool {
        self.json == "-"
    }
}

/// One message type.
#[derive(Debug)]
pub(super) struct Message {
    pub name: &'static str,
    pub fields: Vec<Field>,
}

impl Message {
    /// The field with this number, if the table lists it.
    pub(super) fn field(&self, number: u32) -> Option<&Field> {
        self.fields.iter().find(|f| f.number == number)
    }
}

/// All message types, and the top-level kinds among them.
#[derive(Debug)]
pub(super) struct Table {
    messages: Vec<Message>,
    kinds: HashMap<(&'static str, &'static str), usize>,
}

impl Table {
    /// The message at `index` (as found in [`Base::Message`]).
    pub(super) fn message(&self, index: usize) -> &Message {
        &self.messages[index]
    }

    /// The message of a top-level kind: listed under this apiVersion, or under `*` (any).
    pub(super) fn kind(&self, api_version: &str, kind: &str) -> Option<&Message> {
        self.kinds
            .get(&(api_version, kind))
            .or_else(|| self.kinds.get(&("*", kind)))
            .map(|&i| &self.messages[i])
    }

    /// The `(apiVersion, kind)` pairs the table can decode, sorted (`*`: any apiVersion).
    pub(super) fn kinds(&self) -> Vec<(&'static str, &'static str)> {
        let mut kinds: Vec<_> = self.kinds.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }
}

/// The table from `messages.txt`.
pub(super) fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        parse(include_str!("messages.txt")).unwrap_or_else(|e| panic!("protobuf/messages.txt: {e}"))
    })
}

/// Parses the table text; errors name the offending line.
pub(super) fn parse(text: &'static str) -> Result<Table, String> {
    // First pass: names and raw field lines; second pass: resolve type names.
    let mut raw: Vec<(&'static str, Vec<(usize, &'static str)>)> = Vec::new();
    let mut kinds = HashMap::new();
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        let content = line.split('#').next().unwrap_or_default();
        if content.trim().is_empty() {
            continue;
        }
        if content.starts_with(char::is_whitespace) {
            let (_, fields) = raw
                .last_mut()
                .ok_or(format!("line {n}: field before any message"))?;
            fields.push((n, content));
            continue;
        }
        match content.split_whitespace().collect::<Vec<_>>()[..] {
            [name] => raw.push((name, Vec::new())),
            [name, api_version, kind] => {
                if kinds.insert((api_version, kind), raw.len()).is_some() {
                    return Err(format!("line {n}: kind {api_version} {kind} listed twice"));
                }
                raw.push((name, Vec::new()));
            }
            _ => {
                return Err(format!(
                    "line {n}: expected `Name` or `Name apiVersion Kind`"
                ));
            }
        }
    }
    let mut index = HashMap::new();
    for (i, (name, _)) in raw.iter().enumerate() {
        if index.insert(*name, i).is_some() {
            return Err(format!("message {name} listed twice"));
        }
    }
    let mut messages = Vec::with_capacity(raw.len());
    for (name, lines) in raw {
        let mut fields: Vec<Field> = Vec::with_capacity(lines.len());
        for (n, line) in lines {
            let field = parse_field(line, &index).map_err(|e| format!("line {n}: {e}"))?;
            if fields.iter().any(|f| f.number == field.number) {
                return Err(format!(
                    "line {n}: field number {} repeated in {name}",
                    field.number
                ));
            }
            fields.push(field);
        }
        messages.push(Message { name, fields });
    }
    Ok(Table { messages, kinds })
}

fn parse_field(line: &'static str, index: &HashMap<&str, usize>) -> Result<Field, String> {
    let [number, json, ty] = line.split_whitespace().collect::<Vec<_>>()[..] else {
        return Err("expected `number jsonName type`".into());
    };
    let number: u32 = number
        .parse()
        .map_err(|_| format!("bad field number {number:?}"))?;
    if number == 0 || number >= 1 << 29 {
        return Err(format!("field number {number} out of range"));
    }
    let (shape, name) = if let Some(rest) = ty.strip_prefix("[]") {
        (Shape::Repeated, rest)
    } else if let Some(rest) = ty.strip_prefix("map[").and_then(|r| r.strip_suffix(']')) {
        (Shape::Map, rest)
    } else if let Some(rest) = ty.strip_prefix('*') {
        (Shape::Single { keep_zero: true }, rest)
    } else {
        (Shape::Single { keep_zero: false }, ty)
    };
    let base = match name {
        "string" => Base::String,
        "int32" => Base::Int32,
        "int64" => Base::Int64,
        "bool" => Base::Bool,
        "bytes" => Base::Bytes,
        "Time" => Base::Time,
        "MicroTime" => Base::MicroTime,
        "Json" => Base::Json,
        "IntOrString" => Base::IntOrString,
        "Quantity" => Base::Quantity,
        "Strings" => Base::Strings,
        _ => Base::Message(*index.get(name).ok_or(format!("unknown type {name}"))?),
    };
    if shape == (Shape::Single { keep_zero: true }) && !base.is_scalar() {
        return Err(format!("`*` applies to scalars only, not {name}"));
    }
    if json == "-" && !(matches!(base, Base::Message(_)) && matches!(shape, Shape::Single { .. })) {
        return Err("only a single message field can be inlined".into());
    }
    Ok(Field {
        number,
        json,
        base,
        shape,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_table_parses_and_resolves_every_type() {
        let table = table();
        let deployment = table.kind("apps/v1", "Deployment").unwrap();
        let spec = deployment.field(2).unwrap();
        assert_eq!(
            (spec.json, spec.shape),
            ("spec", Shape::Single { keep_zero: false })
        );
        let Base::Message(i) = spec.base else {
            panic!("spec is a message")
        };
        let replicas = table.message(i).field(1).unwrap();
        assert_eq!((replicas.json, replicas.base), ("replicas", Base::Int32));
        assert_eq!(replicas.shape, Shape::Single { keep_zero: true });
        assert!(table.kinds().contains(&("v1", "Secret")));
    }

    #[test]
    fn protobuf_table_rejects_bad_lines() {
        assert!(
            parse("A\n  1 x Nope\n")
                .unwrap_err()
                .contains("unknown type Nope")
        );
        assert!(
            parse("A\n  1 x string\n  1 y string\n")
                .unwrap_err()
                .contains("repeated")
        );
        assert!(
            parse("  1 x string\n")
                .unwrap_err()
                .contains("before any message")
        );
        assert!(parse("A\n  1 - string\n").unwrap_err().contains("inlined"));
        assert!(parse("A\n  1 x *A\n").unwrap_err().contains("scalars only"));
    }
}
