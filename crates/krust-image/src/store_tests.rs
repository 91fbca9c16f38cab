use std::fs;

use super::*;
use crate::testing::{Entry, put_image, tar_of};

#[test]
fn a_blob_is_stored_under_its_digest_and_a_wrong_expected_digest_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let d = store.put_blob(b"hello").unwrap();
    assert_eq!(
        fs::read(tmp.path().join("blobs/sha256").join(d.hex())).unwrap(),
        b"hello"
    );
    let wrong = Digest::of(b"other");
    let err = store.write_blob(Some(&wrong), &b"hello!"[..]).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert_eq!(
        fs::read_dir(tmp.path().join("blobs/sha256"))
            .unwrap()
            .count(),
        1
    );
    assert_eq!(fs::read_dir(tmp.path().join("tmp")).unwrap().count(), 0);
}

#[test]
fn images_are_listed_by_normalized_name_and_survive_reopening() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let d = put_image(&store, "nginx", &[tar_of(&[Entry::File("a", b"1")])]);
    put_image(
        &store,
        "localhost:5000/x/y:v1",
        &[tar_of(&[Entry::File("b", b"2")])],
    );
    let store = ImageStore::open(tmp.path()).unwrap();
    let names: Vec<String> = store.list().unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["docker.io/library/nginx:latest", "localhost:5000/x/y:v1"]
    );
    assert_eq!(store.resolve("docker.io/library/nginx").unwrap(), d);
    assert!(matches!(store.resolve("redis"), Err(Error::NotFound(_))));
}

#[test]
fn tagging_a_manifest_whose_blobs_are_missing_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let missing = Digest::of(b"nope");
    assert!(store.tag("nginx", &missing).is_err());
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn removing_an_image_collects_only_the_blobs_and_layers_no_other_image_uses() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let shared = tar_of(&[Entry::File("base", b"base")]);
    put_image(
        &store,
        "a",
        &[shared.clone(), tar_of(&[Entry::File("a", b"a")])],
    );
    put_image(&store, "b", &[shared, tar_of(&[Entry::File("b", b"b")])]);
    crate::unpack::rootfs(&store, "a").unwrap();
    crate::unpack::rootfs(&store, "b").unwrap();
    store.put_blob(b"stray").unwrap();
    // a's own layer, its config, its manifest, and the stray blob; a's own unpacked layer.
    assert_eq!(
        store.remove("a").unwrap(),
        Collected {
            blobs: 4,
            layers: 1
        }
    );
    assert_eq!(fs::read_dir(tmp.path().join("layers")).unwrap().count(), 2);
    let b = crate::unpack::rootfs(&store, "b").unwrap();
    assert_eq!(fs::read(b[0].join("base")).unwrap(), b"base");
    assert!(matches!(store.remove("a"), Err(Error::NotFound(_))));
}
