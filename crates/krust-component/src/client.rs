//! Building API clients from a kubeconfig file, as client-go's `tools/clientcmd` does for
//! Kubernetes' components (`--kubeconfig`).

use std::path::Path;

/// A client from a kubeconfig file (installs rustls' ring provider once per process).
pub async fn from_kubeconfig(path: &Path) -> anyhow::Result<kube::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = kube::config::Kubeconfig::read_from(path)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}
