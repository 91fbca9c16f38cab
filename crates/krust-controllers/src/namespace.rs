//! The namespace controller: a namespace being deleted (deletionTimestamp set, phase
//! Terminating, `spec.finalizers: [kubernetes]`) has everything in it deleted (every
//! namespaced resource the server serves, found through discovery); once nothing is left the
//! `kubernetes` finalizer is removed through `namespaces/{name}/finalize`, and the server
//! deletes the namespace. Progress is reported in the namespace's status conditions as
//! Kubernetes reports it (`NamespaceContentRemaining`, `NamespaceFinalizersRemaining`, …).
//!
//! As in Kubernetes, emptying a namespace means a `deletecollection` and a list per resource
//! per pass: only namespaces being deleted cost anything.

use crate::discovery::{self, Served};
use crate::informer::{Outcome, WorkQueue, for_each_change, reflect};
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, PartialObjectMeta, Patch, PatchParams, PostParams,
};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The finalizer this controller owns.
pub const FINALIZER: &str = "kubernetes";
const WORKERS: usize = 4;
/// How long discovery results are reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(30);
/// Bounds of the wait before looking again at a namespace whose content is still going.
const MIN_RECHECK: Duration = Duration::from_millis(500);
const MAX_RECHECK: Duration = Duration::from_secs(5);

struct Ctx {
    client: Client,
    namespaces: Store<Namespace>,
    discovered: tokio::sync::Mutex<Option<(Instant, Vec<Arc<Served>>)>>,
}

/// Runs this controller until it fails.
pub async fn run(client: Client) -> anyhow::Result<()> {
    let (namespaces, events) = reflect(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    );
    let ctx = Arc::new(Ctx {
        client,
        namespaces,
        discovered: tokio::sync::Mutex::default(),
    });
    let queue = WorkQueue::<String>::new();
    let changes = for_each_change(
        events,
        |ns: &Namespace, gone| {
            if !gone && ns.metadata.deletion_timestamp.is_some() {
                queue.add(ns.name_any());
            }
        },
        |_| {},
    );
    let workers = {
        let ctx = ctx.clone();
        queue.clone().run(WORKERS, move |name| {
            let ctx = ctx.clone();
            async move { ctx.sync(&name).await }
        })
    };
    tokio::join!(changes, workers);
    anyhow::bail!("the namespace controller's watch ended")
}

/// What one pass over a namespace's content found.
#[derive(Default)]
struct Pass {
    /// Resource (`plural.group`) → objects left.
    remaining: BTreeMap<String, usize>,
    /// Finalizer → objects carrying it.
    finalizers: BTreeMap<String, usize>,
    errors: Vec<String>,
    /// The latest deletion deadline of what is left (graceful pods).
    wait: Duration,
}

impl Ctx {
    async fn served(&self) -> anyhow::Result<Vec<Arc<Served>>> {
        let mut cached = self.discovered.lock().await;
        if let Some((at, served)) = cached.as_ref()
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(served.clone());
        }
        let served = discovery::served(&self.client).await?;
        *cached = Some((Instant::now(), served.clone()));
        Ok(served)
    }

    async fn sync(&self, name: &str) -> Outcome {
        let Some(ns) = self.namespaces.get(&ObjectRef::new(name)) else {
            return Ok(None);
        };
        let finalizers = ns
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.clone())
            .unwrap_or_default();
        if ns.metadata.deletion_timestamp.is_none() || !finalizers.iter().any(|f| f == FINALIZER) {
            return Ok(None);
        }
        let served = match self.served().await {
            Ok(s) => s,
            Err(e) => {
                let failed = vec![condition(
                    "NamespaceDeletionDiscoveryFailure",
                    Some((
                        "DiscoveryFailed",
                        format!("Discovery failed for some groups, 1 failing: {e}"),
                    )),
                )];
                self.set_conditions(&ns, failed).await;
                return Err(e);
            }
        };
        let resources: Vec<Arc<Served>> = served
            .into_iter()
            .filter(|s| s.namespaced && s.supports("list") && s.supports("delete"))
            .collect();
        let mut pass = Pass::default();
        for r in &resources {
            if let Err(e) = self.delete_content(r, name).await {
                pass.errors.push(format!("{}: {e}", r.group_resource()));
            }
        }
        for r in &resources {
            // Both Event APIs show the same objects: count them once.
            if r.ar.group == "events.k8s.io" {
                continue;
            }
            if let Err(e) = self.count_remaining(r, name, &mut pass).await {
                pass.errors.push(format!("{}: {e}", r.group_resource()));
            }
        }
        self.set_conditions(&ns, pass.conditions()).await;
        if !pass.errors.is_empty() {
            anyhow::bail!(
                "deleting the content of namespace {name}: {}",
                pass.errors.join("; ")
            );
        }
        if !pass.remaining.is_empty() {
            tracing::debug!(namespace = name, remaining = ?pass.remaining, "content remains");
            return Ok(Some(pass.wait.clamp(MIN_RECHECK, MAX_RECHECK)));
        }
        self.finalize(&ns).await?;
        Ok(None)
    }

    /// Deletes everything of one resource in the namespace.
    async fn delete_content(&self, r: &Served, ns: &str) -> anyhow::Result<()> {
        let api: Api<DynamicObject> = r.api(&self.client, Some(ns));
        let dp = DeleteParams::background();
        if r.supports("deletecollection") {
            return match api.delete_collection(&dp, &ListParams::default()).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 405 => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        let meta: Api<PartialObjectMeta<DynamicObject>> = r.api(&self.client, Some(ns));
        for o in meta.list(&ListParams::default()).await?.items {
            if o.metadata.deletion_timestamp.is_some() {
                continue;
            }
            match api.delete(&o.name_any(), &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Counts what is left of one resource, and the finalizers holding it.
    async fn count_remaining(&self, r: &Served, ns: &str, pass: &mut Pass) -> anyhow::Result<()> {
        let meta: Api<PartialObjectMeta<DynamicObject>> = r.api(&self.client, Some(ns));
        let items = meta.list(&ListParams::default()).await?.items;
        if items.is_empty() {
            return Ok(());
        }
        pass.remaining.insert(r.group_resource(), items.len());
        let now = jiff::Timestamp::now();
        for o in &items {
            for f in o.finalizers() {
                *pass.finalizers.entry(f.clone()).or_default() += 1;
            }
            if let Some(Time(at)) = &o.metadata.deletion_timestamp
                && let Ok(left) = Duration::try_from(*at - now)
            {
                pass.wait = pass.wait.max(left);
            }
        }
        Ok(())
    }

    /// Writes the conditions that changed (status updates are best effort).
    async fn set_conditions(&self, ns: &Namespace, wanted: Vec<NamespaceCondition>) {
        let mut conditions = ns
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let mut changed = false;
        for w in wanted {
            match conditions.iter_mut().find(|c| c.type_ == w.type_) {
                Some(c)
                    if c.status == w.status && c.reason == w.reason && c.message == w.message => {}
                Some(c) => {
                    let transition = c.status != w.status;
                    let at = c.last_transition_time.clone();
                    *c = w;
                    if !transition {
                        c.last_transition_time = at;
                    }
                    changed = true;
                }
                None => {
                    conditions.push(w);
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        let patch = json!({"status": {"conditions": conditions}});
        if let Err(e) = api
            .patch_status(
                &ns.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            tracing::debug!(namespace = %ns.name_any(), error = %e, "updating namespace conditions failed");
        }
    }

    /// Removes the `kubernetes` finalizer through `namespaces/{name}/finalize`.
    async fn finalize(&self, ns: &Namespace) -> anyhow::Result<()> {
        let mut ns = ns.clone();
        let spec = ns.spec.get_or_insert_with(Default::default);
        let kept: Vec<String> = spec
            .finalizers
            .iter()
            .flatten()
            .filter(|f| *f != FINALIZER)
            .cloned()
            .collect();
        spec.finalizers = Some(kept);
        let api: Api<Namespace> = Api::all(self.client.clone());
        match api
            .replace_subresource("finalize", &ns.name_any(), &PostParams::default(), &ns)
            .await
        {
            Ok(_) => {
                tracing::debug!(namespace = %ns.name_any(), "namespace finalized");
                Ok(())
            }
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl Pass {
    /// The conditions Kubernetes' namespace deleter sets after a pass.
    fn conditions(&self) -> Vec<NamespaceCondition> {
        let content_failure = (!self.errors.is_empty()).then(|| {
            (
                "ContentDeletionFailed",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    self.errors.len(),
                    self.errors.join(", ")
                ),
            )
        });
        let remaining = (!self.remaining.is_empty()).then(|| {
            let parts: Vec<String> = self
                .remaining
                .iter()
                .map(|(r, n)| format!("{r} has {n} resource instances"))
                .collect();
            (
                "SomeResourcesRemain",
                format!("Some resources are remaining: {}", parts.join(", ")),
            )
        });
        let finalizers = (!self.finalizers.is_empty()).then(|| {
            let parts: Vec<String> = self
                .finalizers
                .iter()
                .map(|(f, n)| format!("{f} in {n} resource instances"))
                .collect();
            (
                "SomeFinalizersRemain",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    parts.join(", ")
                ),
            )
        });
        vec![
            condition("NamespaceDeletionDiscoveryFailure", None),
            condition("NamespaceDeletionGroupVersionParsingFailure", None),
            condition("NamespaceDeletionContentFailure", content_failure),
            condition("NamespaceContentRemaining", remaining),
            condition("NamespaceFinalizersRemaining", finalizers),
        ]
    }
}

/// A deletion condition: `False` with Kubernetes' "all good" reason and message, or `True`
/// with the failure given.
fn condition(type_: &str, failure: Option<(&str, String)>) -> NamespaceCondition {
    let (status, reason, message) = match failure {
        Some((reason, message)) => ("True", reason.to_string(), message),
        None => {
            let (reason, message) = match type_ {
                "NamespaceDeletionDiscoveryFailure" => (
                    "ResourcesDiscovered",
                    "All resources successfully discovered",
                ),
                "NamespaceDeletionGroupVersionParsingFailure" => (
                    "ParsedGroupVersions",
                    "All legacy kube types successfully parsed",
                ),
                "NamespaceDeletionContentFailure" => (
                    "ContentDeleted",
                    "All content successfully deleted, may be waiting on finalization",
                ),
                "NamespaceContentRemaining" => {
                    ("ContentRemoved", "All content successfully removed")
                }
                _ => (
                    "ContentHasNoFinalizers",
                    "All content-preserving finalizers finished",
                ),
            };
            ("False", reason.to_string(), message.to_string())
        }
    };
    NamespaceCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason),
        message: Some(message),
        last_transition_time: Some(Time(jiff::Timestamp::now())),
    }
}
