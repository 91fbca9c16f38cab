//! What the DNS server answers from: a snapshot of the cluster's Namespaces, Services and
//! EndpointSlices, reduced to the fields CoreDNS' kubernetes plugin reads (its `object`
//! package: `object.Service`, and `object.Endpoints` made from slices by
//! `EndpointSliceToEndpoints`, ready addresses only) and indexed as its informer caches are
//! (`SvcIndex`, `EpIndex`, `SvcIndexReverse`, `EpIndexReverse`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label naming the Service an EndpointSlice belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A namespace and a name.
pub type Key = (String, String);

/// A port of a Service or of an EndpointSlice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// The port's name (empty when unnamed).
    pub name: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port number; `-1` for an EndpointSlice without ports (CoreDNS' sentinel).
    pub port: i32,
}

/// What a Service is, for DNS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    /// A virtual IP (or none yet): its cluster IPs.
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: answered with its endpoints.
    Headless,
    /// `type: ExternalName`: a CNAME to this name.
    ExternalName(String),
}

/// A Service, as DNS sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRecord {
    pub namespace: String,
    pub name: String,
    pub kind: ServiceKind,
    pub ports: Vec<Port>,
}

impl ServiceRecord {
    /// The record of a Service object (`object.ToService`).
    pub fn from_service(svc: &Service) -> Option<ServiceRecord> {
        let spec = svc.spec.as_ref()?;
        let kind = if spec.type_.as_deref() == Some("ExternalName") {
            ServiceKind::ExternalName(spec.external_name.clone().unwrap_or_default())
        } else if spec.cluster_ip.as_deref() == Some("None") {
            ServiceKind::Headless
        } else {
            let mut ips: Vec<String> = spec.cluster_ips.clone().unwrap_or_default();
            if ips.is_empty() {
                ips.extend(spec.cluster_ip.clone());
            }
            ServiceKind::ClusterIp(ips.iter().filter_map(|ip| ip.parse().ok()).collect())
        };
        let ports = spec
            .ports
            .iter()
            .flatten()
            .map(|p| Port {
                name: p.name.clone().unwrap_or_default(),
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                port: p.port,
            })
            .collect();
        Some(ServiceRecord {
            namespace: svc.metadata.namespace.clone()?,
            name: svc.metadata.name.clone()?,
            kind,
            ports,
        })
    }
}

/// One ready address of an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub ip: IpAddr,
    /// The endpoint's `hostname` (a pod's `hostname` under its `subdomain`), if any.
    pub hostname: Option<String>,
}

impl Address {
    /// The name of the endpoint under its Service (`endpointHostname`): its hostname, else
    /// its address with dashes (`10-42-0-5`, IPv6 `fd00--5`).
    pub fn label(&self) -> String {
        match &self.hostname {
            Some(h) if !h.is_empty() => h.clone(),
            _ => match self.ip {
                IpAddr::V4(ip) => ip.to_string().replace('.', "-"),
                IpAddr::V6(ip) => ip.to_string().replace(':', "-"),
            },
        }
    }
}

/// An EndpointSlice, as DNS sees it: its Service, ready addresses and ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SliceRecord {
    pub namespace: String,
    /// The Service it belongs to (its `kubernetes.io/service-name` label).
    pub service: String,
    pub addresses: Vec<Address>,
    pub ports: Vec<Port>,
}

impl SliceRecord {
    /// The record of an EndpointSlice (`EndpointSliceToEndpoints`): addresses of endpoints
    /// whose `ready` is true or unset; no ports become one port `-1`. FQDN slices are left
    /// out, as CoreDNS watches IPv4 and IPv6 slices only.
    pub fn from_slice(slice: &EndpointSlice) -> Option<SliceRecord> {
        if !matches!(slice.address_type.as_str(), "IPv4" | "IPv6") {
            return None;
        }
        let service = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
        let mut addresses = Vec::new();
        for e in &slice.endpoints {
            let ready = e.conditions.as_ref().and_then(|c| c.ready) != Some(false);
            if !ready {
                continue;
            }
            for a in &e.addresses {
                if let Ok(ip) = a.parse() {
                    addresses.push(Address {
                        ip,
                        hostname: e.hostname.clone(),
                    });
                }
            }
        }
        let mut ports: Vec<Port> = slice
            .ports
            .iter()
            .flatten()
            .map(|p| Port {
                name: p.name.clone().unwrap_or_default(),
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                port: p.port.unwrap_or(-1),
            })
            .collect();
        if ports.is_empty() {
            ports.push(Port {
                name: String::new(),
                protocol: String::new(),
                port: -1,
            });
        }
        Some(SliceRecord {
            namespace: slice.metadata.namespace.clone()?,
            service: service.clone(),
            addresses,
            ports,
        })
    }
}

/// The cluster as the DNS server answers from it: cheap to share, never changed (a change
/// makes a new snapshot).
#[derive(Debug, Default)]
pub struct Records {
    /// Whether every watch has listed once; until then a name not found is SERVFAIL, as
    /// CoreDNS answers before its caches sync.
    pub synced: bool,
    /// The SOA serial: the time of the last change, in seconds since the epoch.
    pub serial: u32,
    /// The kube-dns Service's cluster IPs (the name server's address, `ns.dns.<zone>`).
    pub dns_ips: Vec<IpAddr>,
    namespaces: BTreeSet<String>,
    services: HashMap<Key, ServiceRecord>,
    endpoints: HashMap<Key, Vec<Arc<SliceRecord>>>,
    service_ips: HashMap<IpAddr, Key>,
    endpoint_ips: HashMap<IpAddr, Vec<(Key, String)>>,
}

/// The namespace and name of the kube-dns Service.
pub const KUBE_DNS: (&str, &str) = ("kube-system", "kube-dns");

impl Records {
    /// Indexes a snapshot.
    pub fn new<'a>(
        namespaces: impl IntoIterator<Item = String>,
        services: impl IntoIterator<Item = &'a ServiceRecord>,
        slices: impl IntoIterator<Item = &'a Arc<SliceRecord>>,
    ) -> Records {
        let mut r = Records {
            namespaces: namespaces.into_iter().collect(),
            ..Default::default()
        };
        for s in services {
            let key = (s.namespace.clone(), s.name.clone());
            if let ServiceKind::ClusterIp(ips) = &s.kind {
                for ip in ips {
                    r.service_ips.insert(*ip, key.clone());
                }
                if (key.0.as_str(), key.1.as_str()) == KUBE_DNS {
                    r.dns_ips = ips.clone();
                }
            }
            r.services.insert(key, s.clone());
        }
        // Slices in a stable order, so that answers do not change between two snapshots.
        let mut ordered: BTreeMap<(Key, Vec<IpAddr>), Vec<&Arc<SliceRecord>>> = BTreeMap::new();
        for s in slices {
            let ips = s.addresses.iter().map(|a| a.ip).collect();
            ordered
                .entry(((s.namespace.clone(), s.service.clone()), ips))
                .or_default()
                .push(s);
        }
        for ((key, _), slices) in ordered {
            for s in slices {
                for a in &s.addresses {
                    r.endpoint_ips
                        .entry(a.ip)
                        .or_default()
                        .push((key.clone(), a.label()));
                }
                r.endpoints.entry(key.clone()).or_default().push(s.clone());
            }
        }
        r
    }

    /// Whether the namespace exists (`namespaceExposed`).
    pub fn has_namespace(&self, namespace: &str) -> bool {
        self.namespaces.contains(namespace)
    }

    /// The Service `namespace/name`.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&ServiceRecord> {
        self.services
            .get(&(namespace.to_string(), name.to_string()))
    }

    /// The slices of the Service `namespace/name`.
    pub fn endpoints(&self, namespace: &str, name: &str) -> &[Arc<SliceRecord>] {
        self.endpoints
            .get(&(namespace.to_string(), name.to_string()))
            .map_or(&[], Vec::as_slice)
    }

    /// The Service whose cluster IP `ip` is.
    pub fn service_of_ip(&self, ip: IpAddr) -> Option<&Key> {
        self.service_ips.get(&ip)
    }

    /// The Services and endpoint names with a ready endpoint at `ip`.
    pub fn endpoints_of_ip(&self, ip: IpAddr) -> &[(Key, String)] {
        self.endpoint_ips.get(&ip).map_or(&[], Vec::as_slice)
    }
}
