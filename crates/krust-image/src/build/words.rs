//! Variable substitution and word splitting in the instructions docker substitutes (FROM,
//! ADD, COPY, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, WORKDIR, ARG), as BuildKit's
//! `frontend/dockerfile/shell` lexer: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:+alt}`, `${VAR+alt}`; single quotes keep text literal, double quotes keep spaces and
//! substitute, `\` escapes the next character; quotes are removed.

/// Looks variables up.
pub trait Vars {
    /// A variable's value, `None` when unset.
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Vars for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The words of `text`, substituted, quotes removed.
pub fn words(text: &str, vars: &dyn Vars) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$')) => {
                            word.extend(chars.next());
                        }
                        '$' => word.push_str(&variable(&mut chars, vars)),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            '$' => {
                in_word = true;
                word.push_str(&variable(&mut chars, vars));
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// `text` as one word: substituted and unquoted, inner spaces kept.
pub fn word(text: &str, vars: &dyn Vars) -> String {
    // Spaces outside quotes separate words; joined back with one space as docker does.
    words(text, vars).join(" ")
}

/// The `key=value` pairs of ENV and LABEL; the legacy `ENV key value…` form when the first
/// word has no `=`.
pub fn pairs(text: &str, vars: &dyn Vars) -> Result<Vec<(String, String)>, String> {
    let first = text.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        let (key, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        if rest.trim().is_empty() {
            return Err(format!("{key} requires a value"));
        }
        return Ok(vec![(key.to_owned(), word(rest.trim(), vars))]);
    }
    words(text, vars)
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(format!("key-value pair expected, got {w:?}")),
        })
        .collect()
}

/// A `$…` reference, the `$` already read.
fn variable(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, vars: &dyn Vars) -> String {
    if chars.next_if_eq(&'{').is_some() {
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
            name.push(c);
        }
        let mut rest = String::new();
        let mut depth = 0;
        for c in chars.by_ref() {
            match c {
                '}' if depth == 0 => break,
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            rest.push(c);
        }
        let (op, arg) = [":-", ":+", "-", "+"]
            .iter()
            .find_map(|op| rest.strip_prefix(op).map(|a| (*op, a.to_owned())))
            .unwrap_or(("", String::new()));
        let value = vars.get(&name);
        let arg = || word(&arg, vars);
        return match op {
            ":-" => value.filter(|v| !v.is_empty()).unwrap_or_else(arg),
            "-" => value.unwrap_or_else(arg),
            ":+" => value
                .filter(|v| !v.is_empty())
                .map(|_| arg())
                .unwrap_or_default(),
            "+" => value.map(|_| arg()).unwrap_or_default(),
            _ => value.unwrap_or_default(),
        };
    }
    let mut name = String::new();
    while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
        name.push(c);
    }
    if name.is_empty() {
        return "$".into();
    }
    vars.get(&name).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "A" => Some("one".into()),
            "E" => Some(String::new()),
            "SP" => Some("a b".into()),
            _ => None,
        }
    }

    #[test]
    fn dollar_forms_are_substituted_and_defaults_apply_to_unset_or_empty_variables() {
        let w = |t: &str| word(t, &vars);
        assert_eq!(w("$A/${A}x"), "one/onex");
        assert_eq!(w("${NOPE:-dflt}"), "dflt");
        assert_eq!(w("${E:-dflt}"), "dflt");
        assert_eq!(w("${E-dflt}"), "");
        assert_eq!(w("${A:+alt}-${NOPE:+alt}"), "alt-");
        assert_eq!(w("${NOPE:-$A}"), "one");
        assert_eq!(w("\\$A"), "$A");
        assert_eq!(w("cost: $"), "cost: $");
    }

    #[test]
    fn single_quotes_keep_text_literal_and_double_quotes_keep_spaces() {
        assert_eq!(words("'$A' \"$SP c\" d\\ e", &vars), ["$A", "a b c", "d e"]);
    }

    #[test]
    fn env_pairs_are_key_value_words_or_the_legacy_key_then_value_form() {
        assert_eq!(
            pairs("X=1 Y=\"two words\" Z=$A", &vars).unwrap(),
            [
                ("X".into(), "1".into()),
                ("Y".into(), "two words".into()),
                ("Z".into(), "one".into())
            ]
        );
        assert_eq!(
            pairs("KEY a value $A", &vars).unwrap(),
            [("KEY".to_owned(), "a value one".to_owned())]
        );
        assert!(pairs("X=1 junk", &vars).is_err());
    }
}
