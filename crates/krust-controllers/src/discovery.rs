//! The resources the server serves, from its discovery documents, shared by the garbage
//! collector and the namespace controller (so that both cover every kind, present and
//! future). Mirrors `GetDeletableResources` in Kubernetes' `pkg/controller/garbagecollector`
//! (which the namespace controller's `namespacedResourcesDeleter` also calls).

use kube::Client;
use kube::api::Api;
use kube::discovery::{ApiResource, Discovery, Scope};
use std::sync::Arc;
use std::time::Duration;

/// One served resource (preferred version of its group).
#[derive(Debug)]
pub struct Served {
    /// Its group, version, kind and plural.
    pub ar: ApiResource,
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
    /// The verbs the server allows on it (`list`, `watch`, `deletecollection`, …).
    pub verbs: Vec<String>,
}

impl Served {
    /// Whether the server allows `verb` on it.
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// `resource.group` (or just `resource` in the core group), as Kubernetes names it.
    pub fn group_resource(&self) -> String {
        if self.ar.group.is_empty() {
            self.ar.plural.clone()
        } else {
            format!("{}.{}", self.ar.plural, self.ar.group)
        }
    }

    /// Whether these are Events (core or events.k8s.io), which nothing owns or keeps.
    pub fn is_events(&self) -> bool {
        self.ar.plural == "events" && matches!(self.ar.group.as_str(), "" | "events.k8s.io")
    }

    /// A dynamic API of this resource: in `namespace` if namespaced and given, else all.
    pub fn api<K>(&self, client: &Client, namespace: Option<&str>) -> Api<K>
    where
        K: kube::Resource<DynamicType = ApiResource, Scope = kube::core::DynamicResourceScope>,
    {
        match namespace {
            Some(ns) if self.namespaced => Api::namespaced_with(client.clone(), ns, &self.ar),
            _ => Api::all_with(client.clone(), &self.ar),
        }
    }
}

/// The served resources, one per group and resource (the group's preferred version).
pub async fn served(client: &Client) -> anyhow::Result<Vec<Arc<Served>>> {
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut out = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            out.push(Arc::new(Served {
                namespaced: caps.scope == Scope::Namespaced,
                verbs: caps.operations.clone(),
                ar,
            }));
        }
    }
    Ok(out)
}

/// [`served`], retried until the server answers.
pub async fn served_eventually(client: &Client) -> Vec<Arc<Served>> {
    let mut delay = Duration::from_millis(200);
    loop {
        match served(client).await {
            Ok(s) => return s,
            Err(e) => {
                tracing::warn!(error = %e, "discovery failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// The served resource of an `apiVersion` and `kind` (any version of the group).
pub fn resolve<'a>(
    served: &'a [Arc<Served>],
    api_version: &str,
    kind: &str,
) -> Option<&'a Arc<Served>> {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    served
        .iter()
        .find(|s| s.ar.api_version == api_version && s.ar.kind == kind)
        .or_else(|| {
            served
                .iter()
                .find(|s| s.ar.group == group && s.ar.kind == kind)
        })
}
