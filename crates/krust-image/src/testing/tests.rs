use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;
use crate::auth::Credentials;
use crate::pull::{PullOptions, Puller};
use crate::unpack::rootfs;

#[test]
fn the_busybox_archive_loads_with_a_shell_its_applets_users_and_cmd_sh() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = busybox_archive(tmp.path(), "krust.test/busybox:1");
    let store = ImageStore::open(tmp.path().join("store")).unwrap();
    let loaded = crate::archive::load_file(&store, &archive).unwrap();
    assert_eq!(loaded[0].name, "krust.test/busybox:1");
    let dirs = rootfs(&store, "krust.test/busybox:1").unwrap();
    let root = &dirs[0];
    let mode = std::fs::metadata(root.join("bin/busybox"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111);
    assert_eq!(
        std::fs::read_link(root.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.starts_with("root:x:0:0:") && passwd.contains("nobody:x:65534:65534:"));
    let manifest = store.manifest(&loaded[0].digest).unwrap();
    let run = store.config(&manifest).unwrap().config.unwrap();
    assert_eq!(run.cmd, Some(vec!["sh".to_owned()]));
    assert_eq!(run.env, Some(vec![busybox::PATH.to_owned()]));
}

#[test]
fn a_busybox_image_carries_the_execution_defaults_and_files_it_is_given() {
    let spec = BusyboxImage {
        entrypoint: Some(vec!["/bin/sleep".into()]),
        cmd: Some(vec!["3600".into()]),
        user: Some("65534:65534".into()),
        working_dir: Some("/srv".into()),
        stop_signal: Some("SIGQUIT".into()),
        env: vec!["A=1".into()],
        files: vec![("/srv/index.html".into(), b"hi".to_vec(), 0o644)],
    };
    let tmp = tempfile::tempdir().unwrap();
    let archive = spec.archive(tmp.path(), "krust.test/sleeper:2");
    let store = ImageStore::open(tmp.path().join("store")).unwrap();
    let loaded = crate::archive::load_file(&store, &archive).unwrap();
    let manifest = store.manifest(&loaded[0].digest).unwrap();
    let run = store.config(&manifest).unwrap().config.unwrap();
    assert_eq!(
        (
            run.entrypoint,
            run.cmd,
            run.user,
            run.working_dir,
            run.stop_signal,
            run.env
        ),
        (
            Some(vec!["/bin/sleep".into()]),
            Some(vec!["3600".into()]),
            Some("65534:65534".into()),
            Some("/srv".into()),
            Some("SIGQUIT".into()),
            Some(vec!["A=1".into()])
        )
    );
    let dirs = rootfs(&store, "krust.test/sleeper:2").unwrap();
    assert_eq!(
        std::fs::read(dirs[1].join("srv/index.html")).unwrap(),
        b"hi"
    );
}

#[tokio::test]
async fn the_loopback_registry_serves_pushed_images_behind_basic_auth() {
    let creds = Credentials {
        username: "u".into(),
        password: "p".into(),
    };
    let registry = Registry::start(Some(creds.clone())).await;
    let digest = registry.push("tools/busybox:1", &BusyboxImage::default().image());
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let image = format!("{}/tools/busybox:1", registry.addr());
    let options = |credentials| PullOptions {
        insecure: vec![registry.addr().to_owned()],
        credentials,
    };
    let anonymous = Puller::new(options(Default::default())).unwrap();
    assert!(anonymous.pull(&store, &image).await.is_err());
    let creds = [(registry.addr().to_owned(), creds)].into();
    let loaded = Puller::new(options(creds))
        .unwrap()
        .pull(&store, &image)
        .await
        .unwrap();
    assert_eq!(loaded.digest, digest);
    assert_eq!(registry.manifest_requests("tools/busybox"), 3);
    let missing = format!("{}/tools/busybox:2", registry.addr());
    assert!(matches!(
        anonymous.pull(&store, &missing).await,
        Err(crate::Error::NotFound(_)) | Err(crate::Error::Registry(_))
    ));
}
