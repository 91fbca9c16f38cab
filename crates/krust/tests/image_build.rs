//! `krust image build|tag|save|push` run as a user runs them (root: RUN steps are containers
//! of krust's runtime): a small web app built FROM the offline busybox in two stages, the
//! cache on a second build and after a change, docker's messages for a failing RUN and a
//! missing source, nothing left behind, a save → load round trip, a push to a loopback
//! registry pulled back with the same digest, a scratch image's LABEL, USER (its RUN as that
//! user) and ENTRYPOINT, and RUN refused without root with how to run it.

mod nobody;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use krust_image::build::rootfs;
use krust_image::testing::{Registry, busybox_archive};
use krust_image::{ImageStore, PullOptions, Puller, store_dir, unpack};

const BASE: &str = "krust.test/busybox:1";

fn krust(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_krust"))
        .arg("image")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run krust")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A data dir with the busybox image loaded and a web app's context.
struct App {
    tmp: tempfile::TempDir,
}

impl App {
    fn new() -> App {
        let tmp = tempfile::Builder::new()
            .prefix("krust-build-test")
            .tempdir()
            .unwrap();
        let app = App { tmp };
        let archive = busybox_archive(app.tmp.path(), BASE);
        let load = krust(&app.data(), &["load", archive.to_str().unwrap()]);
        assert!(load.status.success(), "{}", text(&load));
        for (path, content) in [
            (".dockerignore", "site/secret.txt\n**/*.swp\n"),
            ("greeting.txt", "the build stage"),
            ("site/index.html", "<h1>hello</h1>\n"),
            ("site/secret.txt", "do not ship"),
            ("site/edit.swp", "junk"),
            (
                "Dockerfile",
                "ARG BASE=krust.test/busybox:1\n\
                 # the build stage\n\
                 FROM ${BASE} AS build\n\
                 WORKDIR /work\n\
                 COPY greeting.txt .\n\
                 RUN echo \"built from $(cat greeting.txt)\" > page.txt \\\n    && mkdir -p out && cp page.txt out/\n\
                 from ${BASE}\n\
                 ARG FLAVOUR=plain\n\
                 ENV APP_ENV=production PORT=8080\n\
                 WORKDIR /srv\n\
                 COPY --from=build /work/out/ ./\n\
                 RUN rm /bin/yes && echo \"$FLAVOUR\" > flavour\n\
                 COPY site/ ./\n\
                 EXPOSE 8080\n\
                 CMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/srv\"]\n",
            ),
        ] {
            app.write(path, content);
        }
        app
    }

    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn context(&self) -> PathBuf {
        self.tmp.path().join("ctx")
    }

    fn write(&self, path: &str, content: &str) {
        let p = self.context().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn build(&self, extra: &[&str]) -> Output {
        let ctx = self.context();
        let mut args = vec!["build"];
        args.extend(extra);
        args.push(ctx.to_str().unwrap());
        krust(&self.data(), &args)
    }

    fn store(&self) -> ImageStore {
        ImageStore::open(store_dir(&self.data())).unwrap()
    }

    /// No build container's state or mount is left.
    fn assert_clean(&self) {
        let builds = self.data().join("krust-build");
        let left: Vec<_> = std::fs::read_dir(&builds)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "left in {}: {left:?}", builds.display());
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let data = self.data().display().to_string();
        assert!(!mounts.contains(&data), "a mount under {data} is left");
    }
}

fn root() -> bool {
    rustix::process::geteuid().is_root()
}

fn steps_cached(out: &str) -> usize {
    out.matches(" ---> Using cache").count()
}

#[test]
fn a_two_stage_web_app_builds_from_busybox_and_is_cached_until_a_file_changes() {
    if !root() {
        eprintln!("skipped: RUN steps need root");
        return;
    }
    let app = App::new();
    let first = app.build(&["-t", "krust.test/web:1", "--build-arg", "FLAVOUR=spicy"]);
    let out = text(&first);
    assert!(first.status.success(), "{out}");
    assert!(out.contains("Step 1/13 : FROM ${BASE} AS build"), "{out}");
    assert!(out.contains(" ---> Running in "), "{out}");
    assert!(
        out.contains("Successfully tagged krust.test/web:1"),
        "{out}"
    );
    app.assert_clean();

    let store = app.store();
    let digest = store.resolve("krust.test/web:1").unwrap();
    let manifest = store.manifest(&digest).unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&store.read_blob(&manifest.config.digest).unwrap()).unwrap();
    let c = &config["config"];
    assert_eq!(
        c["Cmd"],
        serde_json::json!(["httpd", "-f", "-p", "8080", "-h", "/srv"])
    );
    assert_eq!(c["WorkingDir"], "/srv");
    assert!(
        c["Env"]
            .as_array()
            .unwrap()
            .contains(&"APP_ENV=production".into())
    );
    assert!(c["ExposedPorts"]["8080/tcp"].is_object());
    assert!(config["history"].as_array().unwrap().len() >= 7);

    let layers = unpack::rootfs(&store, "krust.test/web:1").unwrap();
    let read = |p: &str| {
        std::fs::read_to_string(rootfs::lookup(&layers, p).unwrap_or_default()).unwrap_or_default()
    };
    assert_eq!(read("srv/page.txt"), "built from the build stage\n");
    assert_eq!(read("srv/index.html"), "<h1>hello</h1>\n");
    assert_eq!(read("srv/flavour"), "spicy\n");
    assert!(
        rootfs::lookup(&layers, "srv/secret.txt").is_none(),
        ".dockerignore"
    );
    assert!(
        rootfs::lookup(&layers, "srv/edit.swp").is_none(),
        ".dockerignore"
    );
    assert!(
        rootfs::lookup(&layers, "bin/yes").is_none(),
        "a RUN's deletion is a whiteout"
    );
    assert!(rootfs::lookup(&layers, "bin/sh").is_some());
    assert!(
        rootfs::lookup(&layers, "etc/resolv.conf").is_none(),
        "no mount point the runtime made is in a layer"
    );

    // The same build again: every step from the cache, the same image.
    let second = app.build(&["-t", "krust.test/web:1", "--build-arg", "FLAVOUR=spicy"]);
    let out = text(&second);
    assert!(second.status.success(), "{out}");
    assert_eq!(steps_cached(&out), 10, "{out}");
    assert!(!out.contains("Running in"), "{out}");
    assert_eq!(store.resolve("krust.test/web:1").unwrap(), digest);

    // A changed page: only the steps from its COPY on run again.
    app.write("site/index.html", "<h1>hello again</h1>\n");
    let third = app.build(&["-t", "krust.test/web:2", "--build-arg", "FLAVOUR=spicy"]);
    let out = text(&third);
    assert!(third.status.success(), "{out}");
    assert_eq!(steps_cached(&out), 7, "{out}");
    let after_copy = out.split("COPY site/ ./").nth(1).unwrap();
    assert_eq!(steps_cached(after_copy), 0, "{out}");
    let layers = unpack::rootfs(&store, "krust.test/web:2").unwrap();
    assert_eq!(
        std::fs::read_to_string(rootfs::lookup(&layers, "srv/index.html").unwrap()).unwrap(),
        "<h1>hello again</h1>\n"
    );
    // The first stage alone, from the cache.
    let fourth = app.build(&["-t", "krust.test/web:3", "--target", "build"]);
    assert!(fourth.status.success(), "{}", text(&fourth));
    assert_eq!(steps_cached(&text(&fourth)), 3, "{}", text(&fourth));
    app.assert_clean();
}

#[test]
fn a_failing_run_prints_its_output_and_dockers_message_and_exits_with_its_code() {
    if !root() {
        eprintln!("skipped: RUN steps need root");
        return;
    }
    let app = App::new();
    app.write(
        "Dockerfile",
        "FROM krust.test/busybox:1\nRUN echo about to fail && false\n",
    );
    let failed = app.build(&["-t", "krust.test/bad:1"]);
    let out = text(&failed);
    assert_eq!(failed.status.code(), Some(1), "{out}");
    assert!(out.contains("about to fail"), "{out}");
    assert!(
        out.contains(
            "The command '/bin/sh -c echo about to fail && false' returned a non-zero code: 1"
        ),
        "{out}"
    );
    app.write(
        "Dockerfile",
        "FROM krust.test/busybox:1\nRUN [\"sh\", \"-c\", \"exit 3\"]\n",
    );
    let failed = app.build(&[]);
    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed));
    assert!(text(&failed).contains("The command 'sh -c exit 3' returned a non-zero code: 3"));
    assert!(app.store().resolve("krust.test/bad:1").is_err());
    app.assert_clean();
}

#[test]
fn a_scratch_image_gets_its_labels_entrypoint_and_user_and_runs_as_that_user() {
    if !root() {
        eprintln!("skipped: RUN steps need root");
        return;
    }
    let app = App::new();
    std::fs::copy(
        krust_image::testing::busybox::HOST_BUSYBOX,
        app.context().join("busybox"),
    )
    .unwrap();
    app.write(
        "Dockerfile",
        "FROM scratch\n\
         COPY busybox /bin/busybox\n\
         LABEL org.example.app=hello version=\"1.0\"\n\
         USER 1234:5678\n\
         RUN [\"/bin/busybox\", \"id\"]\n\
         ENTRYPOINT [\"/bin/busybox\", \"echo\"]\n\
         CMD [\"hello\", \"from\", \"scratch\"]\n",
    );
    let built = app.build(&["-t", "krust.test/scratch:1"]);
    let out = text(&built);
    assert!(built.status.success(), "{out}");
    assert!(out.contains("uid=1234 gid=5678"), "RUN as the USER: {out}");
    app.assert_clean();
    let store = app.store();
    let digest = store.resolve("krust.test/scratch:1").unwrap();
    let manifest = store.manifest(&digest).unwrap();
    assert_eq!(
        manifest.layers.len(),
        2,
        "a layer of COPY and one of RUN, as docker makes"
    );
    let config: serde_json::Value =
        serde_json::from_slice(&store.read_blob(&manifest.config.digest).unwrap()).unwrap();
    let c = &config["config"];
    assert_eq!(
        c["Labels"],
        serde_json::json!({"org.example.app": "hello", "version": "1.0"})
    );
    assert_eq!(c["User"], "1234:5678");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/busybox", "echo"]));
    assert_eq!(c["Cmd"], serde_json::json!(["hello", "from", "scratch"]));
}

#[test]
fn a_run_step_as_another_user_than_root_is_refused_with_how_to_run_it() {
    let tmp = tempfile::Builder::new()
        .prefix("krust-build-test")
        .tempdir()
        .unwrap();
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nRUN [\"/bin/true\"]\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = nobody::krust()
        .args(["image", "build", "--data-dir"])
        .arg(tmp.path().join("data"))
        .args(["-t", "krust.test/x:1"])
        .arg(&ctx)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(
            "RUN steps run in containers of krust's runtime, which needs root: run krust image build as root (sudo)"
        ),
        "{}",
        text(&out)
    );
}

#[test]
fn a_missing_copy_source_gets_dockers_message() {
    let app = App::new();
    app.write("Dockerfile", "FROM krust.test/busybox:1\nCOPY x /x\n");
    let failed = app.build(&[]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains(
            "COPY failed: file not found in build context or excluded by .dockerignore: stat x: file does not exist"
        ),
        "{}",
        text(&failed)
    );
    app.write(
        "Dockerfile",
        "FROM krust.test/busybox:1\nCOPY site/secret.txt /x\n",
    );
    assert!(text(&app.build(&[])).contains("stat site/secret.txt: file does not exist"));
}

#[test]
fn a_saved_image_loads_back_with_the_same_digest_and_a_tag_names_it_again() {
    let app = App::new();
    app.write(
        "Dockerfile",
        "FROM krust.test/busybox:1\nCOPY site /srv\nCMD [\"cat\", \"/srv/index.html\"]\n",
    );
    let built = app.build(&["-t", "krust.test/static:1"]);
    assert!(built.status.success(), "{}", text(&built));
    let tag = krust(
        &app.data(),
        &["tag", "krust.test/static:1", "static:latest"],
    );
    assert!(tag.status.success(), "{}", text(&tag));
    let digest = app.store().resolve("static").unwrap();
    assert_eq!(app.store().resolve("krust.test/static:1").unwrap(), digest);
    let missing = krust(&app.data(), &["tag", "nope:1", "x:1"]);
    assert_eq!(text(&missing).trim(), "Error: No such image: nope:1");

    let archive = app.tmp.path().join("static.tar");
    let save = krust(
        &app.data(),
        &[
            "save",
            "-o",
            archive.to_str().unwrap(),
            "static",
            "krust.test/static:1",
        ],
    );
    assert!(save.status.success(), "{}", text(&save));
    let other = app.tmp.path().join("other");
    let load = krust(&other, &["load", archive.to_str().unwrap()]);
    assert!(load.status.success(), "{}", text(&load));
    let loaded = ImageStore::open(store_dir(&other)).unwrap();
    assert_eq!(loaded.resolve("krust.test/static:1").unwrap(), digest);
    assert_eq!(
        loaded.resolve("docker.io/library/static:latest").unwrap(),
        digest
    );

    // What `docker load` reads: podman loads the archive (storage of its own, removed with
    // the temporary directory) and names both tags.
    let podman = |args: &[&str]| {
        let storage = app.tmp.path().join("podman");
        Command::new("podman")
            .arg("--root")
            .arg(storage.join("root"))
            .arg("--runroot")
            .arg(storage.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .output()
            .expect("podman (scripts/test.sh installs it)")
    };
    let loaded = podman(&["load", "-i", archive.to_str().unwrap()]);
    assert!(loaded.status.success(), "podman load: {}", text(&loaded));
    let images = podman(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let names = String::from_utf8_lossy(&images.stdout);
    assert!(
        names.contains("krust.test/static:1") && names.contains("static:latest"),
        "{names}"
    );
    let config = podman(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.Cmd}}",
        "krust.test/static:1",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&config.stdout).trim(),
        "[cat /srv/index.html]"
    );
}

#[test]
fn a_pushed_image_is_pulled_back_from_the_registry_with_the_same_digest() {
    let app = App::new();
    app.write("Dockerfile", "FROM krust.test/busybox:1\nCOPY site /srv\n");
    let built = app.build(&["-t", "krust.test/pushed:1"]);
    assert!(built.status.success(), "{}", text(&built));
    let digest = app.store().resolve("krust.test/pushed:1").unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let registry = rt.block_on(Registry::start(None));
    let target = format!("{}/team/pushed:1", registry.addr());
    let push = krust(&app.data(), &["push", "krust.test/pushed:1", &target]);
    let out = text(&push);
    assert!(push.status.success(), "{out}");
    assert!(out.contains(": Pushed"), "{out}");
    assert!(
        out.contains(&format!("1: digest: {digest} size: ")),
        "{out}"
    );
    assert_eq!(
        registry.manifest_digest("team/pushed:1"),
        Some(digest.clone())
    );
    let again = krust(&app.data(), &["push", "krust.test/pushed:1", &target]);
    assert!(
        text(&again).contains("Layer already exists"),
        "{}",
        text(&again)
    );

    let other = ImageStore::open(app.tmp.path().join("pulled")).unwrap();
    let puller = Puller::new(PullOptions {
        insecure: vec![registry.addr().to_owned()],
        ..Default::default()
    })
    .unwrap();
    let pulled = rt.block_on(puller.pull(&other, &target)).unwrap();
    assert_eq!(pulled.digest, digest);
}

#[test]
fn a_base_image_not_in_the_store_is_pulled_from_its_registry() {
    let app = App::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let registry = rt.block_on(Registry::start(None));
    let base = format!("{}/lib/busybox:1", registry.addr());
    let push = krust(&app.data(), &["push", BASE, &base]);
    assert!(push.status.success(), "{}", text(&push));
    // Another store, without the base: the build pulls it (loopback registries over HTTP,
    // as docker does).
    let fresh = app.tmp.path().join("fresh");
    app.write("Dockerfile", &format!("FROM {base}\nCOPY site /srv\n"));
    let built = krust(
        &fresh,
        &[
            "build",
            "-t",
            "krust.test/on-pulled:1",
            app.context().to_str().unwrap(),
        ],
    );
    assert!(built.status.success(), "{}", text(&built));
    assert_eq!(registry.manifest_requests("lib/busybox"), 1);
    let store = ImageStore::open(store_dir(&fresh)).unwrap();
    let pulled = store.resolve(&base).unwrap();
    assert_eq!(pulled, app.store().resolve(BASE).unwrap());
    let base_layers = store.manifest(&pulled).unwrap().layers;
    let layers = store
        .manifest(&store.resolve("krust.test/on-pulled:1").unwrap())
        .unwrap()
        .layers;
    assert_eq!(layers.len(), base_layers.len() + 1);
    assert_eq!(layers[..base_layers.len()], base_layers[..]);
}

#[test]
fn a_push_to_a_registry_behind_basic_auth_uses_the_docker_login_credentials() {
    let app = App::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let creds = krust_image::Credentials {
        username: "krt-user".into(),
        password: "krt-pass".into(),
    };
    let registry = rt.block_on(Registry::start(Some(creds.clone())));
    let target = format!("{}/private/busybox:1", registry.addr());
    let denied = krust(&app.data(), &["push", BASE, &target]);
    assert_eq!(denied.status.code(), Some(1));
    assert!(text(&denied).contains("unauthorized"), "{}", text(&denied));

    let config = app.tmp.path().join("docker");
    std::fs::create_dir_all(&config).unwrap();
    let auth = creds.basic().trim_start_matches("Basic ").to_owned();
    let json = serde_json::json!({"auths": {registry.addr(): {"auth": auth}}});
    std::fs::write(config.join("config.json"), json.to_string()).unwrap();
    let pushed = Command::new(env!("CARGO_BIN_EXE_krust"))
        .args(["image", "push", BASE, &target, "--data-dir"])
        .arg(app.data())
        .env("DOCKER_CONFIG", &config)
        .output()
        .unwrap();
    assert!(pushed.status.success(), "{}", text(&pushed));
    let digest = app.store().resolve(BASE).unwrap();
    assert_eq!(registry.manifest_digest("private/busybox:1"), Some(digest));
}

#[test]
fn add_extracts_a_local_tar_and_refuses_a_url() {
    use krust_image::testing::{Entry, gzip, tar_of};
    let app = App::new();
    let tarball = gzip(&tar_of(&[
        Entry::Dir("tool"),
        Entry::File("tool/run.sh", b"echo tool\n"),
    ]));
    std::fs::write(app.context().join("tool.tar.gz"), tarball).unwrap();
    app.write(
        "Dockerfile",
        "FROM krust.test/busybox:1\nADD tool.tar.gz /opt/\n",
    );
    let built = app.build(&["-t", "krust.test/tool:1"]);
    assert!(built.status.success(), "{}", text(&built));
    let layers = unpack::rootfs(&app.store(), "krust.test/tool:1").unwrap();
    let script = rootfs::lookup(&layers, "opt/tool/run.sh").expect("extracted");
    assert_eq!(std::fs::read_to_string(script).unwrap(), "echo tool\n");

    app.write(
        "Dockerfile",
        "FROM krust.test/busybox:1\nADD https://example.com/x /x\n",
    );
    let refused = app.build(&[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).contains("downloading a URL is not supported"),
        "{}",
        text(&refused)
    );
}
