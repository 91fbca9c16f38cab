//! The Dockerfile's syntax, as BuildKit's `frontend/dockerfile/parser` reads it: one
//! instruction per logical line (keywords case-insensitive, `\` continuing a line, `#`
//! comment lines dropped even inside a continuation, blank lines ignored), `--flag=value`
//! options before the arguments, and the JSON (exec) or shell form of RUN, CMD, ENTRYPOINT
//! and SHELL. The instructions are grouped into stages (`FROM … [AS name]`), with the `ARG`s
//! before the first FROM kept apart (they are visible to FROM lines only).

use std::collections::BTreeMap;

/// What went wrong reading a Dockerfile, with docker's words where it has some.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dockerfile parse error on line {line}: {message}")]
pub struct ParseError {
    /// The (first) line of the instruction.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// An instruction's arguments: the JSON form, or the rest of the line as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    /// `["executable", "arg"]`.
    Exec(Vec<String>),
    /// Anything else, trimmed.
    Shell(String),
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The line it starts on (1-based).
    pub line: usize,
    /// Upper-cased keyword (`RUN`, `COPY`…).
    pub keyword: String,
    /// `--name=value` options (`--from`, `--chown`); a bare `--name` has an empty value.
    pub flags: BTreeMap<String, String>,
    /// The arguments after the flags.
    pub args: Args,
    /// The instruction as written (one line, continuations joined), for the build output.
    pub text: String,
}

impl Instruction {
    /// The arguments as one string (the JSON form re-joined with spaces).
    pub fn raw(&self) -> String {
        match &self.args {
            Args::Exec(v) => v.join(" "),
            Args::Shell(s) => s.clone(),
        }
    }
}

/// A stage: its FROM and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The FROM instruction.
    pub from: Instruction,
    /// The base image (`busybox`, `scratch`, an earlier stage's name), unsubstituted.
    pub base: String,
    /// `AS name`, lower-cased as docker compares them.
    pub name: Option<String>,
    /// The instructions after FROM.
    pub instructions: Vec<Instruction>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// `ARG`s before the first FROM.
    pub global_args: Vec<Instruction>,
    /// The stages in order.
    pub stages: Vec<Stage>,
}

/// Instructions with a JSON form.
const EXEC_FORM: &[&str] = &["RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"];

/// Every instruction known; others are refused as docker refuses them.
const KNOWN: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "ARG",
    "WORKDIR",
    "USER",
    "LABEL",
    "EXPOSE",
    "COPY",
    "ADD",
    "STOPSIGNAL",
    "SHELL",
    "VOLUME",
    "HEALTHCHECK",
    "ONBUILD",
    "MAINTAINER",
];

/// Parses a Dockerfile's text.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let mut file = Dockerfile {
        global_args: Vec::new(),
        stages: Vec::new(),
    };
    for ins in instructions(text)? {
        if ins.keyword == "FROM" {
            let raw = ins.raw();
            let words: Vec<&str> = raw.split_whitespace().collect();
            let (base, name) = match words.as_slice() {
                [base] => (base.to_string(), None),
                [base, kw, name] if kw.eq_ignore_ascii_case("as") => {
                    (base.to_string(), Some(name.to_ascii_lowercase()))
                }
                _ => {
                    return Err(ParseError {
                        line: ins.line,
                        message: "FROM requires either one or three arguments".into(),
                    });
                }
            };
            file.stages.push(Stage {
                from: ins,
                base,
                name,
                instructions: Vec::new(),
            });
        } else if let Some(stage) = file.stages.last_mut() {
            stage.instructions.push(ins);
        } else if ins.keyword == "ARG" {
            file.global_args.push(ins);
        } else {
            return Err(ParseError {
                line: ins.line,
                message: "no build stage in current context".into(),
            });
        }
    }
    if file.stages.is_empty() {
        return Err(ParseError {
            line: 1,
            message: "the Dockerfile (Dockerfile) cannot be empty".into(),
        });
    }
    Ok(file)
}

/// The instructions of a Dockerfile, in order.
pub fn instructions(text: &str) -> Result<Vec<Instruction>, ParseError> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_some()) {
            continue;
        }
        let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        let body = line.trim_end();
        if let Some(head) = body.strip_suffix('\\') {
            joined.push_str(head);
            pending = Some((start, joined));
            continue;
        }
        joined.push_str(body);
        if !joined.trim().is_empty() {
            out.push(instruction(start, joined.trim())?);
        }
    }
    if let Some((start, joined)) = pending
        && !joined.trim().is_empty()
    {
        out.push(instruction(start, joined.trim())?);
    }
    Ok(out)
}

fn instruction(line: usize, text: &str) -> Result<Instruction, ParseError> {
    let (word, mut rest) = text
        .split_once(char::is_whitespace)
        .map(|(w, r)| (w, r.trim_start()))
        .unwrap_or((text, ""));
    let keyword = word.to_ascii_uppercase();
    if !KNOWN.contains(&keyword.as_str()) {
        return Err(ParseError {
            line,
            message: format!("unknown instruction: {word}"),
        });
    }
    let mut flags = BTreeMap::new();
    if keyword != "RUN" || rest.starts_with("--") {
        while let Some(after) = rest.strip_prefix("--") {
            let (flag, next) = after
                .split_once(char::is_whitespace)
                .map(|(f, n)| (f, n.trim_start()))
                .unwrap_or((after, ""));
            let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
            flags.insert(name.to_ascii_lowercase(), value.to_owned());
            rest = next;
        }
    }
    let args = match EXEC_FORM.contains(&keyword.as_str()) && rest.starts_with('[') {
        true => match serde_json::from_str::<Vec<String>>(rest) {
            Ok(v) => Args::Exec(v),
            Err(_) => Args::Shell(rest.to_owned()),
        },
        false => Args::Shell(rest.to_owned()),
    };
    if matches!(&args, Args::Shell(s) if s.is_empty())
        && !matches!(keyword.as_str(), "CMD" | "ENTRYPOINT")
    {
        return Err(ParseError {
            line,
            message: format!("{keyword} requires at least one argument"),
        });
    }
    Ok(Instruction {
        line,
        keyword,
        flags,
        args,
        text: text.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_case_insensitive_and_continuations_and_comments_are_joined_away() {
        let text = "# syntax comment\nfrom busybox as Build\nrun echo a \\\n  # inner comment\n\n  && echo b\nCOPY --from=build --chown=1:2 /a /b\n";
        let f = parse(text).unwrap();
        assert_eq!(f.stages.len(), 1);
        let s = &f.stages[0];
        assert_eq!(
            (s.base.as_str(), s.name.as_deref()),
            ("busybox", Some("build"))
        );
        let run = &s.instructions[0];
        assert_eq!((run.keyword.as_str(), run.line), ("RUN", 3));
        assert_eq!(run.args, Args::Shell("echo a   && echo b".into()));
        let copy = &s.instructions[1];
        assert_eq!(copy.flags["from"], "build");
        assert_eq!(copy.flags["chown"], "1:2");
        assert_eq!(copy.args, Args::Shell("/a /b".into()));
    }

    #[test]
    fn the_json_form_is_exec_and_anything_else_is_shell() {
        let f =
            parse("FROM scratch\nCMD [\"/bin/app\", \"-v\"]\nENTRYPOINT [not json\nRUN [\"a\"]\n")
                .unwrap();
        let i = &f.stages[0].instructions;
        assert_eq!(i[0].args, Args::Exec(vec!["/bin/app".into(), "-v".into()]));
        assert_eq!(i[1].args, Args::Shell("[not json".into()));
        assert_eq!(i[2].args, Args::Exec(vec!["a".into()]));
    }

    #[test]
    fn args_before_the_first_from_are_global_and_stages_are_split_at_from() {
        let f = parse("ARG V=1\nFROM busybox:${V} AS a\nARG V\nFROM a\nRUN true\n").unwrap();
        assert_eq!(f.global_args.len(), 1);
        assert_eq!(f.stages.len(), 2);
        assert_eq!(f.stages[0].base, "busybox:${V}");
        assert_eq!(f.stages[1].base, "a");
        assert_eq!(f.stages[1].instructions[0].keyword, "RUN");
    }

    #[test]
    fn unknown_instructions_and_instructions_before_from_are_refused() {
        assert_eq!(
            parse("FROM x\nFROB y\n").unwrap_err().message,
            "unknown instruction: FROB"
        );
        assert_eq!(
            parse("RUN true\n").unwrap_err().message,
            "no build stage in current context"
        );
        assert!(parse("# only a comment\n").is_err());
    }
}
