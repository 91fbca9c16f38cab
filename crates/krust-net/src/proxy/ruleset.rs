//! A whole nftables table as data, and the `nft -f` transaction that turns one into another,
//! as kube-proxy's nftables proxier does its partial syncs with knftables: chains whose rules
//! changed are flushed and written again, map elements are added and deleted one by one,
//! chains and sets nothing needs any more are deleted, and nothing else is touched. A full
//! sync (the first one, or after a failure) drops the table and writes it whole in the same
//! transaction, so the kernel never holds half a table.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// A set or map: its declaration (`type …; flags …;`) and its elements (key → value; the
/// value is empty for a set).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Set {
    pub decl: String,
    pub elements: BTreeMap<String, String>,
}

/// A chain: its declaration for a base chain (`type nat hook output priority -100; …`), and
/// its rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chain {
    pub decl: String,
    pub rules: Vec<String>,
}

/// One `ip` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub table: String,
    pub sets: BTreeMap<String, Set>,
    pub chains: BTreeMap<String, Chain>,
}

impl Ruleset {
    /// Whether a set is a map (its type has a `:`).
    fn kind(decl: &str) -> &'static str {
        match decl.contains(':') {
            true => "map",
            false => "set",
        }
    }

    /// The transaction that replaces whatever table of this name exists with this one.
    pub fn full(&self) -> String {
        let t = &self.table;
        let mut s = format!("add table ip {t}\ndelete table ip {t}\n");
        s += &Ruleset::empty(t).diff(self);
        s
    }

    /// The transaction that removes the table (whether it exists or not).
    pub fn delete(table: &str) -> String {
        format!("add table ip {table}\ndelete table ip {table}\n")
    }

    /// A table with nothing in it.
    pub fn empty(table: &str) -> Ruleset {
        Ruleset {
            table: table.to_string(),
            ..Default::default()
        }
    }

    /// The transaction that turns `self` (what the kernel holds) into `new`; empty when they
    /// are equal.
    pub fn diff(&self, new: &Ruleset) -> String {
        if self == new {
            return String::new();
        }
        let t = &new.table;
        let mut s = String::new();
        let mut line = |l: String| {
            s.push_str(&l);
            s.push('\n');
        };
        line(format!("add table ip {t}"));
        let changed_sets: BTreeSet<&String> = self
            .sets
            .iter()
            .filter(|(name, old)| new.sets.get(*name).is_none_or(|n| n.decl != old.decl))
            .map(|(name, _)| name)
            .collect();
        let gone_chains: Vec<&String> = self
            .chains
            .keys()
            .filter(|c| !new.chains.contains_key(*c))
            .collect();
        let rewritten: Vec<&String> = new
            .chains
            .iter()
            .filter(|(name, chain)| self.chains.get(*name) != Some(*chain))
            .map(|(name, _)| name)
            .collect();
        // Rules that may refer to what goes away go first.
        for name in self
            .chains
            .keys()
            .filter(|c| gone_chains.contains(c) || rewritten.contains(c))
        {
            line(format!("flush chain ip {t} {name}"));
        }
        for (name, old) in &self.sets {
            if changed_sets.contains(name) {
                continue;
            }
            let new_elements = &new.sets[name].elements;
            let gone: Vec<&String> = old
                .elements
                .iter()
                .filter(|(k, v)| new_elements.get(*k) != Some(*v))
                .map(|(k, _)| k)
                .collect();
            if !gone.is_empty() {
                let keys: Vec<&str> = gone.iter().map(|k| k.as_str()).collect();
                line(format!(
                    "delete element ip {t} {name} {{ {} }}",
                    keys.join(", ")
                ));
            }
        }
        for name in &changed_sets {
            line(format!(
                "delete {} ip {t} {name}",
                Ruleset::kind(&self.sets[*name].decl)
            ));
        }
        for (name, set) in &new.sets {
            if !self.sets.contains_key(name) || changed_sets.contains(name) {
                line(format!(
                    "add {} ip {t} {name} {{ {} }}",
                    Ruleset::kind(&set.decl),
                    set.decl
                ));
            }
        }
        for name in &rewritten {
            if !self.chains.contains_key(*name) {
                let decl = &new.chains[*name].decl;
                match decl.is_empty() {
                    true => line(format!("add chain ip {t} {name}")),
                    false => line(format!("add chain ip {t} {name} {{ {decl} }}")),
                }
            }
        }
        for name in &rewritten {
            for rule in &new.chains[*name].rules {
                line(format!("add rule ip {t} {name} {rule}"));
            }
        }
        for (name, set) in &new.sets {
            let old = self.sets.get(name).filter(|_| !changed_sets.contains(name));
            let added: Vec<String> = set
                .elements
                .iter()
                .filter(|(k, v)| old.is_none_or(|o| o.elements.get(*k) != Some(*v)))
                .map(|(k, v)| match v.is_empty() {
                    true => k.clone(),
                    false => format!("{k} : {v}"),
                })
                .collect();
            if !added.is_empty() {
                line(format!(
                    "add element ip {t} {name} {{ {} }}",
                    added.join(", ")
                ));
            }
        }
        for name in gone_chains {
            line(format!("delete chain ip {t} {name}"));
        }
        s
    }

    /// The table as `nft list table` would show it, roughly (for reading in tests and logs).
    pub fn render(&self) -> String {
        let mut s = format!("table ip {} {{\n", self.table);
        for (name, set) in &self.sets {
            let _ = writeln!(
                s,
                "  {} {name} {{ {} }}",
                Ruleset::kind(&set.decl),
                set.decl
            );
            for (k, v) in &set.elements {
                let _ = writeln!(s, "    {k} : {v}");
            }
        }
        for (name, chain) in &self.chains {
            let _ = writeln!(s, "  chain {name} {{ {}", chain.decl);
            for rule in &chain.rules {
                let _ = writeln!(s, "    {rule}");
            }
            let _ = writeln!(s, "  }}");
        }
        s.push_str("}\n");
        s
    }
}
