//! Label selectors: `labels.NewRequirement` and
//! `metav1.LabelSelectorAsSelector`, with their matching and `String()` forms.

use std::fmt;

use serde_json::{Map, Value};

use super::parser::Parser;
use super::validation::{
    aggregate, go_quote, go_string_slice, invalid, is_qualified_name, is_valid_label_value,
};
use super::{SelectorError, label_value};

/// A label selector operator (`selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)`
    NotIn,
    /// `key=value`
    Equals,
    /// `key==value`
    DoubleEquals,
    /// `key!=value`
    NotEquals,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>3`
    GreaterThan,
    /// `key<3`
    LessThan,
}

/// One requirement of a label selector: a key, an operator and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    op: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// `labels.NewRequirement` (with no field path): validates the key, the number of
    /// values for the operator, integer values for `>`/`<`, and each value.
    /// `values` is `None` for a nil slice (it only shows in error messages).
    pub fn new(
        key: &str,
        op: Operator,
        values: Option<Vec<String>>,
    ) -> Result<Self, SelectorError> {
        let mut errs = Vec::new();
        let key_errs = is_qualified_name(key);
        if !key_errs.is_empty() {
            errs.push(invalid("key", &go_quote(key), &key_errs.join("; ")));
        }
        let repr = go_string_slice(values.as_deref());
        let vals = values.clone().unwrap_or_default();
        match op {
            Operator::In | Operator::NotIn if vals.is_empty() => errs.push(invalid(
                "values",
                &repr,
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if vals.len() != 1 => {
                errs.push(invalid(
                    "values",
                    &repr,
                    "exact-match compatibility requires one single value",
                ))
            }
            Operator::Exists | Operator::DoesNotExist if !vals.is_empty() => errs.push(invalid(
                "values",
                &repr,
                "values set must be empty for exists and does not exist",
            )),
            Operator::GreaterThan | Operator::LessThan => {
                if vals.len() != 1 {
                    errs.push(invalid(
                        "values",
                        &repr,
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in vals.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(invalid(
                            &format!("values[{i}]"),
                            &go_quote(v),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in vals.iter().enumerate() {
            let v_errs = is_valid_label_value(v);
            if !v_errs.is_empty() {
                errs.push(invalid(
                    &format!("values[{i}][{key}]"),
                    &go_quote(v),
                    &v_errs.join("; "),
                ));
            }
        }
        match aggregate(errs) {
            Some(msg) => Err(SelectorError::new(msg)),
            None => Ok(Self {
                key: key.to_string(),
                op,
                values: vals,
            }),
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.op
    }

    /// The values, as given.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether a label set satisfies this requirement (`Requirement.Matches`).
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let found = labels.and_then(|l| l.get(&self.key)).map(label_value);
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.op {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                found.is_some_and(|v| has(&v))
            }
            Operator::NotIn | Operator::NotEquals => found.is_none_or(|v| !has(&v)),
            Operator::Exists => found.is_some(),
            Operator::DoesNotExist => found.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(v), [want]) = (found, self.values.as_slice()) else {
                    return false;
                };
                match (v.parse::<i64>(), want.parse::<i64>()) {
                    (Ok(v), Ok(w)) if self.op == Operator::GreaterThan => v > w,
                    (Ok(v), Ok(w)) => v < w,
                    _ => false,
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.op {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let set = matches!(self.op, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        let mut vals = self.values.clone();
        vals.sort();
        f.write_str(&vals.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A label selector: requirements that must all hold. It may also be the "nothing"
/// selector (from an absent `metav1.LabelSelector`), which matches no labels at all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        Self::default()
    }

    /// The selector that matches nothing (`labels.Nothing()`).
    pub fn nothing() -> Self {
        Self {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses the string form (`labels.Parse`): `a=b,c!=d,e in (x,y),f notin (z),g,!h`,
    /// also `==`, and `>`/`<` with integer values. Errors are worded as Kubernetes
    /// words them (`unable to parse requirement: …`, `found 'x', expected: …`).
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut requirements = Parser::new(s).parse().map_err(SelectorError::new)?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            nothing: false,
        })
    }

    /// Builds a selector from a `metav1.LabelSelector` object (`matchLabels` and
    /// `matchExpressions` with `In`, `NotIn`, `Exists`, `DoesNotExist`), as
    /// `metav1.LabelSelectorAsSelector` does: `null`/absent matches nothing, an empty
    /// selector matches everything.
    pub fn from_object(v: &Value) -> Result<Self, SelectorError> {
        if v.is_null() {
            return Ok(Self::nothing());
        }
        let match_labels = v.get("matchLabels").and_then(Value::as_object);
        let exprs = v.get("matchExpressions").and_then(Value::as_array);
        let mut requirements = Vec::new();
        for (k, val) in match_labels.into_iter().flatten() {
            requirements.push(Requirement::new(
                k,
                Operator::Equals,
                Some(vec![label_value(val)]),
            )?);
        }
        for e in exprs.into_iter().flatten() {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let op_name = e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let op = match op_name {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError::new(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    )));
                }
            };
            let values = e
                .get("values")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .map(|a| a.iter().map(label_value).collect());
            requirements.push(Requirement::new(key, op, values)?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            nothing: false,
        })
    }

    /// Whether the labels (a `metadata.labels` map; `None` for no labels) match.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether the selector does not restrict anything (matches everything).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

impl fmt::Display for LabelSelector {
    /// `Selector.String()`: requirements sorted by key, joined by `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}
