//! What the proxy reads from the API, as kube-proxy's `ServicePort` and `Endpoint`
//! (`pkg/proxy/serviceport.go`, `endpoint.go`, `endpointslicecache.go`): one entry per port of
//! each Service that has a cluster IP, and the endpoints the EndpointSlices labelled
//! `kubernetes.io/service-name` give that port (by port name and protocol, so named target
//! ports are whatever the EndpointSlice controller resolved them to, and hand-written slices
//! of a Service without selector count the same). Headless and ExternalName Services have
//! nothing to proxy.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use krust_api::cidr::Cidr;

/// The label naming an EndpointSlice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A transport protocol a Service port may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum L4 {
    Tcp,
    Udp,
    Sctp,
}

impl L4 {
    /// The API's spelling (`TCP`), `None` for others.
    pub fn parse(s: Option<&str>) -> Option<L4> {
        match s.unwrap_or("TCP") {
            "TCP" => Some(L4::Tcp),
            "UDP" => Some(L4::Udp),
            "SCTP" => Some(L4::Sctp),
            _ => None,
        }
    }

    /// nft's spelling (`tcp`).
    pub fn nft(self) -> &'static str {
        match self {
            L4::Tcp => "tcp",
            L4::Udp => "udp",
            L4::Sctp => "sctp",
        }
    }
}

/// One port of a Service, with every address it is reached at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// `namespace/name/protocol/portname`, as kube-proxy names chains.
    pub id: String,
    /// The Service's namespace and name, and the port's name (`""` when it has none).
    pub namespace: String,
    pub service: String,
    pub name: String,
    pub protocol: L4,
    pub cluster_ips: Vec<Ipv4Addr>,
    pub port: u16,
    pub node_port: Option<u16>,
    /// `spec.externalIPs` and `status.loadBalancer.ingress[].ip`: external addresses.
    pub external_ips: Vec<Ipv4Addr>,
    /// `status.loadBalancer.ingress[].ip` of a LoadBalancer (among `external_ips` too).
    pub load_balancer_ips: Vec<Ipv4Addr>,
    /// `spec.loadBalancerSourceRanges` of a LoadBalancer: the only clients its
    /// load-balancer addresses admit (empty: any; IPv6 ranges left out).
    pub source_ranges: Vec<Cidr>,
    /// `spec.healthCheckNodePort` of a LoadBalancer with `externalTrafficPolicy: Local`.
    pub health_check_node_port: Option<u16>,
    /// `sessionAffinity: ClientIP`'s timeout in seconds.
    pub affinity_timeout: Option<u32>,
    /// `internalTrafficPolicy: Local`.
    pub internal_local: bool,
    /// `externalTrafficPolicy: Local` (only meaningful with external addresses).
    pub external_local: bool,
}

impl ServicePort {
    /// Whether traffic reaches it from outside the cluster (node ports, external IPs).
    pub fn has_external(&self) -> bool {
        self.node_port.is_some() || !self.external_ips.is_empty()
    }

    /// Its endpoints in `slices` (`node` is this node's name).
    pub fn endpoints<'a>(
        &self,
        slices: impl IntoIterator<Item = &'a EndpointSlice>,
        node: &str,
    ) -> Vec<Endpoint> {
        endpoints(
            &self.namespace,
            &self.service,
            &self.name,
            self.protocol,
            slices,
            node,
        )
    }
}

/// One endpoint of a Service port, as its EndpointSlice says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    /// On this node.
    pub local: bool,
}

/// The ports of `svc` to proxy: none for headless and ExternalName Services.
pub fn service_ports(svc: &Service) -> Vec<ServicePort> {
    let (Some(spec), Some(namespace), Some(name)) = (
        svc.spec.as_ref(),
        svc.metadata.namespace.as_deref(),
        svc.metadata.name.as_deref(),
    ) else {
        return Vec::new();
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        return Vec::new();
    }
    let mut cluster_ips: Vec<Ipv4Addr> = spec
        .cluster_ips
        .iter()
        .flatten()
        .chain(spec.cluster_ip.iter())
        .filter_map(|ip| ip.parse().ok())
        .collect();
    dedup(&mut cluster_ips);
    if cluster_ips.is_empty() {
        return Vec::new();
    }
    let mut external_ips: Vec<Ipv4Addr> = spec
        .external_ips
        .iter()
        .flatten()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    let load_balancer = spec.type_.as_deref() == Some("LoadBalancer");
    let mut load_balancer_ips: Vec<Ipv4Addr> = Vec::new();
    let mut source_ranges: Vec<Cidr> = Vec::new();
    if load_balancer {
        let ingress = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref());
        load_balancer_ips.extend(
            ingress
                .into_iter()
                .flatten()
                .filter_map(|i| i.ip.as_deref()?.parse::<Ipv4Addr>().ok()),
        );
        dedup(&mut load_balancer_ips);
        external_ips.extend(&load_balancer_ips);
        let ranges = spec.load_balancer_source_ranges.iter().flatten();
        source_ranges.extend(ranges.filter_map(|r| r.trim().parse::<Cidr>().ok()));
    }
    dedup(&mut external_ips);
    let health_check_node_port = spec
        .health_check_node_port
        .filter(|_| load_balancer && spec.external_traffic_policy.as_deref() == Some("Local"))
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0);
    let affinity_timeout = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(10800)
    });
    let node_ports = matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer"));
    let mut ports = Vec::new();
    for p in spec.ports.iter().flatten() {
        let (Some(protocol), Ok(port)) = (L4::parse(p.protocol.as_deref()), u16::try_from(p.port))
        else {
            continue;
        };
        let port_name = p.name.as_deref().unwrap_or("");
        ports.push(ServicePort {
            id: format!("{namespace}/{name}/{}/{port_name}", protocol.nft()),
            namespace: namespace.to_string(),
            service: name.to_string(),
            name: port_name.to_string(),
            protocol,
            cluster_ips: cluster_ips.clone(),
            port,
            node_port: p
                .node_port
                .filter(|_| node_ports)
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n != 0),
            external_ips: external_ips.clone(),
            load_balancer_ips: load_balancer_ips.clone(),
            source_ranges: source_ranges.clone(),
            health_check_node_port,
            affinity_timeout,
            internal_local: spec.internal_traffic_policy.as_deref() == Some("Local"),
            external_local: spec.external_traffic_policy.as_deref() == Some("Local"),
        });
    }
    ports
}

fn dedup(ips: &mut Vec<Ipv4Addr>) {
    let mut seen = BTreeSet::new();
    ips.retain(|ip| seen.insert(*ip));
}

/// The endpoints the slices of `svc` give its port named `port_name` with `protocol`
/// (`node` is this node's name). The first address of each endpoint counts, an endpoint in
/// two slices once.
fn endpoints<'a>(
    namespace: &str,
    service: &str,
    port_name: &str,
    protocol: L4,
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
    node: &str,
) -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = Vec::new();
    for slice in slices {
        let labels = slice.metadata.labels.as_ref();
        if slice.metadata.namespace.as_deref() != Some(namespace)
            || labels
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .map(String::as_str)
                != Some(service)
            || slice.address_type != "IPv4"
        {
            continue;
        }
        let Some(port) = slice.ports.iter().flatten().find(|p| {
            p.name.as_deref().unwrap_or("") == port_name
                && L4::parse(p.protocol.as_deref()) == Some(protocol)
        }) else {
            continue;
        };
        let Some(number) = port.port.and_then(|p| u16::try_from(p).ok()) else {
            continue;
        };
        for ep in &slice.endpoints {
            let Some(ip) = ep
                .addresses
                .first()
                .and_then(|a| a.parse::<Ipv4Addr>().ok())
            else {
                continue;
            };
            if out.iter().any(|e| e.ip == ip && e.port == number) {
                continue;
            }
            let c = ep.conditions.as_ref();
            let ready = c.and_then(|c| c.ready).unwrap_or(true);
            out.push(Endpoint {
                ip,
                port: number,
                ready,
                serving: c.and_then(|c| c.serving).unwrap_or(ready),
                terminating: c.and_then(|c| c.terminating).unwrap_or(false),
                local: ep.node_name.as_deref() == Some(node),
            });
        }
    }
    out.sort();
    out
}

/// Which endpoints take new connections, as kube-proxy's `CategorizeEndpoints`: the ready
/// ones, or when none is ready the serving terminating ones; `cluster` from every node,
/// `local` from this node only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usable {
    pub cluster: Vec<Endpoint>,
    pub local: Vec<Endpoint>,
    /// Whether any endpoint anywhere could take a connection.
    pub any: bool,
}

/// Sorts `endpoints` into [`Usable`].
pub fn categorize(endpoints: &[Endpoint]) -> Usable {
    let pick = |only_local: bool| -> Vec<Endpoint> {
        let mine = endpoints.iter().filter(|e| !only_local || e.local);
        let ready: Vec<Endpoint> = mine.clone().filter(|e| e.ready).copied().collect();
        if !ready.is_empty() {
            return ready;
        }
        mine.filter(|e| e.serving && e.terminating)
            .copied()
            .collect()
    };
    let cluster = pick(false);
    Usable {
        any: !cluster.is_empty(),
        local: pick(true),
        cluster,
    }
}
