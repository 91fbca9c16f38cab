//! `$(VAR)` references in env values, command, args and `subPathExpr`, as Kubernetes'
//! `third_party/forked/golang/expansion` expands them: `$$` is a literal `$`, a reference
//! to an unknown variable and an unterminated `$(` stay as written.

/// `input` with every `$(NAME)` that `lookup` knows replaced by its value.
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match after.chars().next() {
            // A `$` at the very end is kept.
            None => {
                out.push('$');
                rest = after;
            }
            Some('$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some('(') => match after.find(')') {
                Some(close) => {
                    let name = &after[1..close];
                    match lookup(name) {
                        Some(v) => out.push_str(&v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = &after[1..];
                }
            },
            Some(c) => {
                out.push('$');
                out.push(c);
                rest = &after[c.len_utf8()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A lookup over `KEY=value` pairs (the last one of a name wins).
pub fn lookup_in(env: &[(String, String)]) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<(String, String)> {
        vec![("A".into(), "alpha".into()), ("B".into(), "beta".into())]
    }

    #[test]
    fn known_references_are_replaced() {
        assert_eq!(expand("$(A)-$(B)", lookup_in(&env())), "alpha-beta");
    }

    #[test]
    fn unknown_references_stay_as_written() {
        assert_eq!(expand("x$(C)y", lookup_in(&env())), "x$(C)y");
    }

    #[test]
    fn a_doubled_dollar_escapes_a_reference() {
        assert_eq!(expand("$$(A)", lookup_in(&env())), "$(A)");
        assert_eq!(expand("$$$(A)", lookup_in(&env())), "$alpha");
    }

    #[test]
    fn unterminated_references_and_lone_dollars_are_kept() {
        assert_eq!(expand("$(A", lookup_in(&env())), "$(A");
        assert_eq!(expand("cost $5 $", lookup_in(&env())), "cost $5 $");
        assert_eq!(expand("$()", lookup_in(&env())), "$()");
    }
}
