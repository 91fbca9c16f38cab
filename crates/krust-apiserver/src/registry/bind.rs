//! Binding a pod to a node: `spec.nodeName`, the binding's annotations and the `PodScheduled`
//! condition in one write, as kube-apiserver's binding storage does it (a guarded update of
//! those fields only, without the pod's update validation).

use super::{MAX_RETRIES, Registry, decode, encode, store_error, unless_overtaken};
use krust_api::meta;
use krust_api::resources::find;
use krust_api::status::ApiError;
use serde_json::{Map, Value, json};

/// What a `Binding` asks.
pub struct Binding<'a> {
    pub namespace: &'a str,
    /// The pod.
    pub name: &'a str,
    /// The pod's uid, if given: a precondition.
    pub uid: Option<&'a str>,
    pub node: &'a str,
    /// Set on the pod.
    pub annotations: Option<&'a Map<String, Value>>,
}

impl Registry {
    /// Assigns a pod to a node, once.
    pub async fn bind(&self, b: &Binding<'_>, dry_run: bool) -> Result<(), ApiError> {
        let pods = find("", "v1", "pods").expect("pods are served");
        let (name, key) = (b.name, pods.key(Some(b.namespace), b.name));
        let refuse = |why: &str| ApiError::conflict("", "pods", name, why);
        for _ in 0..=MAX_RETRIES {
            let kv = self
                .store
                .get(&key)
                .await
                .map_err(|e| store_error(pods, name, e))?
                .ok_or_else(|| ApiError::not_found("", "pods", name))?;
            let mut pod = decode(&kv)?;
            let uid = meta::meta_str(&pod, "uid").unwrap_or("");
            if let Some(want) = b.uid.filter(|u| !u.is_empty() && *u != uid) {
                return Err(refuse(&format!(
                    "Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"
                )));
            }
            if meta::is_terminating(&pod) {
                return Err(refuse("pod is being deleted, cannot be assigned to a host"));
            }
            let spec = &pod["spec"];
            if let Some(current) = spec["nodeName"].as_str().filter(|n| !n.is_empty()) {
                return Err(refuse(&format!(
                    "pod {name} is already assigned to node {current:?}"
                )));
            }
            if spec["schedulingGates"]
                .as_array()
                .is_some_and(|g| !g.is_empty())
            {
                return Err(refuse(&format!(
                    "pod {name} has non-empty .spec.schedulingGates"
                )));
            }
            pod["spec"]["nodeName"] = json!(b.node);
            if let Some(annotations) = b.annotations.filter(|a| !a.is_empty()) {
                let m = meta::metadata_mut(&mut pod);
                let to = m.entry("annotations").or_insert_with(|| json!({}));
                if let Some(to) = to.as_object_mut() {
                    to.extend(annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
            let condition = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                                   "lastTransitionTime": meta::now()});
            match pod["status"]["conditions"].as_array_mut() {
                Some(list) => {
                    list.retain(|c| c["type"] != "PodScheduled");
                    list.push(condition);
                }
                None => pod["status"]["conditions"] = json!([condition]),
            }
            if dry_run {
                return Ok(());
            }
            let updated = self.store.update(&key, encode(&pod), kv.mod_revision).await;
            if unless_overtaken(updated, pods, name)?.is_some() {
                return Ok(());
            }
        }
        Err(refuse("the pod kept changing while it was being bound"))
    }
}
