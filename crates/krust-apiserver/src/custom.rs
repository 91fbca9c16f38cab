//! The custom resources this server serves, made from the stored CustomResourceDefinitions,
//! and the definitions' controllers as apiextensions-apiserver runs them: naming (a
//! definition's names are accepted unless its group already uses them) and establishing
//! (set in its status as it is written), and the finalizer controller (a deleted
//! definition's objects are deleted before it goes).

use crate::registry::{DeleteOptions, Deleted, ListQuery, Part, Registry, WriteOptions};
use krust_api::custom::definition::{self, CLEANUP_FINALIZER};
use krust_api::resources::{RESOURCES, Resource, find};
use krust_api::status::ApiError;
use serde_json::{Value, json};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The resource-table entries the stored definitions make.
#[derive(Default)]
pub struct CustomResources {
    served: RwLock<Arc<[&'static Resource]>>,
}

impl CustomResources {
    /// Every served custom resource, by definition creation then version priority.
    pub fn all(&self) -> Arc<[&'static Resource]> {
        self.served
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A custom resource by group, version and plural.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
        let all = self.all();
        all.iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .copied()
    }

    /// Serves what `definitions` (all stored ones) make.
    fn set(&self, definitions: &mut [Value]) {
        definitions.sort_by(|a, b| {
            let created =
                |v: &Value| krust_api::meta::meta_str(v, "creationTimestamp").map(String::from);
            created(a).cmp(&created(b))
        });
        let served: Vec<&'static Resource> =
            definitions.iter().flat_map(definition::resources).collect();
        *self.served.write().unwrap_or_else(|e| e.into_inner()) = served.into();
    }
}

/// Every served resource: the static table, then the custom resources.
pub fn all_resources(custom: &CustomResources) -> Vec<&'static Resource> {
    RESOURCES
        .iter()
        .chain(custom.all().iter().copied())
        .collect()
}

fn definitions() -> &'static Resource {
    find("apiextensions.k8s.io", "v1", "customresourcedefinitions").expect("CRDs are served")
}

impl Registry {
    /// Reads every stored definition and serves what they make; returns the definitions.
    pub async fn reload_custom(&self) -> Result<Vec<Value>, ApiError> {
        let mut page = self.list(definitions(), &ListQuery::default()).await?;
        self.custom.set(&mut page.items);
        Ok(page.items)
    }

    /// The status a definition being written gets: its names checked against the rest of
    /// its group.
    pub(crate) fn definition_status(&self, crd: &Value) -> Value {
        let served = all_resources(&self.custom);
        let conflict = definition::names_in_use(crd, &served);
        definition::status(crd, conflict.as_deref(), &krust_api::meta::now())
    }

    /// Deletes the objects of a definition being deleted, then lets the definition go
    /// (removes its finalizer) once none is left.
    async fn clean_up(&self, crd: &Value) -> Result<(), ApiError> {
        let name = krust_api::meta::name(crd);
        let served = self.custom.all();
        let Some(resource) = served
            .iter()
            .find(|r| r.custom.is_some_and(|c| c.definition == name))
        else {
            return self.release(name).await;
        };
        let left = self.list(resource, &ListQuery::default()).await?;
        let mut all_gone = true;
        for obj in &left.items {
            let ns = krust_api::meta::namespace(obj);
            let (name_of, opts) = (krust_api::meta::name(obj), DeleteOptions::default());
            match self.delete(resource, ns, name_of, &opts).await {
                Ok(Deleted::Gone(_)) => {}
                Err(e) if e.code == 404 => {}
                // Its finalizers hold it: the definition waits.
                Ok(Deleted::Pending(_)) => all_gone = false,
                Err(e) => {
                    tracing::warn!(definition = name, error = %e, "deleting a custom object");
                    all_gone = false;
                }
            }
        }
        if all_gone {
            self.release(name).await?;
        }
        Ok(())
    }

    /// Removes the cleanup finalizer of a definition.
    async fn release(&self, name: &str) -> Result<(), ApiError> {
        let opts = WriteOptions::default();
        self.read_modify_write(definitions(), None, name, Part::Main, &opts, |current| {
            let mut next = current.clone();
            let kept: Vec<String> = krust_api::meta::finalizers(current)
                .into_iter()
                .filter(|f| f != CLEANUP_FINALIZER)
                .collect();
            krust_api::meta::metadata_mut(&mut next).insert("finalizers".into(), json!(kept));
            Ok(next)
        })
        .await
        .map(drop)
    }
}

/// Keeps the served custom resources current with the stored definitions (written through
/// this server or another over the same store) and cleans up deleted definitions.
pub async fn keep(registry: Registry) {
    let prefix = definitions().key_prefix(None);
    loop {
        let from = registry.revision();
        let pending = sync(&registry).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "custom resource definitions");
            true
        });
        let Ok(mut events) = registry.watch(&prefix, from) else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        // Each change (or a lagging watch, which ends the stream) makes a new round; a
        // pending cleanup is tried again after a second.
        if pending {
            let _ = tokio::time::timeout(Duration::from_secs(1), events.recv()).await;
        } else {
            events.recv().await;
        }
    }
}

/// One round: serve what is stored, and clean up the definitions being deleted. Returns
/// whether a cleanup is still pending.
async fn sync(registry: &Registry) -> Result<bool, ApiError> {
    let stored = registry.reload_custom().await?;
    let terminating: Vec<&Value> = stored
        .iter()
        .filter(|c| krust_api::meta::is_terminating(c))
        .collect();
    for crd in &terminating {
        registry.clean_up(crd).await?;
    }
    Ok(!terminating.is_empty())
}
