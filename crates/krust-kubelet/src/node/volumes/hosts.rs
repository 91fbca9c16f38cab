//! The pod's `/etc/hosts` (the kubelet's managed hosts file, `kubelet_pods.go`:
//! `managedHostsFileContent`, `nodeHostsFileContent`, `hostsEntriesFromHostAliases`) and
//! `/etc/hostname` and `/etc/resolv.conf` (written by containerd's CRI plugin in its
//! sandbox; the resolv.conf's content is `node/dns.rs`'s), one of each per pod in the pod
//! directory, bind-mounted into every container.

use std::io;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{HostAlias, Pod};

use super::pod_dir;

/// The pod's hosts file, under its directory.
pub const HOSTS_FILE: &str = "etc-hosts";
/// The pod's hostname file, under its directory.
pub const HOSTNAME_FILE: &str = "etc-hostname";
/// The pod's resolv.conf, under its directory.
pub const RESOLV_FILE: &str = "etc-resolv.conf";

/// The pod's hostname and, with a `subdomain`, its domain
/// (`<subdomain>.<namespace>.svc.<cluster domain>`): `GeneratePodHostNameAndDomain`.
pub fn hostname_and_domain(pod: &Pod, cluster_domain: &str) -> (String, Option<String>) {
    let spec = pod.spec.as_ref();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let hostname = spec
        .and_then(|s| s.hostname.as_deref())
        .filter(|h| !h.is_empty())
        .unwrap_or(name);
    // Hostnames longer than 63 characters are cut, without trailing `-` or `.`.
    let hostname = if hostname.len() > 63 {
        hostname[..63].trim_end_matches(['-', '.'])
    } else {
        hostname
    };
    let domain = spec
        .and_then(|s| s.subdomain.as_deref())
        .filter(|s| !s.is_empty())
        .map(|sub| {
            let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
            format!("{sub}.{ns}.svc.{cluster_domain}")
        });
    (hostname.to_string(), domain)
}

/// The hostname set in the pod's UTS namespace: the node's with host networking, else the
/// pod's (its FQDN with `setHostnameAsFQDN`).
pub fn uts_hostname(pod: &Pod, node_hostname: &str, cluster_domain: &str) -> String {
    let spec = pod.spec.as_ref();
    if spec.and_then(|s| s.host_network) == Some(true) {
        return node_hostname.to_string();
    }
    let (hostname, domain) = hostname_and_domain(pod, cluster_domain);
    match domain {
        Some(d) if spec.and_then(|s| s.set_hostname_as_fqdn) == Some(true) => {
            format!("{hostname}.{d}")
        }
        _ => hostname,
    }
}

/// The managed hosts file of a pod on the pod network.
pub fn managed_hosts(
    pod_ips: &[String],
    hostname: &str,
    domain: Option<&str>,
    aliases: &[HostAlias],
) -> String {
    let mut out = String::from("# Kubernetes-managed hosts file.\n");
    out.push_str("127.0.0.1\tlocalhost\n");
    out.push_str("::1\tlocalhost ip6-localhost ip6-loopback\n");
    out.push_str("fe00::0\tip6-localnet\n");
    out.push_str("fe00::0\tip6-mcastprefix\n");
    out.push_str("fe00::1\tip6-allnodes\n");
    out.push_str("fe00::2\tip6-allrouters\n");
    for ip in pod_ips {
        match domain {
            Some(d) => out.push_str(&format!("{ip}\t{hostname}.{d}\t{hostname}\n")),
            None => out.push_str(&format!("{ip}\t{hostname}\n")),
        }
    }
    out.push_str(&host_aliases(aliases));
    out
}

/// The hosts file of a pod on the host network: the node's own, under a header.
pub fn node_hosts(node_hosts_file: &str, aliases: &[HostAlias]) -> String {
    let mut out = String::from("# Kubernetes-managed hosts file (host network).\n");
    out.push_str(node_hosts_file);
    out.push_str(&host_aliases(aliases));
    out
}

fn host_aliases(aliases: &[HostAlias]) -> String {
    if aliases.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n# Entries added by HostAliases.\n");
    for a in aliases {
        let names = a.hostnames.as_deref().unwrap_or_default().join("\t");
        out.push_str(&format!("{}\t{names}\n", a.ip));
    }
    out
}

/// The paths of the pod's hosts and hostname files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodFiles {
    /// `/etc/hosts`.
    pub hosts: PathBuf,
    /// `/etc/hostname`.
    pub hostname: PathBuf,
    /// `/etc/resolv.conf`, once written ([`write_resolv_conf`]).
    pub resolv_conf: Option<PathBuf>,
}

/// Writes the pod's hosts and hostname files into its directory (again each time: the
/// pod's addresses may be new). `node_hosts_file` is the node's `/etc/hosts`, read for
/// host-network pods.
pub fn write_pod_files(
    pods_dir: &Path,
    pod: &Pod,
    pod_ips: &[String],
    node_hostname: &str,
    cluster_domain: &str,
    node_hosts_file: &Path,
) -> io::Result<PodFiles> {
    let dir = pod_dir(pods_dir, pod.metadata.uid.as_deref().unwrap_or_default());
    std::fs::create_dir_all(&dir)?;
    let spec = pod.spec.as_ref();
    let aliases = spec
        .and_then(|s| s.host_aliases.as_deref())
        .unwrap_or_default();
    let content = if spec.and_then(|s| s.host_network) == Some(true) {
        node_hosts(
            &std::fs::read_to_string(node_hosts_file).unwrap_or_default(),
            aliases,
        )
    } else {
        let (hostname, domain) = hostname_and_domain(pod, cluster_domain);
        managed_hosts(pod_ips, &hostname, domain.as_deref(), aliases)
    };
    let files = PodFiles {
        hosts: dir.join(HOSTS_FILE),
        hostname: dir.join(HOSTNAME_FILE),
        resolv_conf: None,
    };
    write_replacing(&files.hosts, content.as_bytes())?;
    let hostname = uts_hostname(pod, node_hostname, cluster_domain);
    write_replacing(&files.hostname, format!("{hostname}\n").as_bytes())?;
    Ok(files)
}

/// Writes the pod's resolv.conf (`content`) into its directory; returns its path.
pub fn write_resolv_conf(pods_dir: &Path, pod: &Pod, content: &str) -> io::Result<PathBuf> {
    let dir = pod_dir(pods_dir, pod.metadata.uid.as_deref().unwrap_or_default());
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(RESOLV_FILE);
    write_replacing(&path, content.as_bytes())?;
    Ok(path)
}

/// Writes `path` in place (a bind mount of it keeps seeing the new content), mode 0644.
fn write_replacing(path: &Path, data: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, data)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::testing;

    #[test]
    fn the_managed_hosts_file_names_the_pod_and_its_aliases() {
        let aliases = [HostAlias {
            ip: "10.1.2.3".into(),
            hostnames: Some(vec!["foo.local".into(), "bar.local".into()]),
        }];
        let content = managed_hosts(&["10.42.0.7".into()], "web", None, &aliases);
        assert_eq!(
            content,
            "# Kubernetes-managed hosts file.\n\
             127.0.0.1\tlocalhost\n\
             ::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\n\
             fe00::0\tip6-mcastprefix\n\
             fe00::1\tip6-allnodes\n\
             fe00::2\tip6-allrouters\n\
             10.42.0.7\tweb\n\
             \n\
             # Entries added by HostAliases.\n\
             10.1.2.3\tfoo.local\tbar.local\n"
        );
    }

    #[test]
    fn a_subdomain_gives_the_pod_a_fully_qualified_name() {
        let mut pod = testing::pod(vec![]);
        let spec = pod.spec.as_mut().unwrap();
        spec.hostname = Some("db-0".into());
        spec.subdomain = Some("db".into());
        let (h, d) = hostname_and_domain(&pod, "cluster.local");
        assert_eq!(
            (h.as_str(), d.as_deref()),
            ("db-0", Some("db.prod.svc.cluster.local"))
        );
        let content = managed_hosts(&["10.42.0.9".into()], &h, d.as_deref(), &[]);
        assert!(
            content.ends_with("10.42.0.9\tdb-0.db.prod.svc.cluster.local\tdb-0\n"),
            "{content}"
        );
        pod.spec.as_mut().unwrap().set_hostname_as_fqdn = Some(true);
        assert_eq!(
            uts_hostname(&pod, "node", "cluster.local"),
            "db-0.db.prod.svc.cluster.local"
        );
    }

    #[test]
    fn long_pod_names_are_cut_to_a_valid_hostname() {
        let mut pod = testing::pod(vec![]);
        pod.metadata.name = Some(format!("{}-{}", "a".repeat(62), "b".repeat(10)));
        let (h, _) = hostname_and_domain(&pod, "cluster.local");
        assert_eq!(h, "a".repeat(62));
    }

    #[test]
    fn host_network_pods_get_the_nodes_hosts_file() {
        let dir = tempfile::tempdir().unwrap();
        let node_hosts_path = dir.path().join("hosts");
        std::fs::write(&node_hosts_path, "127.0.0.1\tlocalhost\n").unwrap();
        let mut pod = testing::pod(vec![]);
        pod.spec.as_mut().unwrap().host_network = Some(true);
        let files = write_pod_files(
            dir.path(),
            &pod,
            &[],
            "node-1",
            "cluster.local",
            &node_hosts_path,
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&files.hosts).unwrap(),
            "# Kubernetes-managed hosts file (host network).\n127.0.0.1\tlocalhost\n"
        );
        assert_eq!(
            std::fs::read_to_string(&files.hostname).unwrap(),
            "node-1\n"
        );
        assert_eq!(files.hosts, dir.path().join("uid-1").join(HOSTS_FILE));
    }
}
