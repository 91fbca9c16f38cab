use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use super::*;
use crate::testing::{Entry, put_image, tar_of, zstd};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[test]
fn a_layer_is_unpacked_once_and_shared_by_the_images_that_have_it() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let base = tar_of(&[Entry::Dir("etc"), Entry::File("etc/os", b"krust")]);
    put_image(&store, "a", std::slice::from_ref(&base));
    put_image(
        &store,
        "b",
        &[base.clone(), tar_of(&[Entry::File("b", b"b")])],
    );
    let a = rootfs(&store, "a").unwrap();
    fs::write(a[0].join("marker"), b"").unwrap();
    let b = rootfs(&store, "b").unwrap();
    assert_eq!(a[0], b[0]);
    assert!(b[0].join("marker").exists(), "not unpacked a second time");
    assert_eq!(fs::read(b[0].join("etc/os")).unwrap(), b"krust");
    assert_eq!(a[0], layer_dir(&store, &Digest::of(&base)));
}

#[test]
fn the_lowerdir_lists_the_top_layer_first() {
    let dirs = [PathBuf::from("/l/bottom"), PathBuf::from("/l/top")];
    assert_eq!(lowerdir(&dirs), "/l/top:/l/bottom");
}

#[test]
fn a_layer_whose_content_is_not_its_diff_id_is_refused_and_not_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let blob = zstd(&tar_of(&[Entry::File("a", b"1")]));
    let (digest, size) = store.write_blob(None, &blob[..]).unwrap();
    let layer = Descriptor {
        media_type: crate::oci::LAYER_TAR_ZSTD.into(),
        digest,
        size,
        platform: None,
        annotations: Default::default(),
    };
    let wrong = Digest::of(b"not the tar");
    assert!(matches!(
        unpack_layer(&store, &layer, &wrong),
        Err(Error::DigestMismatch { .. })
    ));
    assert!(!layer_dir(&store, &wrong).exists());
    let right = Digest::of(&tar_of(&[Entry::File("a", b"1")]));
    assert_eq!(
        fs::read(unpack_layer(&store, &layer, &right).unwrap().join("a")).unwrap(),
        b"1"
    );
}

#[test]
fn whiteouts_become_overlay_whiteout_devices_and_opaque_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tar = tar_of(&[
        Entry::File("a/.wh.gone", b""),
        Entry::Dir("c"),
        Entry::File("c/.wh..wh..opq", b""),
    ]);
    apply(&tar[..], dir).unwrap();
    let gone = fs::symlink_metadata(dir.join("a/gone"));
    let opaque = xattr::get(
        dir.join("c"),
        if is_root() {
            "trusted.overlay.opaque"
        } else {
            "user.overlay.opaque"
        },
    );
    if is_root() {
        let m = gone.unwrap();
        assert!(m.file_type().is_char_device() && m.rdev() == 0);
        assert!(!dir.join("a/.wh.gone").exists());
        assert_eq!(opaque.unwrap().as_deref(), Some(&b"y"[..]));
        assert!(!dir.join("c/.wh..wh..opq").exists());
    } else {
        assert!(gone.is_ok_and(|m| m.rdev() == 0) || dir.join("a/.wh.gone").exists());
        assert!(opaque.is_ok_and(|v| v.is_some()) || dir.join("c/.wh..wh..opq").exists());
    }
}

#[test]
fn a_parent_directory_component_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layer");
    fs::create_dir(&dir).unwrap();
    let err = apply(&tar_of(&[Entry::Raw("../evil", b"x")])[..], &dir).unwrap_err();
    assert!(matches!(err, Error::UnsafePath(_)), "{err}");
    assert!(!tmp.path().join("evil").exists());
}

#[test]
fn absolute_paths_land_inside_the_layer() {
    let tmp = tempfile::tempdir().unwrap();
    apply(
        &tar_of(&[Entry::Raw("/etc/passwd", b"root")])[..],
        tmp.path(),
    )
    .unwrap();
    assert_eq!(fs::read(tmp.path().join("etc/passwd")).unwrap(), b"root");
}

#[test]
fn an_entry_below_a_symlink_is_refused_so_nothing_is_written_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, outside) = (tmp.path().join("layer"), tmp.path().join("outside"));
    fs::create_dir_all(&dir).unwrap();
    fs::create_dir_all(&outside).unwrap();
    let target = outside.to_str().unwrap();
    let tar = tar_of(&[Entry::Symlink("link", target), Entry::File("link/x", b"x")]);
    assert!(matches!(apply(&tar[..], &dir), Err(Error::UnsafePath(_))));
    assert!(!outside.join("x").exists());
    assert_eq!(
        fs::read_link(dir.join("link")).unwrap(),
        outside,
        "the link itself is kept"
    );
}

#[test]
fn a_hard_link_names_a_file_of_the_same_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = tar_of(&[
        Entry::File("bin/a", b"tool"),
        Entry::HardLink("bin/b", "bin/a"),
    ]);
    apply(&tar[..], tmp.path()).unwrap();
    let (a, b) = (
        fs::metadata(tmp.path().join("bin/a")).unwrap(),
        fs::metadata(tmp.path().join("bin/b")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino());
}
