//! Why the kubelet cannot build a container's config: the messages a pod shows under the
//! reason `CreateContainerConfigError` (kubelet's `kuberuntime_container.go` and
//! `kubelet_pods.go`).

/// The reason a waiting container shows when its config cannot be built.
pub const CREATE_CONTAINER_CONFIG_ERROR: &str = "CreateContainerConfigError";

/// A container config that cannot be built; `Display` is the kubelet's message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A ConfigMap named by `env` or `envFrom` does not exist (and is not optional).
    #[error("configmap {0:?} not found")]
    ConfigMapNotFound(String),
    /// A Secret named by `env` or `envFrom` does not exist (and is not optional).
    #[error("secret {0:?} not found")]
    SecretNotFound(String),
    /// `configMapKeyRef` names a key the ConfigMap lacks.
    #[error("couldn't find key {key} in ConfigMap {namespace}/{name}")]
    ConfigMapKeyNotFound {
        /// The missing key.
        key: String,
        /// The pod's namespace.
        namespace: String,
        /// The ConfigMap.
        name: String,
    },
    /// `secretKeyRef` names a key the Secret lacks.
    #[error("couldn't find key {key} in Secret {namespace}/{name}")]
    SecretKeyNotFound {
        /// The missing key.
        key: String,
        /// The pod's namespace.
        namespace: String,
        /// The Secret.
        name: String,
    },
    /// A `fieldRef` or `resourceFieldRef` the kubelet does not know.
    #[error("{0}")]
    Field(String),
    /// `runAsNonRoot` refused the user the container would run as.
    #[error("{0}")]
    NonRoot(String),
    /// The image's user or group is not in its `/etc/passwd` or `/etc/group`, or an id is
    /// out of range.
    #[error("{0}")]
    User(String),
    /// A volume mount that cannot be made (unknown volume, bad `subPath`…).
    #[error("{0}")]
    Mount(String),
}
