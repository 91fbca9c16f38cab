//! A pod's DNS settings, as the kubelet's DNS configurer (`pkg/kubelet/network/dns/dns.go`:
//! `GetPodDNS`) forms them from its `dnsPolicy` and `dnsConfig`, and the `/etc/resolv.conf`
//! containerd writes from them (`parseDNSOptions`): ClusterFirst → the cluster DNS, the
//! cluster's search domains before the host's, `ndots:5`; Default (and ClusterFirst with host
//! networking) → the host's resolv.conf; None → `dnsConfig` alone; then `dnsConfig` merged in,
//! and the limits (3 name servers, 32 search domains of at most 253 characters, 2048
//! characters in all) enforced with the kubelet's `DNSConfigForming` warnings.

use k8s_openapi::api::core::v1::Pod;

/// The most name servers a resolv.conf may list (`MaxDNSNameservers`).
const MAX_NAMESERVERS: usize = 3;
/// The most search domains (`MaxDNSSearchPaths`).
const MAX_SEARCHES: usize = 32;
/// The longest search line (`MaxDNSSearchListChars`).
const MAX_SEARCH_CHARS: usize = 2048;
/// The longest search domain (`DNS1123SubdomainMaxLength`).
const MAX_DOMAIN: usize = 253;

/// Name servers, search domains and options: a resolv.conf's content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsConfig {
    pub servers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

impl DnsConfig {
    /// The host's resolv.conf as the kubelet reads it (`parseResolvConf`): every
    /// `nameserver`, the last `search` line (without `.`), every `options` word.
    pub fn parse(text: &str) -> DnsConfig {
        let mut c = DnsConfig::default();
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or_default();
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => c.servers.extend(words.next().map(String::from)),
                Some("search") => {
                    c.searches = words
                        .filter(|s| *s != ".")
                        .map(|s| s.trim_end_matches('.').to_string())
                        .collect();
                }
                Some("options") => c.options = merge_options(&c.options, words.map(|w| (w, None))),
                _ => {}
            }
        }
        c
    }

    /// The resolv.conf text (containerd's order: search, nameservers, options).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.searches.is_empty() {
            out.push_str(&format!("search {}\n", self.searches.join(" ")));
        }
        for s in &self.servers {
            out.push_str(&format!("nameserver {s}\n"));
        }
        if !self.options.is_empty() {
            out.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        out
    }
}

/// What the node knows about DNS: the cluster DNS address (`--cluster-dns`), the cluster
/// domain, and the host's resolv.conf (`--resolv-conf`).
#[derive(Clone, Debug)]
pub struct NodeDns {
    pub cluster_dns: Vec<String>,
    pub cluster_domain: String,
    pub host: DnsConfig,
}

/// A pod's DNS settings and the `DNSConfigForming` warnings met forming them.
pub fn pod_dns(pod: &Pod, node: &NodeDns) -> (DnsConfig, Vec<String>) {
    let spec = pod.spec.as_ref();
    let policy = spec
        .and_then(|s| s.dns_policy.as_deref())
        .unwrap_or("ClusterFirst");
    let host_network = spec.and_then(|s| s.host_network) == Some(true);
    let cluster = match policy {
        "None" => None,
        "ClusterFirstWithHostNet" => Some(true),
        "ClusterFirst" if !host_network => Some(true),
        _ => Some(false),
    };
    let mut config = match cluster {
        None => DnsConfig::default(),
        Some(true) if !node.cluster_dns.is_empty() => {
            let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
            let domain = &node.cluster_domain;
            let mut searches = vec![
                format!("{ns}.svc.{domain}"),
                format!("svc.{domain}"),
                domain.clone(),
            ];
            searches.extend(node.host.searches.iter().cloned());
            DnsConfig {
                servers: node.cluster_dns.clone(),
                searches: dedup(searches),
                options: vec!["ndots:5".into()],
            }
        }
        Some(_) => node.host.clone(),
    };
    if let Some(extra) = spec.and_then(|s| s.dns_config.as_ref()) {
        config.servers = dedup(
            config
                .servers
                .into_iter()
                .chain(extra.nameservers.iter().flatten().cloned()),
        );
        config.searches = dedup(
            config
                .searches
                .into_iter()
                .chain(extra.searches.iter().flatten().cloned()),
        );
        let options = extra
            .options
            .iter()
            .flatten()
            .filter_map(|o| Some((o.name.as_deref()?, o.value.as_deref())));
        config.options = merge_options(&config.options, options);
    }
    let warnings = fit_limits(&mut config);
    (config, warnings)
}

/// `omitDuplicates`: the first of each, in order.
fn dedup(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i.clone()))
        .collect()
}

/// `mergeDNSOptions`: `name[:value]` options, a later one of the same name replacing the
/// earlier in its place (the kubelet's map loses the order; this keeps it).
fn merge_options<'a>(
    existing: &[String],
    more: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Vec<String> {
    let mut out: Vec<(String, String)> = existing
        .iter()
        .map(|o| match o.split_once(':') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => (o.clone(), String::new()),
        })
        .collect();
    for (name, value) in more {
        let (name, value) = match (name.split_once(':'), value) {
            (Some((n, v)), None) => (n, v),
            _ => (name, value.unwrap_or_default()),
        };
        match out.iter_mut().find(|(n, _)| n == name) {
            Some(o) => o.1 = value.to_string(),
            None => out.push((name.to_string(), value.to_string())),
        }
    }
    out.into_iter()
        .map(|(n, v)| if v.is_empty() { n } else { format!("{n}:{v}") })
        .collect()
}

/// `formDNSConfigFitsLimits`: cuts what exceeds the limits; the warnings say what is left.
fn fit_limits(config: &mut DnsConfig) -> Vec<String> {
    let mut warnings = Vec::new();
    if config.servers.len() > MAX_NAMESERVERS {
        config.servers.truncate(MAX_NAMESERVERS);
        warnings.push(format!(
            "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: {}",
            config.servers.join(" ")
        ));
    }
    let mut exceeded = false;
    if config.searches.len() > MAX_SEARCHES {
        config.searches.truncate(MAX_SEARCHES);
        exceeded = true;
    }
    let before = config.searches.len();
    config.searches.retain(|s| s.len() <= MAX_DOMAIN);
    exceeded |= config.searches.len() != before;
    let mut line = config.searches.join(" ").len();
    if line > MAX_SEARCH_CHARS {
        while line > MAX_SEARCH_CHARS {
            let Some(last) = config.searches.pop() else {
                break;
            };
            line = line.saturating_sub(last.len() + 1);
        }
        exceeded = true;
    }
    if exceeded {
        warnings.push(format!(
            "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: {}",
            config.searches.join(" ")
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::testing;
    use k8s_openapi::api::core::v1::{PodDNSConfig, PodDNSConfigOption};

    fn node() -> NodeDns {
        NodeDns {
            cluster_dns: vec!["10.43.0.10".into()],
            cluster_domain: "cluster.local".into(),
            host: DnsConfig::parse(
                "# host\nnameserver 10.255.255.53\nsearch example.com corp.\noptions edns0 ndots:2\n",
            ),
        }
    }

    fn pod(policy: Option<&str>, host_network: bool) -> Pod {
        let mut pod = testing::pod(vec![]);
        let spec = pod.spec.as_mut().unwrap();
        spec.dns_policy = policy.map(String::from);
        spec.host_network = Some(host_network);
        pod
    }

    #[test]
    fn cluster_first_names_the_cluster_dns_and_the_cluster_search_domains_first() {
        let (c, warnings) = pod_dns(&pod(Some("ClusterFirst"), false), &node());
        assert_eq!(
            c.render(),
            "search prod.svc.cluster.local svc.cluster.local cluster.local example.com corp\n\
             nameserver 10.43.0.10\n\
             options ndots:5\n"
        );
        assert!(warnings.is_empty());
        assert_eq!(pod_dns(&pod(None, false), &node()).0, c);
    }

    #[test]
    fn default_and_host_network_cluster_first_take_the_hosts_resolv_conf() {
        let host = "search example.com corp\nnameserver 10.255.255.53\noptions edns0 ndots:2\n";
        assert_eq!(
            pod_dns(&pod(Some("Default"), false), &node()).0.render(),
            host
        );
        assert_eq!(
            pod_dns(&pod(Some("ClusterFirst"), true), &node())
                .0
                .render(),
            host
        );
        let with_host_net = pod_dns(&pod(Some("ClusterFirstWithHostNet"), true), &node()).0;
        assert_eq!(with_host_net.servers, ["10.43.0.10"]);
    }

    #[test]
    fn none_takes_dns_config_alone_and_dns_config_merges_into_the_others() {
        let mut p = pod(Some("None"), false);
        p.spec.as_mut().unwrap().dns_config = Some(PodDNSConfig {
            nameservers: Some(vec!["1.2.3.4".into()]),
            searches: Some(vec!["ns1.svc.cluster-domain.example".into()]),
            options: Some(vec![
                PodDNSConfigOption {
                    name: Some("ndots".into()),
                    value: Some("2".into()),
                },
                PodDNSConfigOption {
                    name: Some("edns0".into()),
                    value: None,
                },
            ]),
        });
        assert_eq!(
            pod_dns(&p, &node()).0.render(),
            "search ns1.svc.cluster-domain.example\nnameserver 1.2.3.4\noptions ndots:2 edns0\n"
        );
        p.spec.as_mut().unwrap().dns_policy = Some("ClusterFirst".into());
        let (c, _) = pod_dns(&p, &node());
        assert_eq!(c.servers, ["10.43.0.10", "1.2.3.4"]);
        assert_eq!(c.searches.last().unwrap(), "ns1.svc.cluster-domain.example");
        assert_eq!(c.options, ["ndots:2", "edns0"]);
    }

    #[test]
    fn too_many_name_servers_and_search_domains_are_cut_with_a_warning() {
        let mut p = pod(Some("ClusterFirst"), false);
        p.spec.as_mut().unwrap().dns_config = Some(PodDNSConfig {
            nameservers: Some(vec!["1.1.1.1".into(), "2.2.2.2".into(), "3.3.3.3".into()]),
            searches: Some((0..40).map(|i| format!("d{i}.example")).collect()),
            options: None,
        });
        let (c, warnings) = pod_dns(&p, &node());
        assert_eq!(c.servers, ["10.43.0.10", "1.1.1.1", "2.2.2.2"]);
        assert_eq!(c.searches.len(), 32);
        assert_eq!(
            warnings[0],
            "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.43.0.10 1.1.1.1 2.2.2.2"
        );
        assert!(warnings[1].starts_with("Search Line limits were exceeded, some search paths have been omitted, the applied search line is: prod.svc.cluster.local "));
    }
}
