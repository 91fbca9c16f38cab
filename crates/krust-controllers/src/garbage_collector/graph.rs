//! The dependency graph: every object of every watched resource, by UID, with its owner
//! references, and for each UID the objects naming it as owner. Changes to it say which
//! objects the collector must look at. Mirrors Kubernetes' `graph.go` and the
//! `processGraphChanges` half of `graph_builder.go`.

use crate::discovery::Served;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";

/// What the graph keeps of an object.
#[derive(Clone, Debug)]
pub struct Node {
    pub uid: String,
    pub resource: Arc<Served>,
    pub namespace: Option<String>,
    pub name: String,
    pub owners: Vec<OwnerReference>,
    pub finalizers: Vec<String>,
    pub deleting: bool,
    pub resource_version: String,
}

impl Node {
    pub fn has_finalizer(&self, f: &str) -> bool {
        self.finalizers.iter().any(|x| x == f)
    }

    /// Being deleted in the foreground: waits for its blocking dependents.
    pub fn deleting_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(FOREGROUND)
    }

    fn needs_attention(&self) -> bool {
        self.deleting && (self.has_finalizer(FOREGROUND) || self.has_finalizer(ORPHAN))
    }

    fn owner_ref(&self, uid: &str) -> Option<&OwnerReference> {
        self.owners.iter().find(|o| o.uid == uid)
    }

    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.resource.group_resource(), self.name),
            None => format!("{} {}", self.resource.group_resource(), self.name),
        }
    }
}

#[derive(Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    /// Owner UID → UIDs of the objects that name it (whether or not the owner exists).
    dependents: HashMap<String, HashSet<String>>,
    /// Per resource (by plural.group), the UIDs seen since its relist started.
    relisting: HashMap<String, HashSet<String>>,
}

impl Graph {
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// The objects (present in the graph) that name `uid` as an owner.
    pub fn dependents(&self, uid: &str) -> Vec<Node> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| self.nodes.get(d).cloned())
            .collect()
    }

    /// The dependents of `uid` whose reference to it has `blockOwnerDeletion`: an owner
    /// deleted in the foreground waits for these.
    pub fn blocking_dependents(&self, uid: &str) -> Vec<Node> {
        let mut all = self.dependents(uid);
        all.retain(|d| {
            d.owner_ref(uid)
                .is_some_and(|r| r.block_owner_deletion == Some(true))
        });
        all
    }

    /// Whether `from` waits, in the foreground, for `target`: `target` is one of its blocking
    /// dependents, or one of theirs that wait in the foreground too, and so on. When `target`
    /// waits for `from` as well, neither can ever finish.
    pub fn waits_for(&self, from: &str, target: &str) -> bool {
        let mut seen = HashSet::new();
        let mut next = vec![from.to_string()];
        while let Some(uid) = next.pop() {
            if !seen.insert(uid.clone()) {
                continue;
            }
            for d in self.blocking_dependents(&uid) {
                if d.uid == target {
                    return true;
                }
                if d.deleting_dependents() {
                    next.push(d.uid);
                }
            }
        }
        false
    }

    pub fn has_dependents(&self, uid: &str) -> bool {
        self.dependents
            .get(uid)
            .is_some_and(|d| d.iter().any(|d| self.nodes.contains_key(d)))
    }

    /// Records an added or changed object; returns the UIDs to look at.
    pub fn apply(&mut self, node: Node) -> Vec<String> {
        let mut attend = Vec::new();
        if let Some(seen) = self.relisting.get_mut(&node.resource.group_resource()) {
            seen.insert(node.uid.clone());
        }
        let old = self.nodes.get(&node.uid).cloned();
        // An owner missing, or waiting for its dependents: this object needs a look.
        if node
            .owners
            .iter()
            .any(|o| self.nodes.get(&o.uid).is_none_or(Node::deleting_dependents))
        {
            attend.push(node.uid.clone());
        }
        if node.needs_attention() {
            attend.push(node.uid.clone());
        }
        // Entering foreground deletion: its dependents must go.
        if node.deleting_dependents() && !old.as_ref().is_some_and(Node::deleting_dependents) {
            attend.extend(
                self.dependents
                    .get(&node.uid)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        // Owner references that changed may unblock an owner waiting in the foreground.
        if let Some(old) = &old {
            for o in &old.owners {
                if node.owner_ref(&o.uid) != Some(o)
                    && self
                        .nodes
                        .get(&o.uid)
                        .is_some_and(Node::deleting_dependents)
                {
                    attend.push(o.uid.clone());
                }
                if node.owner_ref(&o.uid).is_none()
                    && let Some(d) = self.dependents.get_mut(&o.uid)
                {
                    d.remove(&node.uid);
                }
            }
        }
        for o in &node.owners {
            self.dependents
                .entry(o.uid.clone())
                .or_default()
                .insert(node.uid.clone());
        }
        self.nodes.insert(node.uid.clone(), node);
        attend
    }

    /// Forgets a deleted object; returns the UIDs to look at (its dependents, and owners
    /// waiting for it).
    pub fn delete(&mut self, uid: &str) -> Vec<String> {
        let Some(node) = self.nodes.remove(uid) else {
            return Vec::new();
        };
        let mut attend: Vec<String> = self
            .dependents
            .get(uid)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        for o in &node.owners {
            if let Some(d) = self.dependents.get_mut(&o.uid) {
                d.remove(uid);
                if d.is_empty() {
                    self.dependents.remove(&o.uid);
                }
            }
            if self.nodes.get(&o.uid).is_some_and(|n| n.deleting) {
                attend.push(o.uid.clone());
            }
        }
        attend
    }

    /// A resource's watch starts (re)listing.
    pub fn relist_started(&mut self, resource: &Served) {
        self.relisting
            .insert(resource.group_resource(), HashSet::new());
    }

    /// A resource's relist is complete: objects of it not seen again were deleted meanwhile.
    pub fn relist_done(&mut self, resource: &Served) -> Vec<String> {
        let key = resource.group_resource();
        let Some(seen) = self.relisting.remove(&key) else {
            return Vec::new();
        };
        let gone: Vec<String> = self
            .nodes
            .values()
            .filter(|n| n.resource.group_resource() == key && !seen.contains(&n.uid))
            .map(|n| n.uid.clone())
            .collect();
        gone.iter().flat_map(|uid| self.delete(uid)).collect()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::discovery::ApiResource;

    fn served(plural: &str) -> Arc<Served> {
        Arc::new(Served {
            ar: ApiResource {
                group: "".into(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: plural.into(),
                plural: plural.into(),
            },
            namespaced: true,
            verbs: vec![],
        })
    }

    fn waiting(uid: &str, owner: &str, r: &Arc<Served>) -> Node {
        let mut n = node(uid, &[owner], r);
        n.owners[0].block_owner_deletion = Some(true);
        n.deleting = true;
        n.finalizers = vec![FOREGROUND.into()];
        n
    }

    fn node(uid: &str, owners: &[&str], r: &Arc<Served>) -> Node {
        Node {
            uid: uid.into(),
            resource: r.clone(),
            namespace: Some("default".into()),
            name: uid.into(),
            owners: owners
                .iter()
                .map(|o| OwnerReference {
                    uid: (*o).into(),
                    ..Default::default()
                })
                .collect(),
            finalizers: vec![],
            deleting: false,
            resource_version: "1".into(),
        }
    }

    #[test]
    fn deleting_an_owner_points_at_its_dependents() {
        let r = served("things");
        let mut g = Graph::default();
        assert!(g.apply(node("owner", &[], &r)).is_empty());
        assert!(g.apply(node("dep", &["owner"], &r)).is_empty());
        assert_eq!(g.delete("owner"), vec!["dep".to_string()]);
        // A dependent whose owner was never seen needs a look right away.
        assert_eq!(
            g.apply(node("dep2", &["ghost"], &r)),
            vec!["dep2".to_string()]
        );
    }

    #[test]
    fn relists_find_missed_deletions() {
        let r = served("things");
        let mut g = Graph::default();
        g.apply(node("owner", &[], &r));
        g.apply(node("dep", &["owner"], &r));
        g.relist_started(&r);
        g.apply(node("dep", &["owner"], &r));
        assert_eq!(g.relist_done(&r), vec!["dep".to_string()]);
        assert_eq!(g.len(), 1);
    }

    #[test]
    fn owners_waiting_for_each_other_in_a_ring_are_found() {
        let r = served("things");
        let mut g = Graph::default();
        g.apply(waiting("a", "c", &r));
        g.apply(waiting("b", "a", &r));
        g.apply(waiting("c", "b", &r));
        // a waits for b (its blocking dependent), b for c, c for a.
        assert!(g.waits_for("b", "a"));
        assert!(g.waits_for("a", "c"));
        // Without a's blocking reference to c, c no longer waits for a (nor anyone).
        let mut a = waiting("a", "c", &r);
        a.owners[0].block_owner_deletion = Some(false);
        g.apply(a);
        assert!(!g.waits_for("c", "a"));
        assert!(g.blocking_dependents("c").is_empty());
        assert!(g.waits_for("a", "c"), "a still waits for b, b for c");
    }
}
