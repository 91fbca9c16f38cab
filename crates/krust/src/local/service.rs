//! `krust service NAME --url`: where a Service is reached from this host, as `minikube
//! service --url`: `http://<node ip>:<nodePort>` per port of a NodePort Service, and the
//! load balancer's address with the Service's port for a LoadBalancer Service that has one.

use k8s_openapi::api::core::v1::Service;
use kube::Api;

use super::{Profile, ProfileArg, ip};

/// Options of `krust service`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    profile: ProfileArg,
    /// The Service's name.
    name: String,
    /// Its namespace.
    #[arg(short, long, default_value = "default")]
    namespace: String,
    /// Print the URLs (the default: there is no browser to open them in).
    #[arg(long)]
    url: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let profile = Profile::named(&args.profile.name)?;
    let node_ip = ip::node_ip(&profile).await?;
    let services: Api<Service> = Api::namespaced(profile.client().await?, &args.namespace);
    let Some(service) = services.get_opt(&args.name).await? else {
        anyhow::bail!(
            "services {:?} not found in namespace {:?} (another namespace: -n NAMESPACE)",
            args.name,
            args.namespace
        );
    };
    for url in urls(&service, &node_ip)? {
        println!("{url}");
    }
    Ok(())
}

/// The URLs of a Service from this host; an error for one without node ports.
fn urls(service: &Service, node_ip: &str) -> anyhow::Result<Vec<String>> {
    let spec = service.spec.clone().unwrap_or_default();
    let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
    let ports = spec.ports.unwrap_or_default();
    let ingress = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .and_then(|i| i.first())
        .and_then(|i| i.ip.clone().or_else(|| i.hostname.clone()));
    let urls: Vec<String> = match (kind, ingress) {
        ("LoadBalancer", Some(address)) => ports
            .iter()
            .map(|p| format!("http://{address}:{}", p.port))
            .collect(),
        ("NodePort" | "LoadBalancer", _) => ports
            .iter()
            .filter_map(|p| p.node_port)
            .map(|port| format!("http://{node_ip}:{port}"))
            .collect(),
        _ => Vec::new(),
    };
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let namespace = service.metadata.namespace.as_deref().unwrap_or("default");
    anyhow::ensure!(
        !urls.is_empty(),
        "service {namespace}/{name} has no node port (type {kind}): expose it with `kubectl expose ... --type=NodePort` (or LoadBalancer)"
    );
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(yaml: serde_json::Value) -> Service {
        serde_json::from_value(yaml).unwrap()
    }

    #[test]
    fn a_node_port_service_is_reached_at_the_node_address() {
        let s = service(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}, {"port": 443, "nodePort": 30443}]},
        }));
        assert_eq!(
            urls(&s, "192.0.2.2").unwrap(),
            ["http://192.0.2.2:30080", "http://192.0.2.2:30443"]
        );
    }

    #[test]
    fn a_load_balancer_is_reached_at_its_ingress_and_port() {
        let s = service(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "nodePort": 30080}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.2"}]}},
        }));
        assert_eq!(urls(&s, "192.0.2.2").unwrap(), ["http://192.0.2.2:80"]);
    }

    #[test]
    fn a_cluster_ip_service_has_no_url() {
        let s = service(serde_json::json!({
            "metadata": {"name": "db", "namespace": "shop"},
            "spec": {"type": "ClusterIP", "ports": [{"port": 5432}]},
        }));
        let err = urls(&s, "192.0.2.2").unwrap_err().to_string();
        assert!(
            err.contains("shop/db has no node port (type ClusterIP)"),
            "{err}"
        );
    }
}
