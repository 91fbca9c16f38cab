//! `krust image save`: images of the store as the archive Docker 25+ `docker save` writes, an
//! OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) with docker's
//! `manifest.json` beside it (`Config`, `RepoTags`, `Layers` pointing into the blobs), so
//! both `docker load` and OCI tools read it, and [`crate::archive::load`] loads it back to
//! the same manifest digests. Layers are written as the store has them (gzip for built
//! images); `docker load` decompresses them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use serde_json::json;

use crate::digest::Digest;
use crate::error::Result;
use crate::oci;
use crate::reference::Reference;
use crate::store::{ImageStore, image_key};

/// Writes the named images (references or manifest digests) to `out` as one archive.
pub fn save(store: &ImageStore, names: &[String], out: impl Write) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut written = BTreeSet::new();
    let mut index = Vec::new();
    let mut docker = Vec::new();
    let mut by_digest: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    for name in names {
        let digest = store.resolve(name)?;
        let key = image_key(name)?;
        let tags = by_digest.entry(digest).or_default();
        if Digest::parse(&key).is_err() {
            tags.push(key);
        }
    }
    for (digest, names) in &by_digest {
        let manifest = store.manifest(digest)?;
        for d in std::iter::once(&manifest.config)
            .chain(&manifest.layers)
            .map(|d| &d.digest)
            .chain([digest])
        {
            if written.insert(d.clone()) {
                let mut h = header(store.blob_path(d).metadata()?.len());
                tar.append_data(
                    &mut h,
                    format!("blobs/sha256/{}", d.hex()),
                    store.open_blob(d)?,
                )?;
            }
        }
        let size = store.blob_path(digest).metadata()?.len();
        let descriptor = |annotations: serde_json::Value| {
            json!({"mediaType": manifest.media_type.clone().unwrap_or_else(|| oci::MANIFEST_V1.into()),
                   "digest": digest, "size": size, "annotations": annotations})
        };
        if names.is_empty() {
            index.push(descriptor(json!({})));
        }
        for name in names {
            let tag = Reference::parse(name)?
                .tag
                .unwrap_or_else(|| "latest".into());
            index.push(descriptor(json!({
                "io.containerd.image.name": name,
                "org.opencontainers.image.ref.name": tag,
            })));
        }
        docker.push(json!({
            "Config": format!("blobs/sha256/{}", manifest.config.digest.hex()),
            "RepoTags": if names.is_empty() { json!(null) } else { json!(names.iter().map(|n| familiar(n)).collect::<Vec<_>>()) },
            "Layers": manifest.layers.iter().map(|l| format!("blobs/sha256/{}", l.digest.hex())).collect::<Vec<_>>(),
        }));
    }
    let files = [
        ("oci-layout", json!({"imageLayoutVersion": "1.0.0"})),
        (
            "index.json",
            json!({"schemaVersion": 2, "mediaType": oci::INDEX_V1, "manifests": index}),
        ),
        ("manifest.json", json!(docker)),
    ];
    for (path, doc) in files {
        let bytes = serde_json::to_vec(&doc)?;
        tar.append_data(&mut header(bytes.len() as u64), path, &bytes[..])?;
    }
    tar.into_inner()?.flush()?;
    Ok(())
}

fn header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

/// A normalized name as docker shows it: `docker.io/library/` dropped (`app:1`).
pub fn familiar(name: &str) -> String {
    name.strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .unwrap_or(name)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Entry, put_image, tar_of};

    #[test]
    fn a_saved_archive_loads_back_to_the_same_manifest_digest_and_names() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(tmp.path().join("a")).unwrap();
        let layer = tar_of(&[Entry::Dir("app"), Entry::File("app/x", b"x")]);
        let digest = put_image(&store, "krust.test/app:1", &[layer]);
        store.tag("app:2", &digest).unwrap();
        let mut bytes = Vec::new();
        save(
            &store,
            &["krust.test/app:1".into(), "app:2".into()],
            &mut bytes,
        )
        .unwrap();

        let docker: serde_json::Value = {
            let mut a = tar::Archive::new(&bytes[..]);
            let mut e = a
                .entries()
                .unwrap()
                .map(|e| e.unwrap())
                .find(|e| e.path().unwrap().ends_with("manifest.json"))
                .unwrap();
            serde_json::from_reader(&mut e).unwrap()
        };
        assert_eq!(docker[0]["RepoTags"], json!(["krust.test/app:1", "app:2"]));

        let other = ImageStore::open(tmp.path().join("b")).unwrap();
        let loaded = crate::archive::load(&other, std::io::Cursor::new(bytes)).unwrap();
        let names: Vec<_> = loaded
            .iter()
            .map(|l| (l.name.as_str(), &l.digest))
            .collect();
        assert_eq!(
            names,
            [
                ("krust.test/app:1", &digest),
                ("docker.io/library/app:2", &digest)
            ]
        );
    }
}
