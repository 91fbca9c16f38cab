//! TaintToleration: a pod must tolerate every `NoSchedule` and `NoExecute` taint of a node.

use k8s_openapi::api::core::v1::{Taint, Toleration};

use super::{Failure, Plugin};
use crate::cache::NodeData;
use crate::podinfo::PodInfo;

/// `Toleration.ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    if let Some(key) = t.key.as_deref().filter(|k| !k.is_empty())
        && key != taint.key
    {
        return false;
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The first `NoSchedule`/`NoExecute` taint the tolerations do not tolerate.
pub fn untolerated<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerated(tolerations, t))
}

pub fn filter(pod: &PodInfo, node: &NodeData) -> Option<Failure> {
    let taint = untolerated(&node.taints, &pod.tolerations)?;
    Some(Failure::unresolvable(
        Plugin::TaintToleration,
        format!(
            "node(s) had untolerated taint {{{}: {}}}",
            taint.key,
            taint.value.as_deref().unwrap_or("")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{info, pod};

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: (!value.is_empty()).then(|| value.into()),
            effect: effect.into(),
            ..Default::default()
        }
    }

    fn toleration(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        let s = |v: &str| (!v.is_empty()).then(|| v.to_string());
        Toleration {
            key: s(key),
            operator: s(op),
            value: s(value),
            effect: s(effect),
            ..Default::default()
        }
    }

    #[test]
    fn toleration_matching() {
        let t = taint("dedicated", "gpu", "NoSchedule");
        assert!(tolerates(&toleration("dedicated", "Equal", "gpu", ""), &t));
        assert!(tolerates(
            &toleration("dedicated", "", "gpu", "NoSchedule"),
            &t
        ));
        assert!(!tolerates(&toleration("dedicated", "Equal", "cpu", ""), &t));
        assert!(tolerates(&toleration("dedicated", "Exists", "", ""), &t));
        assert!(!tolerates(
            &toleration("dedicated", "Exists", "", "NoExecute"),
            &t
        ));
        assert!(tolerates(&toleration("", "Exists", "", ""), &t));
        assert!(!tolerates(&toleration("other", "Exists", "", ""), &t));
    }

    #[test]
    fn untolerated_hard_taints_reject() {
        let node = NodeData {
            taints: vec![
                taint("soft", "", "PreferNoSchedule"),
                taint("dedicated", "gpu", "NoSchedule"),
            ],
            ..Default::default()
        };
        let mut p = info(&pod("p", "", ""));
        let f = filter(&p, &node).unwrap();
        assert_eq!(
            f.reasons,
            ["node(s) had untolerated taint {dedicated: gpu}"]
        );
        assert!(!f.resolvable);
        p.tolerations
            .push(toleration("dedicated", "Exists", "", ""));
        assert!(filter(&p, &node).is_none());
        let control_plane = NodeData {
            taints: vec![taint(
                "node-role.kubernetes.io/control-plane",
                "",
                "NoSchedule",
            )],
            ..Default::default()
        };
        assert_eq!(
            filter(&info(&pod("q", "", "")), &control_plane)
                .unwrap()
                .reasons,
            ["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]
        );
    }
}
