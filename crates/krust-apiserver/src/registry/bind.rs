//! Binding a pod to a node: `spec.nodeName` and the `PodScheduled` condition in one write,
//! as kube-apiserver's binding storage does it.

use super::{Registry, decode, encode, store_error, written};
use krust_api::resources::find;
use krust_api::status::ApiError;
use krust_api::{meta, validation};
use serde_json::{Value, json};

impl Registry {
    /// Assigns pod `namespace/name` to `node`, once.
    pub async fn bind(
        &self,
        namespace: &str,
        name: &str,
        node: &str,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let pods = find("", "v1", "pods").expect("pods are served");
        let key = pods.key(Some(namespace), name);
        for _ in 0..8 {
            let kv = self
                .store
                .get(&key)
                .await
                .map_err(|e| store_error(pods, name, e))?
                .ok_or_else(|| ApiError::not_found("", "pods", name))?;
            let pod = decode(&kv)?;
            let current = pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !current.is_empty() {
                let why = format!("pod {name} is already assigned to node {current:?}");
                return Err(ApiError::conflict("", "pods", name, &why));
            }
            if meta::is_terminating(&pod) {
                return Err(ApiError::conflict(
                    "",
                    "pods",
                    name,
                    "pod is being deleted, cannot be assigned to a host",
                ));
            }
            let mut bound = pod.clone();
            bound["spec"]["nodeName"] = json!(node);
            let condition = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                                   "lastTransitionTime": meta::now()});
            match bound["status"]["conditions"].as_array_mut() {
                Some(list) => {
                    list.retain(|c| c["type"] != "PodScheduled");
                    list.push(condition);
                }
                None => bound["status"]["conditions"] = json!([condition]),
            }
            validation::validate(pods, &bound, Some(&pod))?;
            if dry_run {
                return Ok(bound);
            }
            match self
                .store
                .update(&key, encode(&bound), kv.mod_revision)
                .await
            {
                Ok(kv) => return Ok(written(bound, &kv)),
                Err(krust_store::Error::Conflict { .. }) => continue,
                Err(e) => return Err(store_error(pods, name, e)),
            }
        }
        Err(ApiError::conflict(
            "",
            "pods",
            name,
            "the pod kept changing while it was being bound",
        ))
    }
}
