//! The build over a fake [`Executor`] (no container, no root): what a RUN step is given, its
//! upper directory turned into a layer, the cache, a failing step's message.

use std::cell::RefCell;
use std::fs;

use super::*;
use crate::testing::{Entry, put_image, tar_of};

/// Records each step; "runs" it by writing `ran` into a fresh upper directory, and exits
/// with `code`.
struct Fake {
    steps: RefCell<Vec<RunStep>>,
    code: i32,
}

impl Executor for Fake {
    async fn run(
        &self,
        step: &RunStep,
        out: &mut dyn Write,
        diff: &mut dyn FnMut(&Path) -> Result<()>,
    ) -> Result<i32> {
        self.steps.borrow_mut().push(step.clone());
        writeln!(out, "output of the step")?;
        let upper = tempfile::tempdir()?;
        fs::create_dir(upper.path().join("app"))?;
        fs::write(upper.path().join("app/ran"), step.args.join(" "))?;
        if self.code == 0 {
            diff(upper.path())?;
        }
        Ok(self.code)
    }
}

fn setup(dockerfile: &str) -> (tempfile::TempDir, ImageStore, BuildOptions) {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path().join("store")).unwrap();
    let base = tar_of(&[Entry::Dir("bin"), Entry::File("bin/sh", b"")]);
    put_image(&store, "krust.test/base:1", &[base]);
    let ctx = tmp.path().join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    let opts = BuildOptions {
        context: ctx,
        tags: vec!["krust.test/out:1".into()],
        build_args: [("V".to_owned(), "from-cli".to_owned())].into(),
        ..Default::default()
    };
    (tmp, store, opts)
}

#[tokio::test]
async fn a_run_step_sees_env_and_build_args_and_its_upper_directory_becomes_a_layer() {
    let (_tmp, store, opts) =
        setup("FROM krust.test/base:1\nARG V=default\nENV A=1\nWORKDIR /w\nUSER 5\nRUN echo $V\n");
    let fake = Fake {
        steps: RefCell::new(Vec::new()),
        code: 0,
    };
    let mut out = Vec::new();
    let built = build(&store, &fake, &opts, &mut out).await.unwrap();
    let steps = fake.steps.borrow().clone();
    assert_eq!(steps.len(), 1);
    let step = &steps[0];
    assert_eq!(step.args, ["/bin/sh", "-c", "echo $V"]);
    assert!(step.env.contains(&"A=1".to_owned()), "{:?}", step.env);
    assert!(
        step.env.contains(&"V=from-cli".to_owned()),
        "{:?}",
        step.env
    );
    assert_eq!((step.cwd.as_str(), step.user.as_str()), ("/w", "5"));
    assert!(step.name.starts_with("krust-build-"));
    assert_eq!(step.lower_dirs.len(), 2, "the base layer and WORKDIR's");

    let dirs = crate::unpack::rootfs(&store, "krust.test/out:1").unwrap();
    let ran = rootfs::lookup(&dirs, "app/ran").unwrap();
    assert_eq!(fs::read_to_string(ran).unwrap(), "/bin/sh -c echo $V");
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("output of the step"), "{text}");

    // Again: every step from the cache, no RUN, the same image.
    let mut out = Vec::new();
    let again = build(&store, &fake, &opts, &mut out).await.unwrap();
    assert_eq!(fake.steps.borrow().len(), 1);
    assert_eq!(again.digest, built.digest);
    assert_eq!(
        String::from_utf8(out)
            .unwrap()
            .matches("Using cache")
            .count(),
        4
    );
}

#[tokio::test]
async fn a_failing_run_step_is_dockers_non_zero_code_message_and_tags_nothing() {
    let (_tmp, store, opts) = setup("FROM krust.test/base:1\nRUN [\"false\", \"x\"]\n");
    let fake = Fake {
        steps: RefCell::new(Vec::new()),
        code: 2,
    };
    let err = build(&store, &fake, &opts, &mut Vec::new())
        .await
        .unwrap_err();
    match err {
        Error::RunFailed(message, 2) => {
            assert_eq!(message, "The command 'false x' returned a non-zero code: 2")
        }
        e => panic!("{e}"),
    }
    assert!(store.resolve("krust.test/out:1").is_err());
}

#[tokio::test]
async fn an_unknown_target_and_a_missing_dockerfile_are_refused_in_dockers_words() {
    let (_tmp, store, mut opts) = setup("FROM krust.test/base:1 AS a\n");
    let fake = Fake {
        steps: RefCell::new(Vec::new()),
        code: 0,
    };
    opts.target = Some("b".into());
    let err = build(&store, &fake, &opts, &mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to reach build target b in Dockerfile"
    );
    opts.target = None;
    opts.dockerfile = Some(opts.context.join("Nope"));
    let err = build(&store, &fake, &opts, &mut Vec::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Nope: no such file or directory"),
        "{err}"
    );
}
