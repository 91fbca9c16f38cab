//! Label selectors and node selector terms, compiled once per pod and matched against label
//! maps without conversions.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelector, NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use krust_api::selectors::{LabelSelector as ApiSelector, Operator};

pub type Labels = BTreeMap<String, String>;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Req {
    key: String,
    op: Op,
    values: Vec<String>,
}

impl Req {
    fn matches(&self, labels: &Labels) -> bool {
        let found = labels.get(&self.key);
        match &self.op {
            Op::In => found.is_some_and(|v| self.values.contains(v)),
            Op::NotIn => found.is_none_or(|v| !self.values.contains(v)),
            Op::Exists => found.is_some(),
            Op::DoesNotExist => found.is_none(),
            Op::Gt(want) => found
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > *want),
            Op::Lt(want) => found
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < *want),
        }
    }
}

/// A compiled `metav1.LabelSelector` (`LabelSelectorAsSelector`): absent matches nothing,
/// empty matches everything.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Selector {
    reqs: Vec<Req>,
    nothing: bool,
}

impl Selector {
    pub fn nothing() -> Self {
        Self {
            reqs: Vec::new(),
            nothing: true,
        }
    }

    /// Compiles a label selector; an invalid one (bad operator, key or value) is an error,
    /// as `metav1.LabelSelectorAsSelector` makes it.
    pub fn compile(sel: Option<&LabelSelector>) -> Result<Self, String> {
        let Some(sel) = sel else {
            return Ok(Self::nothing());
        };
        let value = serde_json::to_value(sel).map_err(|e| e.to_string())?;
        let parsed = ApiSelector::from_object(&value).map_err(|e| e.to_string())?;
        let reqs = parsed
            .requirements()
            .iter()
            .map(|r| Req {
                key: r.key().to_string(),
                op: match r.operator() {
                    Operator::NotIn | Operator::NotEquals => Op::NotIn,
                    Operator::Exists => Op::Exists,
                    Operator::DoesNotExist => Op::DoesNotExist,
                    _ => Op::In,
                },
                values: r.values().to_vec(),
            })
            .collect();
        Ok(Self {
            reqs,
            nothing: false,
        })
    }

    /// Adds `key in (value)` (the `matchLabelKeys` merge).
    pub fn require(&mut self, key: &str, value: &str) {
        self.reqs.push(Req {
            key: key.to_string(),
            op: Op::In,
            values: vec![value.to_string()],
        });
    }

    /// Adds `key notin (value)` (the `mismatchLabelKeys` merge).
    pub fn forbid(&mut self, key: &str, value: &str) {
        self.reqs.push(Req {
            key: key.to_string(),
            op: Op::NotIn,
            values: vec![value.to_string()],
        });
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        !self.nothing && self.reqs.iter().all(|r| r.matches(labels))
    }

    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    pub fn is_everything(&self) -> bool {
        !self.nothing && self.reqs.is_empty()
    }
}

/// One compiled `NodeSelectorTerm`: label expressions and `metadata.name` field expressions,
/// all of which must hold. A term with nothing in it, or with an invalid expression,
/// matches no node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTerm {
    labels: Vec<Req>,
    fields: Vec<Req>,
    valid: bool,
}

impl NodeTerm {
    pub fn compile(term: &NodeSelectorTerm) -> Self {
        let exprs = term.match_expressions.as_deref().unwrap_or_default();
        let fields = term.match_fields.as_deref().unwrap_or_default();
        let labels: Option<Vec<Req>> = exprs.iter().map(label_req).collect();
        let fields: Option<Vec<Req>> = fields.iter().map(field_req).collect();
        match (labels, fields) {
            (Some(labels), Some(fields)) => {
                let valid = !labels.is_empty() || !fields.is_empty();
                Self {
                    labels,
                    fields,
                    valid,
                }
            }
            _ => Self {
                labels: vec![],
                fields: vec![],
                valid: false,
            },
        }
    }

    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        if !self.valid || !self.labels.iter().all(|r| r.matches(labels)) {
            return false;
        }
        self.fields.iter().all(|r| {
            let found = r.values.first().is_some_and(|v| v == node_name);
            if r.op == Op::In { found } else { !found }
        })
    }

    /// The node names this term is limited to (`matchFields metadata.name In`), if any.
    pub fn node_names(&self) -> Option<&str> {
        self.fields
            .iter()
            .find(|r| r.op == Op::In)
            .and_then(|r| r.values.first().map(String::as_str))
    }
}

fn label_req(r: &NodeSelectorRequirement) -> Option<Req> {
    let values = r.values.clone().unwrap_or_default();
    let single_int = || match values.as_slice() {
        [v] => v.parse::<i64>().ok(),
        _ => None,
    };
    let op = match r.operator.as_str() {
        "In" if !values.is_empty() => Op::In,
        "NotIn" if !values.is_empty() => Op::NotIn,
        "Exists" if values.is_empty() => Op::Exists,
        "DoesNotExist" if values.is_empty() => Op::DoesNotExist,
        "Gt" => Op::Gt(single_int()?),
        "Lt" => Op::Lt(single_int()?),
        _ => return None,
    };
    Some(Req {
        key: r.key.clone(),
        op,
        values,
    })
}

/// `nodeSelectorRequirementsAsFieldSelector`: only `metadata.name`, `In`/`NotIn`, one value.
fn field_req(r: &NodeSelectorRequirement) -> Option<Req> {
    let values = r.values.clone().unwrap_or_default();
    if r.key != "metadata.name" || values.len() != 1 {
        return None;
    }
    let op = match r.operator.as_str() {
        "In" => Op::In,
        "NotIn" => Op::NotIn,
        _ => return None,
    };
    Some(Req {
        key: r.key.clone(),
        op,
        values,
    })
}

/// A compiled required `NodeSelector`: the terms are ORed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSelectorC {
    pub terms: Vec<NodeTerm>,
}

impl NodeSelectorC {
    pub fn compile(sel: &NodeSelector) -> Self {
        Self {
            terms: sel
                .node_selector_terms
                .iter()
                .map(NodeTerm::compile)
                .collect(),
        }
    }

    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        self.terms.iter().any(|t| t.matches(node_name, labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn label_selectors() {
        assert!(!Selector::compile(None).unwrap().matches(&labels(&[])));
        let all = Selector::compile(Some(&LabelSelector::default())).unwrap();
        assert!(all.matches(&labels(&[])) && all.is_everything());
        let sel = Selector::compile(Some(&LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["db".into()]),
            }]),
        }))
        .unwrap();
        assert!(sel.matches(&labels(&[("app", "web")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!sel.matches(&labels(&[("app", "api")])));
        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Gt".into(),
                values: Some(vec!["1".into()]),
            }]),
            ..Default::default()
        };
        assert!(Selector::compile(Some(&bad)).is_err());
    }

    #[test]
    fn node_terms() {
        let l = labels(&[("zone", "a"), ("cores", "8")]);
        let t = |e: Vec<NodeSelectorRequirement>, f: Vec<NodeSelectorRequirement>| {
            NodeTerm::compile(&NodeSelectorTerm {
                match_expressions: Some(e),
                match_fields: Some(f),
            })
        };
        assert!(t(vec![expr("zone", "In", &["a", "b"])], vec![]).matches("n", &l));
        assert!(!t(vec![expr("zone", "NotIn", &["a"])], vec![]).matches("n", &l));
        assert!(t(vec![expr("cores", "Gt", &["4"])], vec![]).matches("n", &l));
        assert!(!t(vec![expr("cores", "Lt", &["4"])], vec![]).matches("n", &l));
        assert!(!t(vec![expr("cores", "Gt", &["x"])], vec![]).matches("n", &l));
        assert!(t(vec![expr("gpu", "DoesNotExist", &[])], vec![]).matches("n", &l));
        assert!(!t(vec![expr("gpu", "Exists", &[])], vec![]).matches("n", &l));
        assert!(!t(vec![], vec![]).matches("n", &l));
        let by_name = t(vec![], vec![expr("metadata.name", "In", &["n"])]);
        assert!(by_name.matches("n", &l) && !by_name.matches("m", &l));
        assert_eq!(by_name.node_names(), Some("n"));
        assert!(t(vec![], vec![expr("metadata.name", "NotIn", &["m"])]).matches("n", &l));
        assert!(!t(vec![], vec![expr("metadata.name", "In", &["n", "m"])]).matches("n", &l));
    }
}
