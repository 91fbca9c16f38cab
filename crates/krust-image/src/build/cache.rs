//! The build cache, as the classic builder's: a step is skipped when a build before ran the
//! same instruction (after substitution, with the build args it sees) on the same parent
//! image, and for COPY/ADD the same source contents. Entries are the resulting [`State`]s,
//! `build-cache/<key hex>.json` in the store; one whose layers were collected since is a miss.

use std::fs;
use std::path::PathBuf;

use super::state::State;
use crate::digest::{Digest, Hasher};
use crate::error::Result;
use crate::store::ImageStore;

/// The cache of one store.
pub struct Cache {
    dir: PathBuf,
}

/// The key of a step: parent image id, instruction, and what else it depends on.
pub fn key(parent: &Digest, instruction: &str, inputs: &[&str]) -> Digest {
    let mut h = Hasher::default();
    for part in [parent.as_str(), instruction]
        .into_iter()
        .chain(inputs.iter().copied())
    {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    h.finish()
}

impl Cache {
    /// The cache of `store`.
    pub fn open(store: &ImageStore) -> Result<Cache> {
        let dir = store.root().join("build-cache");
        fs::create_dir_all(&dir)?;
        Ok(Cache { dir })
    }

    /// The state a step made before, if its layers are all still in the store.
    pub fn get(&self, store: &ImageStore, key: &Digest) -> Option<State> {
        let bytes = fs::read(self.dir.join(format!("{}.json", key.hex()))).ok()?;
        let state: State = serde_json::from_slice(&bytes).ok()?;
        state
            .layers
            .iter()
            .all(|l| store.has_blob(&l.descriptor.digest))
            .then_some(state)
    }

    /// Records what a step made.
    pub fn put(&self, key: &Digest, state: &State) -> Result<()> {
        let path = self.dir.join(format!("{}.json", key.hex()));
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, serde_json::to_vec(state)?)?;
        fs::rename(tmp, path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_key_changes_with_the_parent_the_instruction_or_an_input() {
        let p1 = Digest::of(b"one");
        let p2 = Digest::of(b"two");
        let base = key(&p1, "RUN echo hi", &[]);
        assert_eq!(base, key(&p1, "RUN echo hi", &[]));
        assert_ne!(base, key(&p2, "RUN echo hi", &[]));
        assert_ne!(base, key(&p1, "RUN echo ho", &[]));
        assert_ne!(base, key(&p1, "RUN echo hi", &["A=1"]));
        assert_ne!(
            key(&p1, "a", &["b"]),
            key(&p1, "ab", &[]),
            "parts are separated"
        );
    }

    #[test]
    fn an_entry_whose_layer_was_collected_is_a_miss() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(tmp.path()).unwrap();
        let cache = Cache::open(&store).unwrap();
        let k = key(&Digest::of(b"p"), "ENV A=1", &[]);
        let state = State::scratch();
        cache.put(&k, &state).unwrap();
        assert_eq!(cache.get(&store, &k), Some(state.clone()));
        let mut with_layer = state;
        with_layer.layers.push(super::super::layer::Layer {
            descriptor: crate::oci::Descriptor {
                media_type: crate::oci::LAYER_TAR_GZIP.into(),
                digest: Digest::of(b"gone"),
                size: 4,
                platform: None,
                annotations: Default::default(),
            },
            diff_id: Digest::of(b"gone-tar"),
        });
        cache.put(&k, &with_layer).unwrap();
        assert_eq!(cache.get(&store, &k), None);
    }
}
