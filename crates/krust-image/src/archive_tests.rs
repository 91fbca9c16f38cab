use std::fs;

use serde_json::json;

use super::*;
use crate::testing::{Entry, config_json, gzip, manifest_json, tar_of, zstd};
use crate::unpack::rootfs;

/// An archive of `(path, content)` files and `(path, target)` symlinks.
fn archive(files: &[(String, Vec<u8>)], links: &[(&str, &str)]) -> Vec<u8> {
    let mut entries: Vec<Entry<'_>> = files.iter().map(|(p, c)| Entry::File(p, c)).collect();
    entries.extend(links.iter().map(|&(p, t)| Entry::Symlink(p, t)));
    tar_of(&entries)
}

fn blob_path(bytes: &[u8]) -> String {
    format!("blobs/sha256/{}", Digest::of(bytes).hex())
}

fn layers() -> (Vec<u8>, Vec<u8>) {
    (
        tar_of(&[Entry::Dir("etc"), Entry::File("etc/os", b"base")]),
        tar_of(&[Entry::File("app", b"v1")]),
    )
}

fn blob_count(store: &ImageStore) -> usize {
    fs::read_dir(store.root().join("blobs/sha256"))
        .unwrap()
        .count()
}

#[test]
fn an_old_format_docker_save_loads_with_its_tags_and_shared_layers() {
    let (base, app) = layers();
    let config = config_json(&[base.clone(), app.clone()]);
    let config_name = format!("{}.json", Digest::of(&config).hex());
    let manifest = json!([
        {"Config": config_name, "RepoTags": ["busybox:1", "localhost:5000/bb:1"], "Layers": ["l1/layer.tar", "l2/layer.tar"]},
        {"Config": config_name, "RepoTags": null, "Layers": ["l3/layer.tar", "l2/layer.tar"]},
    ]);
    let files = [
        (
            "manifest.json".into(),
            serde_json::to_vec(&manifest).unwrap(),
        ),
        (config_name.clone(), config),
        ("l1/layer.tar".into(), base),
        ("l1/json".into(), b"{}".to_vec()),
        ("l2/layer.tar".into(), app),
        ("repositories".into(), b"{}".to_vec()),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let loaded = load(
        &store,
        std::io::Cursor::new(archive(&files, &[("l3/layer.tar", "../l1/layer.tar")])),
    )
    .unwrap();
    let names: Vec<&str> = loaded.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names[..2],
        ["docker.io/library/busybox:1", "localhost:5000/bb:1"]
    );
    assert_eq!(
        names[2],
        loaded[0].digest.as_str(),
        "the untagged image is named by its digest"
    );
    let dirs = rootfs(&store, "busybox:1").unwrap();
    assert_eq!(fs::read(dirs[0].join("etc/os")).unwrap(), b"base");
    assert_eq!(fs::read(dirs[1].join("app")).unwrap(), b"v1");
    assert_eq!(
        blob_count(&store),
        4,
        "2 layers, config, manifest; json and repositories collected"
    );
}

#[test]
fn a_docker_25_save_with_an_oci_layout_inside_loads_gzip_and_zstd_layers() {
    let (base, app) = layers();
    let blobs = [gzip(&base), zstd(&app)];
    let config = config_json(&[base, app]);
    // The layout's manifest names each layer's real media type; load keeps it as it is.
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&manifest_json(&config, &blobs)).unwrap();
    manifest["layers"][1]["mediaType"] = json!(oci::LAYER_TAR_ZSTD);
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let docker = json!([{"Config": blob_path(&config), "RepoTags": ["app:v2"], "Layers": [blob_path(&blobs[0]), blob_path(&blobs[1])]}]);
    let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": oci::MANIFEST_V1, "digest": Digest::of(&manifest), "size": manifest.len()}]});
    let mut files = vec![
        (
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".into(), serde_json::to_vec(&index).unwrap()),
        ("manifest.json".into(), serde_json::to_vec(&docker).unwrap()),
    ];
    for b in [config, manifest, blobs[0].clone(), blobs[1].clone()] {
        files.push((blob_path(&b), b));
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let loaded = load(&store, std::io::Cursor::new(gzip(&archive(&files, &[])))).unwrap();
    assert_eq!(loaded[0].name, "docker.io/library/app:v2");
    let m = store.manifest(&loaded[0].digest).unwrap();
    assert_eq!(
        m.layers
            .iter()
            .map(|l| l.media_type.as_str())
            .collect::<Vec<_>>(),
        [oci::LAYER_TAR_GZIP, oci::LAYER_TAR_ZSTD]
    );
    let dirs = rootfs(&store, "app:v2").unwrap();
    assert_eq!(fs::read(dirs[1].join("app")).unwrap(), b"v1");
}

#[test]
fn an_oci_layout_with_a_multi_arch_index_keeps_only_the_linux_amd64_image() {
    let (base, app) = layers();
    let (amd, arm) = ([gzip(&base)], [gzip(&app)]);
    let (amd_config, arm_config) = (config_json(&[base]), config_json(&[app]));
    let (amd_m, arm_m) = (
        manifest_json(&amd_config, &amd),
        manifest_json(&arm_config, &arm),
    );
    let entry = |m: &[u8], arch: &str| json!({"mediaType": oci::MANIFEST_V1, "digest": Digest::of(m), "size": m.len(), "platform": {"os": "linux", "architecture": arch}});
    let nested = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": oci::INDEX_V1, "manifests": [entry(&arm_m, "arm64"), entry(&amd_m, "amd64")]})).unwrap();
    let top = json!({"schemaVersion": 2, "manifests": [{"mediaType": oci::INDEX_V1, "digest": Digest::of(&nested), "size": nested.len(), "annotations": {REF_NAME: "ghcr.io/o/multi:1"}}]});
    let mut files = vec![("index.json".into(), serde_json::to_vec(&top).unwrap())];
    for b in [
        nested,
        amd_config,
        arm_config,
        amd_m.clone(),
        arm_m,
        amd[0].clone(),
        arm[0].clone(),
    ] {
        files.push((blob_path(&b), b));
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let loaded = load(&store, std::io::Cursor::new(zstd(&archive(&files, &[])))).unwrap();
    assert_eq!(
        loaded,
        [Loaded {
            name: "ghcr.io/o/multi:1".into(),
            digest: Digest::of(&amd_m)
        }]
    );
    assert_eq!(
        fs::read(rootfs(&store, "ghcr.io/o/multi:1").unwrap()[0].join("etc/os")).unwrap(),
        b"base"
    );
    assert_eq!(
        blob_count(&store),
        3,
        "the indexes and the arm64 blobs are collected"
    );
}

#[test]
fn an_oci_blob_that_does_not_match_its_name_fails_the_load_and_leaves_nothing() {
    let index = json!({"schemaVersion": 2, "manifests": []});
    let files = [
        ("index.json".into(), serde_json::to_vec(&index).unwrap()),
        (blob_path(b"right"), b"wrong".to_vec()),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let err = load(&store, std::io::Cursor::new(archive(&files, &[]))).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert_eq!(blob_count(&store), 0);
}

#[test]
fn an_archive_that_is_neither_format_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let err = load(
        &store,
        std::io::Cursor::new(archive(&[("x".into(), b"x".to_vec())], &[])),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Archive(_)), "{err}");
    assert_eq!(blob_count(&store), 0);
}
