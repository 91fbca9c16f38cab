//! The kubelet's image manager (`pkg/kubelet/images`: `image_manager.go`, `puller.go`):
//! before a container is created, [`ImageManager::ensure`] makes its image present as its
//! `imagePullPolicy` says, over the node's [`ImageStore`] and krust-image's [`Puller`].
//!
//! - Policy: `Always` pulls every time; `IfNotPresent` pulls when absent; `Never` fails when
//!   absent (`ErrImageNeverPull`). Without a policy, Kubernetes' default: `Always` for
//!   `:latest` or no tag (and no digest), else `IfNotPresent`.
//! - A failed pull starts a back-off for the pod's image (the kubelet's `<pod uid>_<image>`
//!   key; 10 s doubling to 300 s) during which `ensure` answers `ImagePullBackOff` without
//!   pulling.
//! - Events about the container (`spec.containers{name}`), through the callback the caller
//!   gives (e.g. `krust_component::events::Recorder::emit`): `Pulling`, `Pulled`, `Failed`,
//!   `BackOff`, `ErrImageNeverPull`, `InspectFailed`, worded as the kubelet words them.
//! - Concurrent pulls of one image (with the same credentials) are one pull: later callers
//!   wait for it and share its result.
//! - imagePullSecrets are read as the kubelet's keyring reads them ([`secrets`]); registries
//!   named insecure are spoken to over plain HTTP.

pub mod backoff;
pub mod messages;
pub mod secrets;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, ContainerImage, ObjectReference, Pod, Secret};
use krust_component::events::{EventType, Record};
use krust_image::oci::RunConfig;
use krust_image::{Digest, ImageStore, PullOptions, Puller, Reference};
use tokio::sync::OnceCell;

use backoff::Backoff;

/// How many images Node `status.images` lists at most (the kubelet's `nodeStatusMaxImages`).
pub const MAX_NODE_IMAGES: usize = 50;

/// Where the image manager's Events go (the caller posts them; no API client here).
pub type EventSink = Arc<dyn Fn(Record) + Send + Sync>;

/// A container's `imagePullPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull every time.
    Always,
    /// Pull when the image is absent.
    IfNotPresent,
    /// Never pull.
    Never,
}

impl PullPolicy {
    /// The policy of a container: its `imagePullPolicy`, or Kubernetes' default for its image
    /// (`Always` for `:latest` or no tag and no digest, else `IfNotPresent`).
    pub fn of(container: &Container, reference: &Reference) -> Self {
        match container.image_pull_policy.as_deref() {
            Some("Always") => Self::Always,
            Some("Never") => Self::Never,
            Some("IfNotPresent") => Self::IfNotPresent,
            _ if reference.digest.is_none()
                && reference.tag.as_deref().is_none_or(|t| t == "latest") =>
            {
                Self::Always
            }
            _ => Self::IfNotPresent,
        }
    }

    /// The policy's name as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// The image manager's options.
#[derive(Clone, Debug)]
pub struct ImageManagerOptions {
    /// The node's name: `source.host` of its Events.
    pub node_name: String,
    /// Registries (`localhost:5000`) spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// The first back-off after a failed pull (the kubelet: 10 s).
    pub backoff_initial: Duration,
    /// The longest back-off (the kubelet: 300 s).
    pub backoff_max: Duration,
}

impl Default for ImageManagerOptions {
    fn default() -> Self {
        Self {
            node_name: String::new(),
            insecure_registries: Vec::new(),
            backoff_initial: Duration::from_secs(10),
            backoff_max: Duration::from_secs(300),
        }
    }
}

/// An image made present for a container.
#[derive(Clone, Debug, PartialEq)]
pub struct Pulled {
    /// The manifest digest (`sha256:…`).
    pub image_id: Digest,
    /// The normalized reference (`docker.io/library/busybox:1.36`).
    pub image_ref: String,
    /// The unpacked layer directories, topmost first (overlayfs' `lowerdir` order).
    pub lower_dirs: Vec<PathBuf>,
    /// The image's execution defaults (entrypoint, cmd, env, user, working dir, stop signal).
    pub config: RunConfig,
}

impl Pulled {
    /// `registry/repository@sha256:…`: what containerd reports as a container's `imageID`.
    pub fn repo_digest(&self) -> String {
        let name =
            Reference::parse(&self.image_ref).map_or_else(|_| self.image_ref.clone(), |r| r.name());
        format!("{name}@{}", self.image_id)
    }
}

/// Why an image is not there, as a container's `waiting.reason` and `message` say it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullError {
    /// The pull failed; the message is the registry's or containerd's words.
    ErrImagePull(String),
    /// A pull failed lately and the back-off has not run out.
    ImagePullBackOff(String),
    /// Absent, and the policy is `Never`.
    ErrImageNeverPull(String),
    /// The image is not a valid reference.
    InvalidImageName(String),
}

impl PullError {
    /// The container's `waiting.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ErrImagePull(_) => "ErrImagePull",
            Self::ImagePullBackOff(_) => "ImagePullBackOff",
            Self::ErrImageNeverPull(_) => "ErrImageNeverPull",
            Self::InvalidImageName(_) => "InvalidImageName",
        }
    }

    /// The container's `waiting.message`.
    pub fn message(&self) -> &str {
        match self {
            Self::ErrImagePull(m)
            | Self::ImagePullBackOff(m)
            | Self::ErrImageNeverPull(m)
            | Self::InvalidImageName(m) => m,
        }
    }
}

impl fmt::Display for PullError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason(), self.message())
    }
}

impl std::error::Error for PullError {}

/// One finished pull, shared by every caller that waited for it.
#[derive(Clone)]
struct PullDone {
    digest: Digest,
    lower_dirs: Vec<PathBuf>,
    config: RunConfig,
    took: Duration,
    size: u64,
}

type SharedPull = Arc<OnceCell<Result<PullDone, String>>>;

/// The kubelet's image manager over a node's image store.
pub struct ImageManager {
    store: Arc<ImageStore>,
    options: ImageManagerOptions,
    events: EventSink,
    backoff: Mutex<Backoff>,
    pulls: Mutex<HashMap<String, SharedPull>>,
}

impl ImageManager {
    /// A manager over `store`, sending its Events to `events`.
    pub fn new(store: Arc<ImageStore>, options: ImageManagerOptions, events: EventSink) -> Self {
        let backoff = Backoff::new(options.backoff_initial, options.backoff_max);
        Self {
            store,
            options,
            events,
            backoff: Mutex::new(backoff),
            pulls: Mutex::default(),
        }
    }

    /// The store the manager keeps images in.
    pub fn store(&self) -> &Arc<ImageStore> {
        &self.store
    }

    /// Makes `container`'s image present as its pull policy says (`EnsureImageExists`), with
    /// the credentials `pull_secrets` (the pod's imagePullSecrets, read by the caller) give for
    /// its registry; returns the image unpacked.
    pub async fn ensure(
        &self,
        pod: &Pod,
        container: &Container,
        pull_secrets: &[Secret],
    ) -> Result<Pulled, PullError> {
        let started = Instant::now();
        let image = container.image.as_deref().unwrap_or_default();
        let event = |type_, reason: &str, message: &str| {
            self.emit(pod, container, type_, reason, message);
        };
        let Ok(reference) = Reference::parse(image) else {
            let msg = format!(
                "Failed to apply default image tag {image:?}: couldn't parse image name {image:?}: invalid reference format"
            );
            event(EventType::Warning, "InspectFailed", &msg);
            return Err(PullError::InvalidImageName(msg));
        };
        let key = reference.to_string();
        let policy = PullPolicy::of(container, &reference);
        let present = self.store.resolve(&key).is_ok();
        if policy != PullPolicy::Always && present {
            let pulled = self.present(&key).await.map_err(PullError::ErrImagePull)?;
            let msg = format!("Container image {image:?} already present on machine");
            event(EventType::Normal, "Pulled", &msg);
            return Ok(pulled);
        }
        if policy == PullPolicy::Never {
            let msg = format!(
                "Container image {image:?} is not present with pull policy of {}",
                policy.as_str()
            );
            event(EventType::Warning, "ErrImageNeverPull", &msg);
            return Err(PullError::ErrImageNeverPull(msg));
        }
        let backoff_key = format!(
            "{}_{image}",
            pod.metadata.uid.as_deref().unwrap_or_default()
        );
        if self.backoff().in_backoff(&backoff_key, Instant::now()) {
            let msg = format!("Back-off pulling image {image:?}");
            event(EventType::Normal, "BackOff", &msg);
            return Err(PullError::ImagePullBackOff(msg));
        }
        event(
            EventType::Normal,
            "Pulling",
            &format!("Pulling image {image:?}"),
        );
        match self.pull_shared(&reference, pull_secrets).await {
            Err(why) => {
                let msg = format!("Failed to pull image {image:?}: {why}");
                event(EventType::Warning, "Failed", &msg);
                self.backoff().failed(&backoff_key, Instant::now());
                Err(PullError::ErrImagePull(why))
            }
            Ok(done) => {
                let msg = format!(
                    "Successfully pulled image {image:?} in {} ({} including waiting). Image size: {} bytes.",
                    messages::go_duration(done.took),
                    messages::go_duration(started.elapsed()),
                    done.size
                );
                event(EventType::Normal, "Pulled", &msg);
                self.backoff().succeeded(&backoff_key);
                Ok(Pulled {
                    image_id: done.digest,
                    image_ref: key,
                    lower_dirs: done.lower_dirs,
                    config: done.config,
                })
            }
        }
    }

    /// The node's images for Node `status.images`, largest first, at most
    /// [`MAX_NODE_IMAGES`]: each with its `repository@digest` names, then its tags, and its
    /// size in bytes (manifest, config and compressed layers).
    pub fn node_images(&self) -> Vec<ContainerImage> {
        let list = match self.store.list() {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "listing the node's images");
                return Vec::new();
            }
        };
        let mut by_digest: BTreeMap<Digest, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for (name, digest) in list {
            let (digests, tags) = by_digest.entry(digest.clone()).or_default();
            let Ok(reference) = Reference::parse(&name) else {
                continue; // an untagged image: named by its digest alone
            };
            let repo_digest = format!("{}@{digest}", reference.name());
            if !digests.contains(&repo_digest) {
                digests.push(repo_digest);
            }
            if reference.digest.is_none() {
                tags.push(name);
            }
        }
        let mut images: Vec<ContainerImage> = by_digest
            .into_iter()
            .filter(|(_, (digests, _))| !digests.is_empty())
            .map(|(digest, (mut names, tags))| {
                names.extend(tags);
                let size = self.store.content_size(&digest).unwrap_or(0);
                ContainerImage {
                    names: Some(names),
                    size_bytes: Some(size as i64),
                }
            })
            .collect();
        images.sort_by_key(|i| std::cmp::Reverse(i.size_bytes));
        images.truncate(MAX_NODE_IMAGES);
        images
    }

    /// The image named `key`, already in the store, unpacked.
    async fn present(&self, key: &str) -> Result<Pulled, String> {
        let store = self.store.clone();
        let key = key.to_owned();
        tokio::task::spawn_blocking(move || {
            let digest = store.resolve(&key).map_err(|e| e.to_string())?;
            let (lower_dirs, config) = unpack(&store, &key, &digest)
                .map_err(|e| format!("failed to unpack image {key:?}: {e}"))?;
            Ok(Pulled {
                image_id: digest,
                image_ref: key,
                lower_dirs,
                config,
            })
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Pulls `reference`, or waits for the pull of it already under way with the same
    /// credentials, and shares its outcome.
    async fn pull_shared(
        &self,
        reference: &Reference,
        pull_secrets: &[Secret],
    ) -> Result<PullDone, String> {
        let credentials = secrets::credentials_for(&reference.registry, pull_secrets);
        let key = reference.to_string();
        let user = credentials.as_ref().map(|c| c.username.as_str());
        let pull_key = format!("{key}\n{}", user.unwrap_or_default());
        let cell = self.pulls().entry(pull_key.clone()).or_default().clone();
        let outcome = cell
            .get_or_init(|| async {
                let options = PullOptions {
                    insecure: self.options.insecure_registries.clone(),
                    credentials: credentials
                        .into_iter()
                        .map(|c| (reference.registry.clone(), c))
                        .collect(),
                };
                let outcome = self.pull(&key, options).await;
                self.pulls().remove(&pull_key);
                outcome
            })
            .await;
        outcome.clone()
    }

    async fn pull(&self, key: &str, options: PullOptions) -> Result<PullDone, String> {
        let started = Instant::now();
        let puller = Puller::new(options).map_err(|e| messages::pull_failed(key, &e))?;
        let loaded = puller
            .pull(&self.store, key)
            .await
            .map_err(|e| messages::pull_failed(key, &e))?;
        let store = self.store.clone();
        let name = key.to_owned();
        let digest = loaded.digest.clone();
        let unpacked = tokio::task::spawn_blocking(move || {
            let size = store.content_size(&digest)?;
            unpack(&store, &name, &digest).map(|(dirs, config)| (dirs, config, size))
        })
        .await
        .map_err(|e| e.to_string())?;
        let (lower_dirs, config, size) = unpacked.map_err(|e| messages::pull_failed(key, &e))?;
        Ok(PullDone {
            digest: loaded.digest,
            lower_dirs,
            config,
            took: started.elapsed(),
            size,
        })
    }

    fn emit(
        &self,
        pod: &Pod,
        container: &Container,
        type_: EventType,
        reason: &str,
        message: &str,
    ) {
        let mut record = Record::new(container_reference(pod, container), type_, reason, message);
        if !self.options.node_name.is_empty() {
            record.host = Some(self.options.node_name.clone());
        }
        (self.events)(record);
    }

    fn backoff(&self) -> std::sync::MutexGuard<'_, Backoff> {
        self.backoff.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pulls(&self) -> std::sync::MutexGuard<'_, HashMap<String, SharedPull>> {
        self.pulls.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The layers of an image unpacked (topmost first) and its execution defaults.
fn unpack(
    store: &ImageStore,
    key: &str,
    digest: &Digest,
) -> krust_image::Result<(Vec<PathBuf>, RunConfig)> {
    let mut dirs = krust_image::unpack::rootfs(store, key)?;
    dirs.reverse();
    let manifest = store.manifest(digest)?;
    let config = store.config(&manifest)?.config.unwrap_or_default();
    Ok((dirs, config))
}

/// The reference of a container's Events: the pod, with `fieldPath`
/// `spec.containers{name}` (or `spec.initContainers{…}`, `spec.ephemeralContainers{…}`).
pub fn container_reference(pod: &Pod, container: &Container) -> ObjectReference {
    let spec = pod.spec.as_ref();
    let is_in = |list: Option<&Vec<Container>>| {
        list.is_some_and(|l| l.iter().any(|c| c.name == container.name))
    };
    let field = if is_in(spec.and_then(|s| s.init_containers.as_ref())) {
        "spec.initContainers"
    } else if spec
        .and_then(|s| s.ephemeral_containers.as_ref())
        .is_some_and(|l| l.iter().any(|c| c.name == container.name))
    {
        "spec.ephemeralContainers"
    } else {
        "spec.containers"
    };
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        resource_version: pod.metadata.resource_version.clone(),
        field_path: Some(format!("{field}{{{}}}", container.name)),
    }
}

#[cfg(test)]
#[path = "images/tests.rs"]
mod tests;
