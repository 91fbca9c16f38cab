//! `krust image load|ls|rm` run as a user runs them: the built binary over a data dir, with
//! archives made offline (`krust_image::testing`).

use std::path::Path;
use std::process::{Command, Output};

use krust_image::testing::{BusyboxImage, busybox_archive};

fn krust(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_krust"))
        .arg("image")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run krust")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_loaded_archive_is_listed_and_removed_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let archive = busybox_archive(tmp.path(), "krust.test/busybox:1");
    let load = krust(&data, &["load", archive.to_str().unwrap()]);
    assert!(load.status.success(), "{}", stderr(&load));
    assert_eq!(stdout(&load), "Loaded image: krust.test/busybox:1\n");
    assert!(data.join("images/images.json").is_file());

    let ls = krust(&data, &["ls"]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    let out = stdout(&ls);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| {
            l.split("   ")
                .filter(|c| !c.is_empty())
                .map(str::trim)
                .collect()
        })
        .collect();
    assert_eq!(lines[0], ["IMAGE", "TAG", "IMAGE ID", "SIZE"], "{out}");
    let id = BusyboxImage::default().image().config_digest();
    assert_eq!(
        lines[1][..3],
        ["krust.test/busybox", "1", &id.hex()[..12]],
        "{out}"
    );
    assert!(lines[1][3].ends_with("MB"), "{out}");

    let rm = krust(&data, &["rm", "krust.test/busybox:1"]);
    assert!(rm.status.success(), "{}", stderr(&rm));
    let out = stdout(&rm);
    assert!(
        out.starts_with("Untagged: krust.test/busybox:1\nDeleted: sha256:"),
        "{out}"
    );
    assert_eq!(stdout(&krust(&data, &["ls"])).lines().count(), 1);
    let blobs = std::fs::read_dir(data.join("images/blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(blobs, 0, "rm collects what no image uses");
}

#[test]
fn an_image_with_two_names_keeps_its_content_until_the_last_name_goes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let a = busybox_archive(tmp.path(), "krust.test/a:1");
    let b = busybox_archive(tmp.path(), "krust.test/b:1");
    let load = krust(&data, &["load", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(
        stdout(&load),
        "Loaded image: krust.test/a:1\nLoaded image: krust.test/b:1\n"
    );
    assert_eq!(stdout(&krust(&data, &["ls"])).lines().count(), 3);
    assert_eq!(
        stdout(&krust(&data, &["rm", "krust.test/a:1"])),
        "Untagged: krust.test/a:1\n"
    );
    let ls = stdout(&krust(&data, &["ls"]));
    assert!(
        ls.contains("krust.test/b") && !ls.contains("krust.test/a"),
        "{ls}"
    );
}

#[test]
fn a_missing_or_corrupt_archive_fails_with_status_1_and_loads_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let missing = tmp.path().join("nope.tar");
    let o = krust(&data, &["load", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!(
            "Error: open {}: no such file or directory\n",
            missing.display()
        )
    );

    let corrupt = tmp.path().join("corrupt.tar");
    let mut bytes = std::fs::read(busybox_archive(tmp.path(), "krust.test/c:1")).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&corrupt, bytes).unwrap();
    let o = krust(&data, &["load", corrupt.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).starts_with(&format!("Error: load {}: ", corrupt.display())),
        "{}",
        stderr(&o)
    );
    std::fs::write(&corrupt, b"not an archive at all").unwrap();
    let o = krust(&data, &["load", corrupt.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(
        stdout(&krust(&data, &["ls"])).lines().count(),
        1,
        "nothing loaded"
    );
}

#[test]
fn removing_a_name_not_present_fails_with_status_1_as_docker_says() {
    let tmp = tempfile::tempdir().unwrap();
    let o = krust(tmp.path(), &["rm", "krust.test/none:1"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "Error: No such image: krust.test/none:1\n");
}
