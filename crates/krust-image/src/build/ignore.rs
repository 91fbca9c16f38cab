//! `.dockerignore`, as moby's `patternmatcher` reads and applies it: one pattern a line
//! (`#` comments and blank lines skipped, surrounding spaces trimmed, paths cleaned and made
//! relative), Go's `filepath.Match` syntax (`*`, `?`, `[a-z]`, `\` escapes) plus `**` for any
//! number of directories; `!` re-includes. A path is excluded when the last pattern matching
//! it, or one of its parent directories, is not an exception.

use super::context::clean;

/// The patterns of a `.dockerignore`.
#[derive(Debug, Default, Clone)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    exception: bool,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Char(char),
    /// `?`: one character but `/`.
    One,
    /// `*`: any run without `/`.
    Star,
    /// `**`: any run, `/` included.
    Any,
    /// `**/`: nothing, or any run ending in `/`.
    AnyDirs,
    /// `[…]`: ranges, negated with `^` or `!`.
    Class(bool, Vec<(char, char)>),
}

impl Ignore {
    /// Reads a `.dockerignore`'s text.
    pub fn parse(text: &str) -> Ignore {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|line| {
                let (exception, p) = match line.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, line),
                };
                let cleaned = clean(p);
                (!cleaned.is_empty()).then(|| Pattern {
                    exception,
                    tokens: tokens(&cleaned),
                })
            })
            .collect();
        Ignore { patterns }
    }

    /// Whether `path` (relative to the context, `/`-separated) is excluded.
    pub fn excluded(&self, path: &str) -> bool {
        let path = clean(path);
        let parents: Vec<&str> = path.match_indices('/').map(|(i, _)| &path[..i]).collect();
        let mut excluded = false;
        for p in &self.patterns {
            let hit = matches(&p.tokens, &path) || parents.iter().any(|d| matches(&p.tokens, d));
            if hit {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Whether any pattern is an exception (then an excluded directory may still hold
    /// included files).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }
}

fn tokens(pattern: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                    out.push(Token::AnyDirs);
                } else {
                    out.push(Token::Any);
                }
                continue;
            }
            '*' => out.push(Token::Star),
            '?' => out.push(Token::One),
            '\\' if i + 1 < chars.len() => {
                i += 1;
                out.push(Token::Char(chars[i]));
            }
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('^' | '!'));
                if negated {
                    j += 1;
                }
                let mut ranges = Vec::new();
                while j < chars.len() && (chars[j] != ']' || ranges.is_empty()) {
                    let lo = chars[j];
                    if chars.get(j + 1) == Some(&'-') && j + 2 < chars.len() && chars[j + 2] != ']'
                    {
                        ranges.push((lo, chars[j + 2]));
                        j += 3;
                    } else {
                        ranges.push((lo, lo));
                        j += 1;
                    }
                }
                if j < chars.len() {
                    out.push(Token::Class(negated, ranges));
                    i = j + 1;
                    continue;
                }
                out.push(Token::Char('['));
            }
            c => out.push(Token::Char(c)),
        }
        i += 1;
    }
    out
}

fn matches(tokens: &[Token], s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    match_at(tokens, &chars)
}

fn match_at(tokens: &[Token], s: &[char]) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return s.is_empty();
    };
    match first {
        Token::Char(c) => s.first() == Some(c) && match_at(rest, &s[1..]),
        Token::One => s.first().is_some_and(|c| *c != '/') && match_at(rest, &s[1..]),
        Token::Class(negated, ranges) => {
            s.first().is_some_and(|c| {
                *c != '/' && ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated
            }) && match_at(rest, &s[1..])
        }
        Token::Star => (0..=s.len())
            .take_while(|&n| n == 0 || s[n - 1] != '/')
            .any(|n| match_at(rest, &s[n..])),
        Token::Any => (0..=s.len()).any(|n| match_at(rest, &s[n..])),
        Token::AnyDirs => (0..=s.len())
            .filter(|&n| n == 0 || s[n - 1] == '/')
            .any(|n| match_at(rest, &s[n..])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_excludes_the_path_and_everything_under_a_matched_directory() {
        let i = Ignore::parse("# comment\n\n node_modules \n/build\n*.log\n");
        assert!(i.excluded("node_modules"));
        assert!(i.excluded("node_modules/a/b.js"));
        assert!(i.excluded("build/out"));
        assert!(i.excluded("x.log"));
        assert!(!i.excluded("dir/x.log"), "* does not cross /");
        assert!(!i.excluded("src/main.rs"));
    }

    #[test]
    fn double_star_matches_any_number_of_directories() {
        let i = Ignore::parse("**/*.tmp\ndocs/**/draft\n");
        assert!(i.excluded("a.tmp"));
        assert!(i.excluded("a/b/c.tmp"));
        assert!(i.excluded("docs/draft"));
        assert!(i.excluded("docs/x/y/draft/file"));
        assert!(!i.excluded("docs/final"));
    }

    #[test]
    fn the_last_matching_pattern_wins_so_exceptions_re_include() {
        let i = Ignore::parse("*.md\n!README.md\nREADME*.md\n!keep/**\n");
        assert!(i.excluded("CHANGES.md"));
        assert!(i.excluded("README.md"), "excluded again by a later pattern");
        let i = Ignore::parse("*.md\n!README.md\n");
        assert!(!i.excluded("README.md"));
        let i = Ignore::parse("data\n!data/keep.txt\n");
        assert!(i.excluded("data/other.txt"));
        assert!(!i.excluded("data/keep.txt"));
        assert!(i.has_exceptions());
    }

    #[test]
    fn question_marks_classes_and_escapes_match_as_in_go() {
        let i = Ignore::parse("file?.txt\n[a-c]x\n[!z]y\n\\*lit\n");
        assert!(i.excluded("file1.txt"));
        assert!(!i.excluded("file10.txt"));
        assert!(i.excluded("bx"));
        assert!(!i.excluded("dx"));
        assert!(i.excluded("ay"));
        assert!(!i.excluded("zy"));
        assert!(i.excluded("*lit"));
        assert!(!i.excluded("xlit"));
    }
}
