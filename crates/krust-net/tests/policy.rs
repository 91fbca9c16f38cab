//! NetworkPolicy enforcement on a node whose "host" is a network namespace: an isolated pod
//! admits only the pods a policy names (a dropped SYN times out; an admitted one meets a
//! closed port and is refused), the node itself always reaches it, a policy change is
//! followed, and stopping removes the table.

mod support;

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use krust_net::PodNetwork;
use krust_net::policy::{PolicyConfig, PolicyEnforcer};
use serde_json::json;
use support::{Netns, Node, tcp_send};

fn pod(name: &str, ip: &str, role: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "labels": {"role": role}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running", "podIP": ip}
    }))
    .unwrap()
}

fn policy(from_role: &str) -> NetworkPolicy {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"podSelector": {"matchLabels": {"role": "web"}},
                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": from_role}}}]}]}
    }))
    .unwrap()
}

/// Whether a connection from `ns` to `to`'s port 9 (nothing listens) gets through the
/// policies: refused means it reached the pod, a timeout that it was dropped.
fn admitted(ns: &Netns, to: &str) -> bool {
    let to = SocketAddr::from((to.parse::<Ipv4Addr>().unwrap(), 9));
    match tcp_send(ns, to, "x") {
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => true,
        Err(e) if e.kind() == ErrorKind::TimedOut => false,
        other => panic!("to {to}: {other:?}"),
    }
}

#[tokio::test]
async fn an_isolated_pod_admits_only_what_a_policy_allows_and_the_node_always() {
    let node = Node::new("np");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let (web, client, other) = (Netns::new("npw"), Netns::new("npc"), Netns::new("npo"));
    net.attach("web", &web.path, &[]).await.unwrap(); // 10.42.0.2
    net.attach("client", &client.path, &[]).await.unwrap(); // 10.42.0.3
    net.attach("other", &other.path, &[]).await.unwrap(); // 10.42.0.4
    let pods = [
        pod("web", "10.42.0.2", "web"),
        pod("client", "10.42.0.3", "client"),
        pod("other", "10.42.0.4", "other"),
    ];
    let namespaces: [Namespace; 1] =
        [serde_json::from_value(json!({"metadata": {"name": "default"}})).unwrap()];
    let enforcer = PolicyEnforcer::start(PolicyConfig {
        bridge: node.config.bridge.clone(),
        node_name: "n1".into(),
        host_netns: node.config.host_netns.clone(),
    })
    .await
    .unwrap();
    assert!(enforcer.sync([], &pods, &namespaces).await.unwrap().full);
    assert!(admitted(&other, "10.42.0.2"));

    let from_client = policy("client");
    enforcer
        .sync([&from_client], &pods, &namespaces)
        .await
        .unwrap();
    assert!(admitted(&client, "10.42.0.2"));
    assert!(!admitted(&other, "10.42.0.2"));
    assert!(
        admitted(&node.host, "10.42.0.2"),
        "the node reaches its pods"
    );
    assert!(admitted(&web, "10.42.0.4"), "web's egress is not isolated");

    // The policy changes: the other pod in, the client out; nothing changed writes nothing.
    let from_other = policy("other");
    let synced = enforcer
        .sync([&from_other], &pods, &namespaces)
        .await
        .unwrap();
    assert!(!synced.full && synced.lines > 0);
    assert!(admitted(&other, "10.42.0.2"));
    assert!(!admitted(&client, "10.42.0.2"));
    let again = enforcer.sync([&from_other], &pods, &namespaces).await;
    assert_eq!(again.unwrap().lines, 0);

    enforcer.stop().await.unwrap();
    let (_, tables) = node.host.nft(&["list", "tables"]);
    assert!(!tables.contains("krust-policy-krt-br0"), "{tables}");
    assert!(admitted(&client, "10.42.0.2"));
}
