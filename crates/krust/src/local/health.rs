//! What `krust start` waits for and `krust status` reports: the API server ready
//! (`/readyz`), the nodes Ready, and the cluster DNS answering at the kube-dns Service's
//! address (which also shows the service proxy programmed: the address is a ClusterIP).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use k8s_openapi::api::core::v1::{Node, Service};
use kube::Api;

use super::Settings;

/// How long one check may take.
const CHECK: Duration = Duration::from_secs(2);

/// How long one DNS query may wait for its answer (the server answers in well under 1 ms).
const DNS_TRY: Duration = Duration::from_millis(250);

/// Whether the API server answers `/readyz` with `ok`.
pub async fn apiserver_ready(client: &kube::Client) -> bool {
    let request = http::Request::get("/readyz").body(Vec::new());
    let Ok(request) = request else { return false };
    let answer = tokio::time::timeout(CHECK, client.request_text(request)).await;
    matches!(answer, Ok(Ok(body)) if body.trim() == "ok")
}

/// Whether every node of the profile is registered and Ready, with a heartbeat since `since`
/// when given (a restarted cluster's Nodes still show the Ready of the last run).
pub async fn nodes_ready(
    client: &kube::Client,
    settings: &Settings,
    since: Option<jiff::Timestamp>,
) -> bool {
    let nodes: Api<Node> = Api::all(client.clone());
    let Ok(Ok(list)) = tokio::time::timeout(CHECK, nodes.list(&Default::default())).await else {
        return false;
    };
    let ready = |n: &Node| {
        let conditions = n.status.as_ref().and_then(|s| s.conditions.as_ref());
        conditions.into_iter().flatten().any(|c| {
            let beat = c.last_heartbeat_time.as_ref().map(|t| t.0);
            c.type_ == "Ready" && c.status == "True" && since.is_none_or(|s| beat >= Some(s))
        })
    };
    let real_ready = !settings.real_node
        || list
            .items
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some(&settings.node_name) && ready(n));
    real_ready && list.items.iter().filter(|n| ready(n)).count() >= settings.nodes()
}

/// Whether the cluster DNS answers `kubernetes.default.svc.cluster.local` at the kube-dns
/// Service's cluster IP, asked only once the node's proxy routes the address to its `bridge`
/// (DESIGN.md's network safety: a query sent earlier could leave by the default route).
pub async fn dns_answers(client: &kube::Client, bridge: &str) -> bool {
    let services: Api<Service> = Api::namespaced(client.clone(), "kube-system");
    let Ok(Ok(kube_dns)) = tokio::time::timeout(CHECK, services.get("kube-dns")).await else {
        return false;
    };
    let ip = kube_dns.spec.and_then(|s| s.cluster_ip);
    let Some(ip) = ip.and_then(|ip| ip.parse::<IpAddr>().ok()) else {
        return false;
    };
    if !routed_to(ip, bridge).await {
        return false;
    }
    // A query sent before the proxy's rules lead the address to the server is lost: ask
    // again soon rather than wait long for it.
    let answer = tokio::time::timeout(DNS_TRY, resolve(SocketAddr::new(ip, 53))).await;
    matches!(answer, Ok(Ok(true)))
}

/// Whether the kernel's route to `ip` goes to `bridge` (`ip route get`).
async fn routed_to(ip: IpAddr, bridge: &str) -> bool {
    let out = tokio::process::Command::new("ip")
        .args(["-o", "route", "get", &ip.to_string()])
        .output()
        .await;
    out.is_ok_and(|o| {
        let route = String::from_utf8_lossy(&o.stdout);
        o.status.success() && route.contains(&format!(" dev {bridge} "))
    })
}

/// One A query over UDP: whether it got a NOERROR answer with an address.
async fn resolve(server: SocketAddr) -> anyhow::Result<bool> {
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    let name = Name::from_ascii("kubernetes.default.svc.cluster.local.")?;
    query.add_query(Query::query(name, RecordType::A));
    let socket = tokio::net::UdpSocket::bind(("0.0.0.0", 0)).await?;
    socket.send_to(&query.to_vec()?, server).await?;
    let mut buf = vec![0; 4096];
    let n = socket.recv(&mut buf).await?;
    let answer = Message::from_vec(&buf[..n])?;
    Ok(answer.metadata.id == query.metadata.id
        && answer.metadata.response_code == ResponseCode::NoError
        && !answer.answers.is_empty())
}
