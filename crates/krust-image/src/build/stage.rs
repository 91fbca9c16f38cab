//! One stage's steps, instruction by instruction, as the classic builder's dispatchers
//! (`builder/dockerfile/dispatchers.go`) apply them to the image config, with the build cache
//! consulted before each.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::cache::{self, Cache};
use super::context::{Context, clean};
use super::dockerfile::{Args, Instruction, Stage};
use super::rootfs::{self, Owner};
use super::state::State;
use super::words::{self, Vars};
use super::{BuildOptions, Executor, RunStep, base_image, layer};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::store::ImageStore;

/// A build in progress.
pub(super) struct Run<'a, E> {
    pub store: &'a ImageStore,
    pub executor: &'a E,
    pub context: &'a Context,
    pub cache: &'a Cache,
    pub opts: &'a BuildOptions,
    /// ARGs before the first FROM.
    pub global: BTreeMap<String, Option<String>>,
    /// Finished stages: name and result.
    pub built: Vec<(Option<String>, State)>,
    pub step: usize,
    pub total: usize,
    pub out: &'a mut dyn Write,
}

/// One stage's variables.
struct StageVars {
    state: State,
    /// ARGs declared in the stage and their values.
    args: BTreeMap<String, Option<String>>,
    /// Whether CMD was set in this stage (ENTRYPOINT resets an inherited one).
    cmd_set: bool,
}

impl StageVars {
    fn vars(&self) -> impl Fn(&str) -> Option<String> + 'static {
        let env = self.state.env();
        let args = self.args.clone();
        move |name: &str| {
            env.iter()
                .find_map(|e| e.strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
                .or_else(|| args.get(name).cloned().flatten())
        }
    }
}

/// `ARG name[=default]`: its name and value (a build arg wins over the default, which may
/// name earlier variables).
pub(super) fn declare(
    ins: &Instruction,
    build_args: &BTreeMap<String, String>,
    global: &BTreeMap<String, Option<String>>,
    vars: &dyn Vars,
) -> Result<(String, Option<String>)> {
    let raw = ins.raw();
    let (name, default) = match raw.split_once('=') {
        Some((n, d)) => (n.trim().to_owned(), Some(words::word(d, vars))),
        None => (raw.trim().to_owned(), None),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(Error::Build(format!(
            "ARG requires exactly one argument: {raw}"
        )));
    }
    let value = build_args
        .get(&name)
        .cloned()
        .or(default)
        .or_else(|| global.get(&name).cloned().flatten());
    Ok((name, value))
}

impl<E: Executor> Run<'_, E> {
    fn header(&mut self, ins: &Instruction) -> Result<()> {
        self.step += 1;
        writeln!(self.out, "Step {}/{} : {}", self.step, self.total, ins.text)?;
        Ok(())
    }

    fn done(&mut self, state: &State) -> Result<()> {
        writeln!(self.out, " ---> {}", &state.id().hex()[..12])?;
        Ok(())
    }

    /// Runs a stage and records its result.
    pub async fn stage(&mut self, stage: &Stage) -> Result<()> {
        self.header(&stage.from)?;
        let global = self.global.clone();
        let base = words::word(&stage.base, &|n: &str| global.get(n).cloned().flatten());
        let lower = base.to_ascii_lowercase();
        let state = if lower == "scratch" {
            State::scratch()
        } else if let Some((_, s)) = self
            .built
            .iter()
            .find(|(n, _)| n.as_deref() == Some(&lower))
        {
            s.clone()
        } else {
            base_image(self.store, &base, &self.opts.pull).await?
        };
        self.done(&state)?;
        let mut sv = StageVars {
            state,
            args: BTreeMap::new(),
            cmd_set: false,
        };
        for ins in &stage.instructions {
            self.header(ins)?;
            self.instruction(&mut sv, ins).await?;
            self.done(&sv.state)?;
        }
        self.built.push((stage.name.clone(), sv.state));
        Ok(())
    }

    async fn instruction(&mut self, sv: &mut StageVars, ins: &Instruction) -> Result<()> {
        let vars = sv.vars();
        let word = |t: &str| words::word(t, &vars);
        let raw = ins.raw();
        let nop = |text: &str| format!("/bin/sh -c #(nop)  {text}");
        match ins.keyword.as_str() {
            "ARG" => {
                let (name, value) = declare(ins, &self.opts.build_args, &self.global, &vars)?;
                sv.args.insert(name, value);
                return Ok(());
            }
            "RUN" => {
                return self.run(sv, ins).await;
            }
            "COPY" | "ADD" => {
                return self.copy(sv, ins).await;
            }
            "WORKDIR" => {
                let dir = word(&raw);
                return self.workdir(sv, &dir);
            }
            _ => {}
        }
        if ins.keyword == "CMD" {
            sv.cmd_set = true;
        }
        let key = cache::key(&sv.state.id(), &substituted_text(ins, &vars), &[]);
        if let Some(state) = self.cache.get(self.store, &key) {
            sv.state = state;
            writeln!(self.out, " ---> Using cache")?;
            return Ok(());
        }
        let mut state = sv.state.clone();
        let shell = shell(&state);
        let form = |args: &Args| -> Vec<String> {
            match args {
                Args::Exec(v) => v.clone(),
                Args::Shell(s) if s.is_empty() => Vec::new(),
                Args::Shell(s) => shell.iter().cloned().chain([s.clone()]).collect(),
            }
        };
        let history = match ins.keyword.as_str() {
            "ENV" => {
                let pairs =
                    words::pairs(&raw, &vars).map_err(|m| Error::Build(format!("ENV {m}")))?;
                for (k, v) in &pairs {
                    state.set_env(k, v);
                }
                let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                nop(&format!("ENV {}", text.join(" ")))
            }
            "LABEL" => {
                let pairs =
                    words::pairs(&raw, &vars).map_err(|m| Error::Build(format!("LABEL {m}")))?;
                let labels = state.run_config().entry("Labels").or_insert(json!({}));
                if !labels.is_object() {
                    *labels = json!({});
                }
                for (k, v) in &pairs {
                    labels[k] = json!(v);
                }
                let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                nop(&format!("LABEL {}", text.join(" ")))
            }
            "USER" => {
                let user = word(&raw);
                state.run_config().insert("User".into(), json!(user));
                nop(&format!("USER {user}"))
            }
            "EXPOSE" => {
                let ports = words::words(&raw, &vars);
                let exposed = state
                    .run_config()
                    .entry("ExposedPorts")
                    .or_insert(json!({}));
                for p in &ports {
                    let p = if p.contains('/') {
                        p.to_ascii_lowercase()
                    } else {
                        format!("{p}/tcp")
                    };
                    exposed[p] = json!({});
                }
                nop(&format!("EXPOSE {}", ports.join(" ")))
            }
            "STOPSIGNAL" => {
                let signal = word(&raw);
                state
                    .run_config()
                    .insert("StopSignal".into(), json!(signal));
                nop(&format!("STOPSIGNAL {signal}"))
            }
            "CMD" => {
                let cmd = form(&ins.args);
                state.run_config().insert("Cmd".into(), json!(cmd));
                nop(&format!("CMD {}", serde_json::to_string(&cmd)?))
            }
            "ENTRYPOINT" => {
                let ep = form(&ins.args);
                let config = state.run_config();
                config.insert(
                    "Entrypoint".into(),
                    if ep.is_empty() {
                        Value::Null
                    } else {
                        json!(ep)
                    },
                );
                if !sv.cmd_set {
                    config.insert("Cmd".into(), Value::Null);
                }
                nop(&format!("ENTRYPOINT {}", serde_json::to_string(&ep)?))
            }
            "SHELL" => {
                let Args::Exec(v) = &ins.args else {
                    return Err(Error::Build(
                        "SHELL requires the arguments to be in JSON form".into(),
                    ));
                };
                state.run_config().insert("Shell".into(), json!(v));
                nop(&format!("SHELL {}", serde_json::to_string(v)?))
            }
            "VOLUME" => {
                let vols = match &ins.args {
                    Args::Exec(v) => v.iter().map(|s| word(s)).collect(),
                    Args::Shell(s) => words::words(s, &vars),
                };
                let volumes = state.run_config().entry("Volumes").or_insert(json!({}));
                for v in &vols {
                    volumes[v] = json!({});
                }
                nop(&format!("VOLUME {}", serde_json::to_string(&vols)?))
            }
            "MAINTAINER" => {
                state.config["author"] = json!(raw);
                nop(&format!("MAINTAINER {raw}"))
            }
            "HEALTHCHECK" => {
                let test = if raw.trim().eq_ignore_ascii_case("none") {
                    json!(["NONE"])
                } else {
                    let cmd = raw.trim_start();
                    let cmd = cmd
                        .get(..3)
                        .filter(|c| c.eq_ignore_ascii_case("cmd"))
                        .map(|_| cmd[3..].trim_start())
                        .unwrap_or(cmd);
                    match serde_json::from_str::<Vec<String>>(cmd) {
                        Ok(v) => json!(
                            ["CMD"]
                                .into_iter()
                                .map(str::to_owned)
                                .chain(v)
                                .collect::<Vec<_>>()
                        ),
                        Err(_) => json!(["CMD-SHELL", cmd]),
                    }
                };
                state
                    .run_config()
                    .insert("Healthcheck".into(), json!({"Test": test}));
                nop(&format!("HEALTHCHECK {raw}"))
            }
            "ONBUILD" => {
                let onbuild = state.run_config().entry("OnBuild").or_insert(json!([]));
                if let Some(list) = onbuild.as_array_mut() {
                    list.push(json!(raw));
                }
                nop(&format!("ONBUILD {raw}"))
            }
            other => return Err(Error::Build(format!("unknown instruction: {other}"))),
        };
        state.history(&history, true);
        self.cache.put(&key, &state)?;
        sv.state = state;
        Ok(())
    }

    async fn run(&mut self, sv: &mut StageVars, ins: &Instruction) -> Result<()> {
        if let Some(flag) = ins.flags.keys().next() {
            return Err(Error::Build(format!(
                "the --{flag} option requires BuildKit, which krust image build does not emulate"
            )));
        }
        let args = match &ins.args {
            Args::Exec(v) => v.clone(),
            Args::Shell(s) => shell(&sv.state).into_iter().chain([s.clone()]).collect(),
        };
        // Build args reach the process as variables (ENV wins), and the cache key.
        let env_names: Vec<String> = sv
            .state
            .env()
            .iter()
            .filter_map(|e| e.split('=').next().map(str::to_owned))
            .collect();
        let arg_env: Vec<String> = sv
            .args
            .iter()
            .filter(|(k, _)| !env_names.contains(k))
            .filter_map(|(k, v)| Some(format!("{k}={}", v.as_ref()?)))
            .collect();
        let argv = serde_json::to_string(&args)?;
        let inputs: Vec<&str> = arg_env.iter().map(String::as_str).collect();
        let key = cache::key(&sv.state.id(), &format!("RUN {argv}"), &inputs);
        if self.cached(sv, &key)? {
            return Ok(());
        }
        let mut env = sv.state.env();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
        }
        env.extend(arg_env);
        let id = &Digest::of(format!("{key}{:?}", std::time::SystemTime::now()).as_bytes()).hex()
            [..12]
            .to_owned();
        let step = RunStep {
            name: format!("krust-build-{id}"),
            lower_dirs: sv.state.layer_dirs(self.store)?,
            args: args.clone(),
            env,
            cwd: sv
                .state
                .get("WorkingDir")
                .filter(|w| !w.is_empty())
                .unwrap_or("/")
                .to_owned(),
            user: sv.state.get("User").unwrap_or_default().to_owned(),
        };
        writeln!(self.out, " ---> Running in {id}")?;
        let store = self.store;
        let mut made = None;
        let code = self
            .executor
            .run(&step, &mut *self.out, &mut |upper: &Path| {
                made = Some(layer::commit(store, upper)?);
                Ok(())
            })
            .await?;
        writeln!(self.out, "Removing intermediate container {id}")?;
        if code != 0 {
            return Err(Error::RunFailed(
                format!(
                    "The command '{}' returned a non-zero code: {code}",
                    args.join(" ")
                ),
                code,
            ));
        }
        let layer =
            made.ok_or_else(|| Error::Build("the RUN step left no changes to read".into()))?;
        let mut state = sv.state.clone();
        state.push_layer(layer, &args.join(" "));
        self.cache.put(&key, &state)?;
        sv.state = state;
        Ok(())
    }

    /// Takes a step's result from the cache when there.
    fn cached(&mut self, sv: &mut StageVars, key: &Digest) -> Result<bool> {
        match self.cache.get(self.store, key) {
            Some(state) => {
                writeln!(self.out, " ---> Using cache")?;
                sv.state = state;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn workdir(&mut self, sv: &mut StageVars, dir: &str) -> Result<()> {
        let current = sv.state.get("WorkingDir").unwrap_or("/").to_owned();
        let path = format!(
            "/{}",
            clean(&if dir.starts_with('/') {
                dir.to_owned()
            } else {
                format!("{current}/{dir}")
            })
        );
        let key = cache::key(&sv.state.id(), &format!("WORKDIR {path}"), &[]);
        if self.cached(sv, &key)? {
            return Ok(());
        }
        let mut state = sv.state.clone();
        state.run_config().insert("WorkingDir".into(), json!(path));
        let layers = state.layer_dirs(self.store)?;
        let history = format!("/bin/sh -c #(nop) WORKDIR {path}");
        if path != "/" && rootfs::lookup(&layers, &path).is_none() {
            let tmp = self.store.temp_dir()?;
            rootfs::make_parents(&layers, tmp.path(), &path)?;
            state.push_layer(layer::commit(self.store, tmp.path())?, &history);
        } else {
            state.history(&history, true);
        }
        self.cache.put(&key, &state)?;
        sv.state = state;
        Ok(())
    }

    async fn copy(&mut self, sv: &mut StageVars, ins: &Instruction) -> Result<()> {
        let keyword = ins.keyword.as_str();
        for flag in ins.flags.keys() {
            if !matches!(flag.as_str(), "from" | "chown" | "chmod" | "link") {
                return Err(Error::Build(format!("Unknown flag: {flag}")));
            }
        }
        let vars = sv.vars();
        let mut parts = match &ins.args {
            Args::Exec(v) => v.iter().map(|s| words::word(s, &vars)).collect(),
            Args::Shell(s) => words::words(s, &vars),
        };
        let chown = ins.flags.get("chown").map(|c| words::word(c, &vars));
        let chmod = ins.flags.get("chmod").map(|c| words::word(c, &vars));
        if parts.len() < 2 {
            return Err(Error::Build(format!(
                "{keyword} requires at least two arguments"
            )));
        }
        let dest_word = parts.pop().expect("two parts");
        let workdir = sv.state.get("WorkingDir").unwrap_or("/").to_owned();
        let dest_dir_form = dest_word.ends_with('/');
        let dest = format!(
            "/{}",
            clean(&if dest_word.starts_with('/') {
                dest_word.clone()
            } else {
                format!("{workdir}/{dest_word}")
            })
        );
        let mode = match &chmod {
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .map_err(|_| Error::Build(format!("invalid chmod parameter: {m}")))?,
            ),
            None => None,
        };

        // Where the sources come from: the context, an earlier stage, or an image.
        let from = ins.flags.get("from").map(|f| f.to_ascii_lowercase());
        let source_layers = match &from {
            None => None,
            Some(f) => Some(self.source_layers(f).await?),
        };
        if keyword == "ADD"
            && parts
                .iter()
                .any(|p| p.starts_with("http://") || p.starts_with("https://"))
        {
            return Err(Error::Build(
                "ADD failed: downloading a URL is not supported by krust image build; fetch the file into the build context and COPY it".into(),
            ));
        }
        let (sources, inputs) = match &source_layers {
            None => {
                let mut all = Vec::new();
                for p in &parts {
                    all.extend(self.context.sources(keyword, p).map_err(Error::Build)?);
                }
                let hash = self.context.hash(&all)?;
                (all, vec![hash.to_string()])
            }
            Some((id, _)) => (
                parts.iter().map(|p| clean(p)).collect(),
                vec![id.to_string()],
            ),
        };
        let many = sources.len() > 1 || parts.iter().any(|p| p.contains(['*', '?', '[']));
        if many && !dest_dir_form {
            return Err(Error::Build(format!(
                "When using {keyword} with more than one source file, the destination must be a directory and end with a /"
            )));
        }
        let text = format!(
            "{keyword} {} {}",
            serde_json::to_string(&ins.flags)?,
            serde_json::to_string(&parts)?
        );
        let mut key_inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        key_inputs.push(&dest);
        let key = cache::key(&sv.state.id(), &text, &key_inputs);
        if self.cached(sv, &key)? {
            return Ok(());
        }

        let mut state = sv.state.clone();
        let layers = state.layer_dirs(self.store)?;
        let owner: Owner = Some(match &chown {
            Some(spec) => rootfs::resolve_owner(&layers, spec).map_err(Error::Build)?,
            None => (0, 0),
        });
        let tmp = self.store.temp_dir()?;
        let stage_dir = tmp.path();
        let dest_is_dir =
            dest_dir_form || many || rootfs::lookup(&layers, &dest).is_some_and(|p| p.is_dir());
        for src in &sources {
            let (is_dir, name) = match &source_layers {
                None => (
                    self.context.is_dir(src),
                    src.rsplit('/').next().unwrap_or(src).to_owned(),
                ),
                Some((_, from)) => (
                    rootfs::lookup(from, src).is_some_and(|p| p.is_dir()) || src.is_empty(),
                    src.rsplit('/').next().unwrap_or(src).to_owned(),
                ),
            };
            let target_rel = if is_dir || !dest_is_dir {
                dest.clone()
            } else {
                format!("{}/{name}", dest.trim_end_matches('/'))
            };
            let parent = Path::new(&target_rel)
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            rootfs::make_parents(&layers, stage_dir, &parent)?;
            if is_dir {
                rootfs::make_parents(&layers, stage_dir, &target_rel)?;
            }
            let target = stage_dir.join(target_rel.trim_start_matches('/'));
            match &source_layers {
                None => {
                    let path = self.context.path(src);
                    if keyword == "ADD" && !is_dir && is_tar(&path) {
                        rootfs::make_parents(&layers, stage_dir, &dest)?;
                        let dir = stage_dir.join(dest.trim_start_matches('/'));
                        crate::unpack::apply(
                            crate::unpack::decompress(std::fs::File::open(&path)?)?,
                            &dir,
                        )?;
                        continue;
                    }
                    self.context.copy(src, &target, owner)?;
                }
                Some((_, from)) => {
                    if !rootfs::materialize(from, src, &target, owner)? {
                        return Err(Error::Build(format!(
                            "{keyword} failed: stat {src}: file does not exist"
                        )));
                    }
                }
            }
            if let Some(mode) = mode {
                chmod_tree(&target, mode)?;
            }
        }
        let hash = inputs.first().cloned().unwrap_or_default();
        let history = format!("/bin/sh -c #(nop) {keyword} {hash} in {dest} ");
        state.push_layer(layer::commit(self.store, stage_dir)?, &history);
        self.cache.put(&key, &state)?;
        sv.state = state;
        Ok(())
    }

    /// The layer directories `--from=NAME` reads, and the id that stands for them in keys:
    /// an earlier stage by name or index, else an image.
    async fn source_layers(&mut self, from: &str) -> Result<(Digest, Vec<PathBuf>)> {
        let state = match self.built.iter().find(|(n, _)| n.as_deref() == Some(from)) {
            Some((_, s)) => s.clone(),
            None => match from.parse::<usize>().ok().and_then(|i| self.built.get(i)) {
                Some((_, s)) => s.clone(),
                None => base_image(self.store, from, &self.opts.pull).await?,
            },
        };
        Ok((state.id(), state.layer_dirs(self.store)?))
    }
}

/// The shell of RUN/CMD/ENTRYPOINT's shell form: SHELL, else `/bin/sh -c`.
fn shell(state: &State) -> Vec<String> {
    serde_json::from_value(state.config["config"]["Shell"].clone())
        .ok()
        .filter(|v: &Vec<String>| !v.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
}

/// The instruction with its variables substituted, for cache keys of metadata steps.
fn substituted_text(ins: &Instruction, vars: &dyn Vars) -> String {
    match &ins.args {
        Args::Exec(v) => format!(
            "{} {}",
            ins.keyword,
            serde_json::to_string(v).unwrap_or_default()
        ),
        Args::Shell(s) => match ins.keyword.as_str() {
            "CMD" | "ENTRYPOINT" | "HEALTHCHECK" | "ONBUILD" => format!("{} {s}", ins.keyword),
            _ => format!(
                "{} {}",
                ins.keyword,
                serde_json::to_string(&words::words(s, vars)).unwrap_or_default()
            ),
        },
    }
}

/// Whether a file is a tar archive (plain, gzip or zstd), which ADD extracts.
fn is_tar(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(mut r) = crate::unpack::decompress(file) else {
        return false;
    };
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n == 512 && &head[257..262] == b"ustar"
}

fn chmod_tree(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    if meta.is_dir() {
        for e in std::fs::read_dir(path)? {
            chmod_tree(&e?.path(), mode)?;
        }
    }
    Ok(())
}
