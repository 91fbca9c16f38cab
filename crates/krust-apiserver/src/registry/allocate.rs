//! Cluster IP and node port allocation.
//!
//! Each allocated address is a key in the store (`/registry/ipallocations/<ip>`,
//! `/registry/nodeportallocations/<port>`), created atomically, so two API servers on one
//! store never hand out the same address.

use super::Registry;
use bytes::Bytes;
use krust_api::status::{ApiError, Cause};
use serde_json::{Value, json};
use std::net::Ipv4Addr;

fn ip_key(ip: Ipv4Addr) -> String {
    format!("/registry/ipallocations/{ip}")
}

fn port_key(port: u32) -> String {
    format!("/registry/nodeportallocations/{port}")
}

fn seed(owner: &str) -> u32 {
    owner
        .bytes()
        .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619))
}

/// The keys one write claimed, to give back if the write does not land.
#[derive(Default)]
pub(super) struct Claims(Vec<String>);

impl Registry {
    async fn claim(&self, key: String, owner: &str, claims: &mut Claims) -> Result<bool, ApiError> {
        match self
            .store
            .create(&key, Bytes::from(json!({"owner": owner}).to_string()))
            .await
        {
            Ok(_) => {
                claims.0.push(key);
                Ok(true)
            }
            Err(krust_store::Error::AlreadyExists(_)) => Ok(false),
            Err(e) => Err(ApiError::internal(e)),
        }
    }

    /// Gives back what a write claimed and did not keep.
    pub(super) async fn unclaim(&self, claims: Claims) {
        for key in claims.0 {
            let _ = self.store.delete(&key, None).await;
        }
    }

    /// The well-known first service address (`10.43.0.1`), held by `default/kubernetes`.
    pub fn kubernetes_service_ip(&self) -> Ipv4Addr {
        self.service_cidr.nth(1)
    }

    /// The cluster DNS address, the tenth of the service range (`10.43.0.10`), held by
    /// `kube-system/kube-dns` (kubeadm's and k3s' convention; kubelets point pods at it).
    pub fn dns_service_ip(&self) -> Ipv4Addr {
        self.service_cidr.nth(10)
    }

    /// Allocates the cluster IP and node ports a Service needs that `old` (the stored
    /// Service, on update) does not hold already: on create all of them; on update a cluster
    /// IP when it leaves `ExternalName`, node ports when it becomes `NodePort` or
    /// `LoadBalancer` or gains ports, a health check node port when it becomes a LoadBalancer
    /// with `externalTrafficPolicy: Local`. What it claimed is given back if it fails; on success
    /// the caller gives it back with [`Registry::unclaim`] if its write does not land.
    pub(super) async fn allocate_service(
        &self,
        svc: &mut Value,
        old: Option<&Value>,
        owner: &str,
    ) -> Result<Claims, ApiError> {
        let mut claims = Claims::default();
        match self.allocate(svc, old, owner, &mut claims).await {
            Ok(()) => Ok(claims),
            Err(e) => {
                self.unclaim(claims).await;
                Err(e)
            }
        }
    }

    async fn allocate(
        &self,
        svc: &mut Value,
        old: Option<&Value>,
        owner: &str,
        claims: &mut Claims,
    ) -> Result<(), ApiError> {
        let name = krust_api::meta::name(svc).to_string();
        let spec = &mut svc["spec"];
        let external = spec["type"] == "ExternalName";
        let held_ip = old
            .and_then(|o| o.pointer("/spec/clusterIP"))
            .and_then(Value::as_str)
            .is_some_and(|ip| !ip.is_empty());
        match spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            _ if held_ip => {}
            Some("None") => spec["clusterIPs"] = json!(["None"]),
            Some(ip) => {
                let invalid = |why: String| {
                    let cause = Cause {
                        reason: "FieldValueInvalid",
                        message: format!("Invalid value: []string{{{ip:?}}}: {why}"),
                        field: "spec.clusterIPs".into(),
                    };
                    ApiError::invalid("", "Service", &name, vec![cause])
                };
                let addr: Ipv4Addr = ip
                    .parse()
                    .map_err(|_| invalid("must be a valid IP address".into()))?;
                if !self.service_cidr.contains(addr) {
                    let cidr = self.service_cidr;
                    return Err(invalid(format!(
                        "failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {cidr}"
                    )));
                }
                if !self.claim(ip_key(addr), owner, claims).await? {
                    return Err(invalid(format!(
                        "failed to allocate IP {ip}: provided IP is already allocated"
                    )));
                }
                spec["clusterIPs"] = json!([ip]);
            }
            None if external => {}
            None => {
                // Skip the network address, .1 (the kubernetes service) and broadcast; the
                // prefix is /8 or longer, so the rest fits in a u32.
                let usable = (self.service_cidr.size() - 3) as u32;
                let start = seed(owner) % usable;
                let mut chosen = None;
                for i in 0..usable {
                    let ip = self.service_cidr.nth(2 + (start + i) % usable);
                    if self.claim(ip_key(ip), owner, claims).await? {
                        chosen = Some(ip);
                        break;
                    }
                }
                let ip = chosen.ok_or_else(|| {
                    ApiError::internal("failed to allocate a serviceIP: range is full")
                })?;
                spec["clusterIP"] = json!(ip.to_string());
                spec["clusterIPs"] = json!([ip.to_string()]);
            }
        }
        if !external {
            spec["ipFamilies"] = json!(["IPv4"]);
            spec["ipFamilyPolicy"] = json!("SingleStack");
        }
        let held = node_ports(old);
        if matches!(spec["type"].as_str(), Some("NodePort" | "LoadBalancer")) {
            let n = spec["ports"].as_array().map_or(0, Vec::len);
            for i in 0..n {
                let wanted = requested(&spec["ports"][i]["nodePort"]);
                let field = format!("spec.ports[{i}].nodePort");
                let port = self
                    .node_port(wanted, &held, &field, &name, owner, claims)
                    .await?;
                spec["ports"][i]["nodePort"] = json!(port);
            }
        }
        if krust_api::validation::needs_health_check(spec) {
            let wanted = requested(&spec["healthCheckNodePort"]);
            let field = "spec.healthCheckNodePort";
            let port = self
                .node_port(wanted, &held, field, &name, owner, claims)
                .await?;
            spec["healthCheckNodePort"] = json!(port);
        }
        Ok(())
    }

    /// The node port `wanted` for `field` (kept if the Service holds it, claimed if free),
    /// or any free one, looked for from a place the owner and field pick.
    async fn node_port(
        &self,
        wanted: Option<u32>,
        held: &[u32],
        field: &str,
        name: &str,
        owner: &str,
        claims: &mut Claims,
    ) -> Result<u32, ApiError> {
        match wanted {
            Some(p) if held.contains(&p) => Ok(p),
            Some(p)
                if self.node_ports.contains(&p)
                    && self.claim(port_key(p), owner, claims).await? =>
            {
                Ok(p)
            }
            Some(p) => {
                let why = if self.node_ports.contains(&p) {
                    "provided port is already allocated".to_string()
                } else {
                    format!(
                        "provided port is not in the valid range. The range of valid ports is {}-{}",
                        self.node_ports.start(),
                        self.node_ports.end()
                    )
                };
                Err(ApiError::invalid(
                    "",
                    "Service",
                    name,
                    vec![Cause::invalid(field, &json!(p), why)],
                ))
            }
            None => {
                let span = self.node_ports.end() - self.node_ports.start() + 1;
                let start = seed(&format!("{owner}/{field}")) % span;
                for k in 0..span {
                    let p = self.node_ports.start() + (start + k) % span;
                    if self.claim(port_key(p), owner, claims).await? {
                        return Ok(p);
                    }
                }
                Err(ApiError::internal(
                    "failed to allocate a nodePort: range is full",
                ))
            }
        }
    }

    /// Releases what `svc` held and `kept` (the Service as written next, if any) does not.
    pub async fn release_service(&self, svc: &Value, kept: Option<&Value>) {
        let keep_ips = cluster_ips(kept);
        for addr in cluster_ips(Some(svc)) {
            if !keep_ips.contains(&addr) {
                let _ = self.store.delete(&ip_key(addr), None).await;
            }
        }
        let keep_ports = node_ports(kept);
        for port in node_ports(Some(svc)) {
            if !keep_ports.contains(&port) {
                let _ = self.store.delete(&port_key(port), None).await;
            }
        }
    }
}

/// The cluster IPs a Service holds.
fn cluster_ips(svc: Option<&Value>) -> Vec<Ipv4Addr> {
    let ips = svc.and_then(|s| s.pointer("/spec/clusterIPs"));
    let ips = ips.and_then(Value::as_array).into_iter().flatten();
    ips.filter_map(|ip| ip.as_str()?.parse().ok()).collect()
}

/// The node ports a Service holds: its ports' and its health check's.
fn node_ports(svc: Option<&Value>) -> Vec<u32> {
    let ports = svc.and_then(|s| s.pointer("/spec/ports"));
    let ports = ports.and_then(Value::as_array).into_iter().flatten();
    let health = svc.and_then(|s| s.pointer("/spec/healthCheckNodePort"));
    ports
        .filter_map(|p| p.get("nodePort"))
        .chain(health)
        .filter_map(requested)
        .collect()
}

/// A node port a Service asks for (absent and 0 ask for none).
fn requested(port: &Value) -> Option<u32> {
    port.as_u64().filter(|p| *p != 0).map(|p| p as u32)
}
