//! `krust image build`: a Dockerfile built into the node's image store, as docker's classic
//! builder does it and prints it (`Step N/M : …`, ` ---> Using cache`, `Successfully
//! built …`), written fresh. Stages run in order up to the target; each step turns the
//! image [`State`] into the next one, a layer for the steps that change files (RUN: a
//! container's upper directory; COPY/ADD/WORKDIR: a directory laid out here), a config change
//! for the others, and every step is cached ([`cache`]).
//!
//! RUN needs a container runtime, which this crate does not depend on: the caller passes an
//! [`Executor`] (the krust binary's runs krust's own runtime).

pub mod cache;
pub mod context;
pub mod dockerfile;
pub mod ignore;
pub mod layer;
pub mod rootfs;
mod stage;
pub mod state;
pub mod words;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use state::State;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::pull::{PullOptions, Puller};
use crate::reference::Reference;
use crate::store::{ImageStore, image_key};

/// A RUN step's process, for an [`Executor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStep {
    /// The container's name: `krust-build-<12 hex>`.
    pub name: String,
    /// The image's unpacked layers, bottom first (overlayfs lower directories).
    pub lower_dirs: Vec<PathBuf>,
    /// The argv.
    pub args: Vec<String>,
    /// `KEY=value` environment.
    pub env: Vec<String>,
    /// The working directory.
    pub cwd: String,
    /// `USER` as the image config has it (`""` is root).
    pub user: String,
}

/// What runs RUN steps.
#[allow(async_fn_in_trait)]
pub trait Executor {
    /// Runs `step` in a container whose root is an overlay of `step.lower_dirs` with a fresh
    /// upper directory, copying its output to `out` as it comes; once the process exited,
    /// calls `diff` with the upper directory, then removes the container (also when
    /// anything failed). Returns the exit code.
    async fn run(
        &self,
        step: &RunStep,
        out: &mut dyn Write,
        diff: &mut dyn FnMut(&Path) -> Result<()>,
    ) -> Result<i32>;
}

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The context directory.
    pub context: PathBuf,
    /// The Dockerfile (`<context>/Dockerfile` when `None`).
    pub dockerfile: Option<PathBuf>,
    /// Names for the result (`app`, `app:2`).
    pub tags: Vec<String>,
    /// `--build-arg K=V`.
    pub build_args: BTreeMap<String, String>,
    /// `--target STAGE`.
    pub target: Option<String>,
    /// How to pull base images that are not in the store (loopback registries are always
    /// spoken to over plain HTTP, as [`insecure_for`] says).
    pub pull: PullOptions,
}

/// A finished build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The image id (config digest).
    pub id: Digest,
    /// The manifest digest, as the store names it.
    pub digest: Digest,
    /// The normalized names it was tagged with.
    pub names: Vec<String>,
}

/// Builds an image into `store`, printing the classic builder's progress to `out`.
pub async fn build(
    store: &ImageStore,
    executor: &impl Executor,
    opts: &BuildOptions,
    out: &mut dyn Write,
) -> Result<Built> {
    let names = opts
        .tags
        .iter()
        .map(|t| {
            image_key(t)
                .map_err(|_| Error::Build(format!("invalid tag {t:?}: invalid reference format")))
        })
        .collect::<Result<Vec<_>>>()?;
    let dockerfile_path = opts
        .dockerfile
        .clone()
        .unwrap_or_else(|| opts.context.join("Dockerfile"));
    if !opts.context.is_dir() {
        return Err(Error::Build(format!(
            "unable to prepare context: path {:?} not found",
            opts.context.display().to_string()
        )));
    }
    let text = std::fs::read_to_string(&dockerfile_path).map_err(|e| {
        Error::Build(format!(
            "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: {}",
            dockerfile_path.display(),
            crate::error::io_words(&e)
        ))
    })?;
    let file = dockerfile::parse(&text).map_err(|e| Error::Build(e.to_string()))?;
    let last = match &opts.target {
        None => file.stages.len() - 1,
        Some(t) => file
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(&t.to_ascii_lowercase()))
            .ok_or_else(|| {
                Error::Build(format!("failed to reach build target {t} in Dockerfile"))
            })?,
    };
    let stages = &file.stages[..=last];
    let total: usize = stages.iter().map(|s| 1 + s.instructions.len()).sum();
    let context = context::Context::open(&opts.context)?;
    let cache = cache::Cache::open(store)?;
    let mut global = BTreeMap::new();
    for arg in &file.global_args {
        let (name, value) = stage::declare(arg, &opts.build_args, &global, &|_: &str| None)?;
        global.insert(name, value);
    }
    let mut run = stage::Run {
        store,
        executor,
        context: &context,
        cache: &cache,
        opts,
        global,
        built: Vec::new(),
        step: 0,
        total,
        out,
    };
    for s in stages {
        run.stage(s).await?;
    }
    let state = run.built.pop().map(|(_, s)| s).expect("one stage at least");
    let id = state.id();
    let digest = state.write(store)?;
    for name in &names {
        store.tag(name, &digest)?;
    }
    if names.is_empty() {
        store.tag(digest.as_str(), &digest)?; // `<none>`, as docker keeps an untagged build
    }
    writeln!(out, "Successfully built {}", &id.hex()[..12])?;
    for t in &opts.tags {
        writeln!(out, "Successfully tagged {}", display_name(t))?;
    }
    Ok(Built { id, digest, names })
}

/// The state of a base image: from the store, pulled when absent.
async fn base_image(store: &ImageStore, name: &str, pull: &PullOptions) -> Result<State> {
    let digest = match store.resolve(name) {
        Ok(d) => d,
        Err(Error::NotFound(_)) => {
            let mut options = pull.clone();
            options.insecure.extend(insecure_for(name));
            Puller::new(options)?
                .pull(store, name)
                .await
                .map_err(|e| Error::Build(format!("pull access denied or failed for {name}: {e}")))?
                .digest
        }
        Err(e) => return Err(e),
    };
    State::of_image(store, &digest)
}

/// The registry of `image` when it is on loopback (`localhost:*`, `127.0.0.1:*`), which is
/// spoken to over plain HTTP as docker does.
pub fn insecure_for(image: &str) -> Option<String> {
    let r = Reference::parse(image).ok()?;
    let host = r.registry.split(':').next().unwrap_or_default();
    matches!(host, "localhost" | "127.0.0.1" | "[::1]").then_some(r.registry)
}

/// A tag as docker prints it (`app:latest` for `app`).
fn display_name(tag: &str) -> String {
    let last = tag.rsplit('/').next().unwrap_or(tag);
    if last.contains(':') || tag.contains('@') {
        tag.to_owned()
    } else {
        format!("{tag}:latest")
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
