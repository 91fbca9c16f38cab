//! The ServiceAccount admission plugin (kube-apiserver's
//! `plugin/pkg/admission/serviceaccount`): a pod runs as a service account that must exist,
//! and unless the pod or the account opts out (`automountServiceAccountToken: false`) it
//! gets a projected `kube-api-access-<suffix>` volume (a bound token the kubelet requests,
//! the cluster CA from `kube-root-ca.crt`, the namespace) mounted read-only in every
//! container at [`MOUNT_PATH`].

use krust_api::resources::find;
use krust_api::status::ApiError;
use serde_json::{Value, json};

use super::Registry;

/// Where the token, `ca.crt` and `namespace` appear in containers.
pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The token lifetime the volume asks for (the kubelet refreshes it before it ends).
const TOKEN_SECONDS: i64 = 3607;

impl Registry {
    /// Admits a pod being created: its service account looked up, the token volume added.
    pub(super) async fn admit_service_account(&self, pod: &mut Value) -> Result<(), ApiError> {
        let namespace = krust_api::meta::namespace(pod)
            .unwrap_or("default")
            .to_string();
        let name = pod
            .pointer("/spec/serviceAccountName")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let Some(account) = self.service_account(&namespace, &name).await? else {
            let pod_name = krust_api::meta::name(pod);
            return Err(ApiError::new(
                403,
                "Forbidden",
                format!(
                    "pods {pod_name:?} is forbidden: error looking up service account {namespace}/{name}: serviceaccount {name:?} not found"
                ),
            ));
        };
        let automount = pod
            .pointer("/spec/automountServiceAccountToken")
            .or_else(|| account.get("automountServiceAccountToken"))
            .and_then(Value::as_bool)
            .unwrap_or(true);
        if automount {
            mount_token(pod, &super::create::generated("kube-api-access-"));
        }
        Ok(())
    }
}

impl Registry {
    /// The account, if it exists. The `default` one is asked for ten times 100–200 ms apart,
    /// since its controller may not have made it yet in a new namespace (as the plugin does).
    async fn service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        let accounts = find("", "v1", "serviceaccounts").expect("served");
        let attempts = if name == "default" { 10 } else { 1 };
        let pause = std::time::Duration::from_millis(100 + u64::from(rand_byte()) % 100);
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(pause).await;
            }
            match self.get(accounts, Some(namespace), name).await {
                Ok(account) => return Ok(Some(account)),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

/// A random byte (the retry pause's jitter).
fn rand_byte() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0]
}

/// Adds the token volume named `volume` and mounts it in every init and regular container
/// that does not mount something at [`MOUNT_PATH`] already.
fn mount_token(pod: &mut Value, volume: &str) {
    let spec = &mut pod["spec"];
    let mut mounted = false;
    for list in ["initContainers", "containers"] {
        for c in spec[list].as_array_mut().into_iter().flatten() {
            let mounts = &mut c["volumeMounts"];
            let taken = mounts
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| m["mountPath"] == MOUNT_PATH);
            if taken {
                continue;
            }
            if !mounts.is_array() {
                *mounts = json!([]);
            }
            let mount = json!({"name": volume, "readOnly": true, "mountPath": MOUNT_PATH});
            mounts.as_array_mut().expect("array").push(mount);
            mounted = true;
        }
    }
    if !mounted {
        return;
    }
    let projected = json!({
        "name": volume,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    });
    if !spec["volumes"].is_array() {
        spec["volumes"] = json!([]);
    }
    spec["volumes"]
        .as_array_mut()
        .expect("array")
        .push(projected);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_container_mounts_the_token_volume_unless_it_mounts_that_path_itself() {
        let mut pod = json!({"spec": {
            "initContainers": [{"name": "init"}],
            "containers": [
                {"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "own", "volumeMounts": [{"name": "mine", "mountPath": MOUNT_PATH}]},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        }});
        mount_token(&mut pod, "kube-api-access-abcde");
        let mounts = |i: usize, list: &str| pod["spec"][list][i]["volumeMounts"].clone();
        assert_eq!(
            mounts(0, "initContainers")[0]["name"],
            "kube-api-access-abcde"
        );
        assert_eq!(mounts(0, "containers")[1]["mountPath"], MOUNT_PATH);
        assert_eq!(mounts(0, "containers")[1]["readOnly"], true);
        assert_eq!(mounts(1, "containers").as_array().unwrap().len(), 1);
        let volumes = pod["spec"]["volumes"].as_array().unwrap();
        assert_eq!(volumes.len(), 2);
        let sources = &volumes[1]["projected"]["sources"];
        assert_eq!(sources[0]["serviceAccountToken"]["expirationSeconds"], 3607);
        assert_eq!(sources[1]["configMap"]["name"], "kube-root-ca.crt");
        assert_eq!(sources[2]["downwardAPI"]["items"][0]["path"], "namespace");
    }
}
