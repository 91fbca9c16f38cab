//! The JSONPath of client-go's `k8s.io/client-go/util/jsonpath`, as kube-apiserver
//! evaluates a printer column's `jsonPath` (parsed as the template `{<path>}`, missing
//! keys allowed):
//!
//! - fields: `.spec.replicas`, with `\.` for a dot inside a key (`.a\.b`);
//! - quoted keys: `['app\.kubernetes\.io/name']` (re-read as `.key`, so dots need the
//!   same escape, as upstream);
//! - wildcards `.*` and `[*]`, recursive descent `..name`;
//! - indexes and slices `[0]`, `[-1]`, `[1:3]`, `[::2]`, and unions `[0,2]`;
//! - filters `[?(@.type=="Ready")]` with `==`, `!=`, `<`, `>`, `<=`, `>=` against
//!   string, integer, float or boolean literals (or another path), and `[?(@.ready)]`
//!   (the path finds something).
//!
//! As upstream, an evaluation error (an index out of range, a slice or filter of a
//! non-array, a comparison of a number with a string, a filter path with several
//! results) makes the whole path find nothing. Comparisons follow Go's template
//! `eq`/`lt`: integers with integers, floats with floats, strings with strings (by
//! bytes), booleans only for `==` and `!=`.
//!
//! Not supported: `range`/`end` and other identifiers, text outside the braces (several
//! `{…}` blocks), the `\x`/`\u` escapes of quoted literals, and a wildcard over a
//! string's bytes.

use std::borrow::Cow;

use serde_json::Value;

#[cfg(test)]
mod tests;

/// Every value `path` finds in `obj`, in order (object keys sorted); nothing when the
/// path does not parse or its evaluation fails. The path may be given as Kubernetes
/// wraps a column's path (`{.spec.replicas}`) or bare (`.spec.replicas`).
pub fn jsonpath(path: &str, obj: &Value) -> Vec<Value> {
    find(path, obj)
        .map(|found| found.into_iter().map(Cow::into_owned).collect())
        .unwrap_or_default()
}

/// Whether a printer column's `jsonPath` is acceptable in a CRD: a path starting with
/// `.` (the CRD validation's check) that this evaluator parses (the table convertor's
/// check, which upstream only makes when serving the table).
pub fn is_valid_path(path: &str) -> bool {
    path.starts_with('.') && parses(path)
}

/// Whether a bare path (no braces) parses.
pub(super) fn parses(path: &str) -> bool {
    parse(path).is_ok()
}

/// The first value `path` finds in `obj`, if any.
pub(super) fn first(path: &str, obj: &Value) -> Option<Value> {
    find(path, obj)?.into_iter().next().map(Cow::into_owned)
}

/// The values `path` (with or without braces) finds, `None` if it fails.
fn find<'a>(path: &str, obj: &'a Value) -> Option<Found<'a>> {
    let path = path.trim();
    let bare = path
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(path);
    let nodes = parse(bare).ok()?;
    eval(&nodes, vec![Cow::Borrowed(obj)]).ok()
}

/// A step of a parsed path.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// `.name`: the value of a key of an object.
    Field(String),
    /// `.*`: the values of an object, the elements of an array.
    Wildcard,
    /// `..`: every value that has children, with its descendants that have children.
    Recursive,
    /// `[i]`, `[start:end:step]`, `[*]`.
    Slice(Slice),
    /// `[a,b]`: the results of each bracket, in turn.
    Union(Vec<Vec<Node>>),
    /// `[?(left op right)]`; `op` is `None` for `[?(left)]`.
    Filter {
        left: Vec<Node>,
        op: Option<String>,
        right: Vec<Node>,
    },
    /// A literal (`'text'`, `"text"`, `1`, `1.5`, `true`), once per current value.
    Literal(Value),
}

/// The bounds of `[start:end:step]`; `single` for an index `[i]` (its end `i + 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Slice {
    start: Option<i64>,
    end: Option<i64>,
    step: Option<i64>,
    single: bool,
}

/// A path that does not parse.
#[derive(Debug)]
struct Invalid;

/// A path whose evaluation fails.
#[derive(Debug)]
struct Failed;

/// The values found so far: parts of the object, or literals.
type Found<'a> = Vec<Cow<'a, Value>>;

// Parsing.

/// Parses the inside of one `{…}` action.
fn parse(mut s: &str) -> Result<Vec<Node>, Invalid> {
    let mut nodes = Vec::new();
    while let Some(c) = s.chars().next() {
        if let Some(rest) = s.strip_prefix("[?(") {
            s = filter(rest, &mut nodes)?;
        } else if let Some(rest) = s.strip_prefix("..") {
            if nodes.last() == Some(&Node::Recursive) {
                return Err(Invalid);
            }
            nodes.push(Node::Recursive);
            s = if rest.starts_with(is_alphanumeric) {
                field(rest, &mut nodes)
            } else {
                rest
            };
        } else {
            let rest = &s[c.len_utf8()..];
            s = match c {
                ' ' | '@' | '$' => rest,
                '.' => field(rest, &mut nodes),
                '[' => array(rest, &mut nodes)?,
                '"' | '\'' => quoted(c, rest, &mut nodes)?,
                '+' | '-' | '0'..='9' => number(s, &mut nodes)?,
                c if is_alphanumeric(c) => identifier(s, &mut nodes)?,
                _ => return Err(Invalid),
            };
        }
    }
    Ok(nodes)
}

/// A field name up to the next unescaped terminator (backslashes dropped); `*` is the
/// wildcard.
fn field<'s>(s: &'s str, nodes: &mut Vec<Node>) -> &'s str {
    let mut chars = s.char_indices();
    let mut end = s.len();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            chars.next();
        } else if is_terminator(c) {
            end = i;
            break;
        }
    }
    let name = &s[..end];
    nodes.push(if name == "*" {
        Node::Wildcard
    } else {
        Node::Field(name.replace('\\', ""))
    });
    &s[end..]
}

/// `[…]` after its `[`: a union, a quoted key, or a slice.
fn array<'s>(s: &'s str, nodes: &mut Vec<Node>) -> Result<&'s str, Invalid> {
    let end = s.find(']').ok_or(Invalid)?;
    let text = &s[..end];
    if text.contains('\n') {
        return Err(Invalid);
    }
    let text = if text == "*" { ":" } else { text };
    if text.contains(',') {
        let paths = text
            .split(',')
            .map(|part| parse(&format!("[{}]", part.trim_matches(' '))))
            .collect::<Result<_, _>>()?;
        nodes.push(Node::Union(paths));
    } else if let Some(key) = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .filter(|key| !key.contains('\''))
    {
        nodes.extend(parse(&format!(".{key}"))?);
    } else {
        nodes.push(Node::Slice(slice(text)?));
    }
    Ok(&s[end + 1..])
}

/// `i`, `start:end` or `start:end:step`, each part optional.
fn slice(text: &str) -> Result<Slice, Invalid> {
    let parts: Vec<&str> = text.split(':').collect();
    let number = |part: &str| -> Result<Option<i64>, Invalid> {
        let digits = part.strip_prefix('-').unwrap_or(part);
        if part.is_empty() {
            Ok(None)
        } else if digits.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().map(Some).map_err(|_| Invalid)
        } else {
            Err(Invalid)
        }
    };
    let start = number(parts[0])?;
    match parts[1..] {
        [] => Ok(Slice {
            start,
            end: Some(start.unwrap_or(0).checked_add(1).ok_or(Invalid)?),
            step: None,
            single: true,
        }),
        [end] | [end, _] => Ok(Slice {
            start,
            end: number(end)?,
            step: parts.get(2).map(|s| number(s)).transpose()?.flatten(),
            single: false,
        }),
        _ => Err(Invalid),
    }
}

/// `[?(…)]` after its `[?(`: up to the `)` outside a quoted literal, then `]`.
fn filter<'s>(s: &'s str, nodes: &mut Vec<Node>) -> Result<&'s str, Invalid> {
    let (mut quote, mut closed, mut prev) = (None, false, '(');
    let mut end = None;
    for (i, c) in s.char_indices() {
        match c {
            '\n' => return Err(Invalid),
            '"' | '\'' => match quote {
                None => quote = Some(c),
                Some(q) => closed |= c == q && prev != '\\',
            },
            ')' if quote.is_some() == closed => {
                end = Some(i);
                break;
            }
            _ => {}
        }
        prev = c;
    }
    let end = end.ok_or(Invalid)?;
    let rest = s[end + 1..].strip_prefix(']').ok_or(Invalid)?;
    let text = &s[..end];
    // `left op right`: the operator is the first run of `!<>=~` after a non-empty left,
    // leaving at least one character on the right.
    let comparison = text
        .find(['!', '<', '>', '='])
        .filter(|&i| i > 0)
        .and_then(|i| {
            let run = text[i..]
                .find(|c| !"!<>=~".contains(c))
                .unwrap_or(text.len() - i - 1);
            (run > 0).then(|| (&text[..i], &text[i..i + run], &text[i + run..]))
        });
    nodes.push(match comparison {
        Some((left, op, right)) => Node::Filter {
            left: parse(left)?,
            op: Some(op.to_string()),
            right: parse(right)?,
        },
        None => Node::Filter {
            left: parse(text)?,
            op: None,
            right: Vec::new(),
        },
    });
    Ok(rest)
}

/// A quoted literal after its opening quote `q`, up to the next unescaped `q`.
fn quoted<'s>(q: char, s: &'s str, nodes: &mut Vec<Node>) -> Result<&'s str, Invalid> {
    let mut prev = q;
    let mut end = None;
    for (i, c) in s.char_indices() {
        if c == '\n' {
            return Err(Invalid);
        }
        if c == q && prev != '\\' {
            end = Some(i);
            break;
        }
        prev = c;
    }
    let end = end.ok_or(Invalid)?;
    nodes.push(Node::Literal(Value::String(unquote(&s[..end], q)?)));
    Ok(&s[end + 1..])
}

/// The text of a quoted literal, its backslash escapes resolved.
fn unquote(body: &str, q: char) -> Result<String, Invalid> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next().ok_or(Invalid)? {
            'a' => '\x07',
            'b' => '\x08',
            'f' => '\x0c',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\x0b',
            '\\' => '\\',
            c if c == q => c,
            _ => return Err(Invalid),
        });
    }
    Ok(out)
}

/// An integer or float literal: an optional sign, then digits and dots.
fn number<'s>(s: &'s str, nodes: &mut Vec<Node>) -> Result<&'s str, Invalid> {
    let sign = usize::from(s.starts_with(['+', '-']));
    let end = s[sign..]
        .find(|c: char| c != '.' && !c.is_ascii_digit())
        .map_or(s.len(), |i| i + sign);
    let text = &s[..end];
    let value = match text.parse::<i64>() {
        Ok(i) => Value::from(i),
        Err(_) => Value::from(text.parse::<f64>().map_err(|_| Invalid)?),
    };
    nodes.push(Node::Literal(value));
    Ok(&s[end..])
}

/// A bare word: `true` or `false` (other identifiers, `range` and `end`, are not
/// supported).
fn identifier<'s>(s: &'s str, nodes: &mut Vec<Node>) -> Result<&'s str, Invalid> {
    let end = s.find(is_terminator).unwrap_or(s.len());
    let value = match &s[..end] {
        "true" => true,
        "false" => false,
        _ => return Err(Invalid),
    };
    nodes.push(Node::Literal(Value::Bool(value)));
    Ok(&s[end..])
}

/// A character that ends a field name or identifier.
fn is_terminator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}'
    )
}

/// A letter, digit or `_`.
fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

// Evaluation.

/// Applies the nodes in turn to the current values.
fn eval<'a>(nodes: &[Node], mut found: Found<'a>) -> Result<Found<'a>, Failed> {
    for node in nodes {
        found = step(node, found)?;
    }
    Ok(found)
}

/// Applies one node to every current value.
fn step<'a>(node: &Node, input: Found<'a>) -> Result<Found<'a>, Failed> {
    let mut out = Vec::new();
    match node {
        Node::Literal(literal) => out.extend(input.iter().map(|_| Cow::Owned(literal.clone()))),
        Node::Union(paths) => {
            for path in paths {
                out.extend(eval(path, input.clone())?);
            }
        }
        _ => {
            for value in input {
                match value {
                    Cow::Borrowed(v) => out.extend(select(node, v)?.into_iter().map(Cow::Borrowed)),
                    Cow::Owned(v) => {
                        out.extend(select(node, &v)?.into_iter().map(|v| Cow::Owned(v.clone())))
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The values a navigating node selects in one value.
fn select<'a>(node: &Node, value: &'a Value) -> Result<Vec<&'a Value>, Failed> {
    match (node, value) {
        (Node::Field(key), Value::Object(map)) => Ok(map.get(key).into_iter().collect()),
        (Node::Wildcard, _) => Ok(children(value)),
        (Node::Recursive, _) => {
            let mut out = Vec::new();
            descend(value, &mut out);
            Ok(out)
        }
        (Node::Slice(slice), Value::Array(items)) => slice.select(items),
        (Node::Filter { left, op, right }, Value::Array(items)) => {
            filter_items(left, op.as_deref(), right, items)
        }
        // A null is skipped by a slice, but not by a filter.
        (Node::Field(_), _) | (Node::Slice(_), Value::Null) => Ok(Vec::new()),
        _ => Err(Failed),
    }
}

/// The values of an object, the elements of an array, nothing for a scalar.
fn children(value: &Value) -> Vec<&Value> {
    match value {
        Value::Object(map) => map.values().collect(),
        Value::Array(items) => items.iter().collect(),
        _ => Vec::new(),
    }
}

/// `value` if it has children, then the same for each of them, depth first.
fn descend<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    let children = children(value);
    if !children.is_empty() {
        out.push(value);
        for child in children {
            descend(child, out);
        }
    }
}

impl Slice {
    /// The selected elements; out-of-range bounds fail, an empty range selects nothing.
    fn select<'a>(&self, items: &'a [Value]) -> Result<Vec<&'a Value>, Failed> {
        let len = items.len() as i64;
        let mut start = self.start.unwrap_or(0);
        if start < 0 {
            start += len;
        }
        let mut end = self.end.unwrap_or(len);
        if end < 0 || (end == 0 && self.single) {
            end += len;
        }
        if start == end {
            return Ok(Vec::new());
        }
        if start < 0 || start >= len || end < 0 || end > len || start > end {
            return Err(Failed);
        }
        let step = match self.step {
            None => 1,
            Some(step) if step > 0 => step as usize,
            Some(_) => return Err(Failed),
        };
        Ok(items[start as usize..end as usize]
            .iter()
            .step_by(step)
            .collect())
    }
}

/// The elements of an array a filter keeps.
fn filter_items<'a>(
    left: &[Node],
    op: Option<&str>,
    right: &[Node],
    items: &'a [Value],
) -> Result<Vec<&'a Value>, Failed> {
    let mut out = Vec::new();
    for item in items {
        let lefts = eval(left, vec![Cow::Borrowed(item)]);
        let Some(op) = op else {
            if lefts.is_ok_and(|found| !found.is_empty()) {
                out.push(item);
            }
            continue;
        };
        let Some(l) = single(lefts?)? else { continue };
        let Some(r) = single(eval(right, vec![Cow::Borrowed(item)])?)? else {
            continue;
        };
        if compare(op, &l, &r)? {
            out.push(item);
        }
    }
    Ok(out)
}

/// The one value a filter operand found: none is `None`, several fail.
fn single(found: Found<'_>) -> Result<Option<Cow<'_, Value>>, Failed> {
    let mut found = found.into_iter();
    match (found.next(), found.next()) {
        (value, None) => Ok(value),
        _ => Err(Failed),
    }
}

/// A value as Go's template comparisons see it.
#[derive(PartialEq, PartialOrd)]
enum Scalar<'v> {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'v str),
}

impl<'v> Scalar<'v> {
    /// Booleans, numbers (integers if they have no fraction or exponent) and strings;
    /// nulls, arrays and objects are not comparable.
    fn of(value: &'v Value) -> Result<Self, Failed> {
        match value {
            Value::Bool(b) => Ok(Self::Bool(*b)),
            Value::Number(n) => Ok(n
                .as_i64()
                .map_or_else(|| Self::Float(n.as_f64().unwrap_or(f64::NAN)), Self::Int)),
            Value::String(s) => Ok(Self::Str(s)),
            _ => Err(Failed),
        }
    }

    /// Go's `eq`: values of the same kind only.
    fn equal(&self, other: &Self) -> Result<bool, Failed> {
        if std::mem::discriminant(self) == std::mem::discriminant(other) {
            Ok(self == other)
        } else {
            Err(Failed)
        }
    }

    /// Go's `lt`: numbers or strings of the same kind only.
    fn less(&self, other: &Self) -> Result<bool, Failed> {
        match (self, other) {
            (Self::Int(_), Self::Int(_))
            | (Self::Float(_), Self::Float(_))
            | (Self::Str(_), Self::Str(_)) => Ok(self < other),
            _ => Err(Failed),
        }
    }
}

/// `left op right`, as Go's template functions compare.
fn compare(op: &str, left: &Value, right: &Value) -> Result<bool, Failed> {
    let (l, r) = (Scalar::of(left)?, Scalar::of(right)?);
    match op {
        "==" => l.equal(&r),
        "!=" => l.equal(&r).map(|eq| !eq),
        "<" => l.less(&r),
        ">=" => l.less(&r).map(|lt| !lt),
        "<=" => Ok(l.less(&r)? || l.equal(&r)?),
        ">" => Ok(!(l.less(&r)? || l.equal(&r)?)),
        _ => Err(Failed),
    }
}
