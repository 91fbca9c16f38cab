//! `krust image load|ls|rm|build|tag|push|save`: the node's image store (`krust-image`) from
//! the command line, as `docker load`, `docker images` (`crictl images`), `docker rmi`,
//! `docker build` (the classic builder's output; RUN steps in krust's runtime, `build_executor.rs`),
//! `docker tag`, `docker push` and `docker save` show it. The store is the one the node uses:
//! the local cluster's (`krust start`; `-p` names another profile, as `minikube image -p`), or
//! with `--data-dir D` `D/images` ([`krust_image::store_dir`]), so a built image is at once
//! usable by pods (`imagePullPolicy: IfNotPresent` or `Never`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, bail};
use krust_image::{Digest, Error, ImageStore, Reference, archive, build, store_dir};

/// Options of `krust image`.
#[derive(clap::Args)]
pub struct Args {
    /// The node's data dir (its images are under `images/`); default: the local cluster's
    /// (`krust start`) when there is one, else `krust server`'s default, /var/lib/krust.
    #[arg(long, global = true, conflicts_with = "profile")]
    data_dir: Option<PathBuf>,
    /// The local cluster whose node's store to use (as `minikube image -p`; default `krust`).
    #[arg(short = 'p', long = "profile", global = true)]
    profile: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Loads images from `docker save` or OCI archives (plain, gzip or zstd).
    Load {
        /// Archive files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Lists images.
    #[command(alias = "list")]
    Ls,
    /// Removes images by name; what no other image uses is deleted.
    #[command(alias = "rmi")]
    Rm {
        /// Image names (`busybox`, `localhost:5000/a:1`).
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Builds an image from a Dockerfile into the store (as `docker build`).
    Build {
        /// Names of the image (`app`, `app:2`); repeatable.
        #[arg(short = 't', long = "tag")]
        tags: Vec<String>,
        /// The Dockerfile (default: `DIR/Dockerfile`).
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        /// `KEY=VALUE` for an ARG (a bare `KEY` takes the variable from the environment).
        #[arg(long = "build-arg")]
        build_args: Vec<String>,
        /// The stage to build (default: the last).
        #[arg(long)]
        target: Option<String>,
        /// The build context directory.
        context: PathBuf,
    },
    /// Gives an image another name (as `docker tag`).
    Tag {
        /// An image of the store.
        source: String,
        /// The new name.
        target: String,
    },
    /// Pushes an image to a registry (as `docker push`); loopback registries over HTTP.
    Push {
        /// An image of the store.
        name: String,
        /// Where to push it (`localhost:5000/app:1`); default: NAME itself.
        target: Option<String>,
    },
    /// Writes images to an archive `docker load` reads (as `docker save`).
    Save {
        /// The file to write (default: standard output, unless it is a terminal).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Image names.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

/// Runs `krust image …` and exits: status 1 after `Error: …` on stderr when it fails, worded
/// as docker's (`open F: no such file or directory`, `No such image: N`); a build's own
/// failures are printed as docker build prints them (no prefix), a failed RUN's exit code
/// is the status.
pub fn main(args: Args) -> ! {
    let result = run(args);
    let _ = std::io::stdout().flush();
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => match e.downcast_ref::<Error>() {
            Some(Error::RunFailed(message, code)) => {
                eprintln!("{message}");
                std::process::exit(if *code > 0 && *code < 256 { *code } else { 1 })
            }
            Some(Error::Build(message)) => {
                eprintln!("{message}");
                std::process::exit(1)
            }
            _ => {
                eprintln!("Error: {e}");
                std::process::exit(1)
            }
        },
    }
}

/// The data dir whose store `args` name: `--data-dir`, else the profile's (`-p`, or the
/// default profile when it was ever started), else `krust server`'s default.
fn data_dir(args: &Args) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &args.data_dir {
        return Ok(dir.clone());
    }
    let profile = crate::local::Profile::named(args.profile.as_deref().unwrap_or("krust"))?;
    if profile.settings()?.is_some() {
        return Ok(profile.dir);
    }
    if args.profile.is_some() {
        bail!(
            "there is no {:?} cluster: start it with `krust start{}`",
            profile.name,
            profile.flag()
        );
    }
    Ok(PathBuf::from("/var/lib/krust"))
}

/// Runs `krust image …` (no async runtime needed: the store is files).
fn run(args: Args) -> anyhow::Result<()> {
    let data_dir = data_dir(&args)?;
    let dir = store_dir(&data_dir);
    let store = ImageStore::open(&dir).map_err(|e| anyhow!("open {}: {e}", dir.display()))?;
    let mut out = std::io::stdout().lock();
    match args.command {
        Command::Load { files } => {
            for file in files {
                if !file.exists() {
                    bail!("open {}: no such file or directory", file.display());
                }
                let loaded = archive::load_file(&store, &file)
                    .map_err(|e| anyhow!("load {}: {e}", file.display()))?;
                for image in loaded {
                    writeln!(out, "Loaded image: {}", image.name)?;
                }
            }
            Ok(())
        }
        Command::Ls => {
            out.write_all(list(&store)?.as_bytes())?;
            Ok(())
        }
        Command::Rm { names } => remove(&store, &names, &mut out),
        Command::Build {
            tags,
            file,
            build_args,
            target,
            context,
        } => {
            let build_args = build_args
                .iter()
                .filter_map(|a| match a.split_once('=') {
                    Some((k, v)) => Some((k.to_owned(), v.to_owned())),
                    None => std::env::var(a).ok().map(|v| (a.clone(), v)),
                })
                .collect();
            let opts = build::BuildOptions {
                context,
                dockerfile: file,
                tags,
                build_args,
                target,
                pull: registry_options(),
            };
            drop(out);
            async_runtime()?.block_on(async move {
                let executor = Executor::new(&data_dir).await?;
                let mut out = std::io::stdout();
                let result = tokio::select! {
                    r = build::build(&store, &executor, &opts, &mut out) => r.map(drop).map_err(Into::into),
                    _ = crate::stop_requested() => Err(anyhow!("build canceled")),
                };
                if let Executor::Runtime(r) = &executor {
                    r.cleanup().await;
                }
                result
            })
        }
        Command::Tag { source, target } => {
            let digest = match store.resolve(&source) {
                Ok(d) => d,
                Err(Error::NotFound(_)) => bail!("No such image: {source}"),
                Err(e) => return Err(e.into()),
            };
            store.tag(&target, &digest)?;
            Ok(())
        }
        Command::Push { name, target } => {
            let target = target.unwrap_or_else(|| name.clone());
            drop(out);
            async_runtime()?.block_on(async {
                let mut out = std::io::stdout();
                krust_image::push::push(&store, &name, &target, &registry_options(), &mut out)
                    .await?;
                Ok(())
            })
        }
        Command::Save { output, names } => {
            for name in &names {
                if store.resolve(name).is_err() {
                    bail!("No such image: {name}");
                }
            }
            match output {
                Some(path) => {
                    let tmp = path.with_extension("krust-save.tmp");
                    let file = std::fs::File::create(&tmp).map_err(|e| {
                        anyhow!(
                            "open {}: {}",
                            tmp.display(),
                            krust_image::error::io_words(&e)
                        )
                    })?;
                    let mut w = std::io::BufWriter::new(file);
                    krust_image::save::save(&store, &names, &mut w)?;
                    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                    std::fs::rename(&tmp, &path)?;
                }
                None => {
                    use std::io::IsTerminal;
                    if std::io::stdout().is_terminal() {
                        bail!(
                            "cowardly refusing to save to a terminal. Use the -o flag or redirect"
                        );
                    }
                    krust_image::save::save(&store, &names, &mut out)?;
                }
            }
            Ok(())
        }
    }
}

/// Credentials from the docker client's config (`$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json`), as `docker login` leaves them, for pushes and base pulls.
fn registry_options() -> krust_image::PullOptions {
    let path = match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir).join("config.json"),
        None => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(".docker/config.json"),
            None => return Default::default(),
        },
    };
    let credentials = std::fs::read(path)
        .map(|json| krust_image::auth::docker_config_credentials(&json))
        .unwrap_or_default();
    krust_image::PullOptions {
        credentials,
        ..Default::default()
    }
}

fn async_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// RUN steps in krust's runtime when root; otherwise a build without RUN still works.
enum Executor {
    Runtime(crate::build_executor::RuntimeExecutor),
    NotRoot,
}

impl Executor {
    async fn new(data_dir: &std::path::Path) -> anyhow::Result<Self> {
        if !rustix::process::geteuid().is_root() {
            return Ok(Executor::NotRoot);
        }
        let executor = crate::build_executor::RuntimeExecutor::new(data_dir).await?;
        Ok(Executor::Runtime(executor))
    }
}

impl build::Executor for Executor {
    async fn run(
        &self,
        step: &build::RunStep,
        out: &mut dyn Write,
        diff: &mut dyn FnMut(&std::path::Path) -> krust_image::Result<()>,
    ) -> krust_image::Result<i32> {
        match self {
            Executor::Runtime(r) => r.run(step, out, diff).await,
            Executor::NotRoot => Err(Error::Build(
                "RUN steps run in containers of krust's runtime, which needs root: run krust image build as root (sudo)".into(),
            )),
        }
    }
}

/// `docker rmi`: `Untagged: NAME`, then `Deleted: DIGEST` once no name is left on the image.
/// A name not present is an error (the others are still removed).
fn remove(store: &ImageStore, names: &[String], out: &mut impl Write) -> anyhow::Result<()> {
    let mut missing = Vec::new();
    for name in names {
        let digest = match store.resolve(name) {
            Ok(d) => d,
            Err(Error::NotFound(_)) => {
                missing.push(name.as_str());
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let key = krust_image::store::image_key(name)?;
        store.remove(name)?;
        writeln!(out, "Untagged: {key}")?;
        if !store.list()?.iter().any(|(_, d)| *d == digest) {
            writeln!(out, "Deleted: {digest}")?;
        }
    }
    match missing.as_slice() {
        [] => Ok(()),
        _ => {
            let lines: Vec<String> = missing
                .iter()
                .map(|n| format!("No such image: {n}"))
                .collect();
            bail!("{}", lines.join("\n"))
        }
    }
}

/// The `crictl images` table: IMAGE, TAG, IMAGE ID (the config digest's first 12 hex, as
/// docker shows it), SIZE (the content size, in docker's units).
fn list(store: &ImageStore) -> anyhow::Result<String> {
    let mut rows = vec![[
        "IMAGE".to_owned(),
        "TAG".to_owned(),
        "IMAGE ID".to_owned(),
        "SIZE".to_owned(),
    ]];
    let mut sizes = BTreeMap::new();
    for (name, digest) in store.list()? {
        let manifest = store.manifest(&digest)?;
        let id = manifest.config.digest.hex()[..12].to_owned();
        let size = match sizes.get(&digest) {
            Some(&s) => s,
            None => *sizes
                .entry(digest.clone())
                .or_insert(store.content_size(&digest)?),
        };
        let (image, tag) = columns(&name);
        rows.push([image, tag, id, human_size(size)]);
    }
    Ok(table(&rows))
}

/// The IMAGE and TAG of an index key: a reference's name and tag (`<none>` when pinned by
/// digest only); an untagged image (a bare digest) is `<none>` `<none>`.
fn columns(name: &str) -> (String, String) {
    let none = || "<none>".to_owned();
    if Digest::parse(name).is_ok() {
        return (none(), none());
    }
    match Reference::parse(name) {
        Ok(r) => (r.name(), r.tag.unwrap_or_else(none)),
        Err(_) => (name.to_owned(), none()),
    }
}

/// Columns padded as Go's tabwriter pads `docker images` (three spaces between).
fn table(rows: &[[String; 4]]) -> String {
    let mut widths = [0; 4];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 3;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Docker's `units.HumanSizeWithPrecision(size, 3)`: decimal units, three significant digits
/// (`4.26MB`, `187MB`, `512B`).
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit + 1 < UNITS.len() {
        size /= 1000.0;
        unit += 1;
    }
    let decimals = match size {
        s if s >= 100.0 => 0,
        s if s >= 10.0 => 1,
        _ => 2,
    };
    let text = format!("{size:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_in_decimal_units_with_three_significant_digits() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(4_261_000), "4.26MB");
        assert_eq!(human_size(187_400_000), "187MB");
        assert_eq!(human_size(2_000), "2kB");
        assert_eq!(human_size(12_345), "12.3kB");
    }

    #[test]
    fn an_untagged_image_and_a_pinned_one_show_none_as_tag() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(columns(&d), ("<none>".into(), "<none>".into()));
        assert_eq!(
            columns(&format!("docker.io/library/x@{d}")),
            ("docker.io/library/x".into(), "<none>".into())
        );
        assert_eq!(
            columns("krust.test/busybox:1"),
            ("krust.test/busybox".into(), "1".into())
        );
    }
}
