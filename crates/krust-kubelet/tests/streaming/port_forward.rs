//! `kubectl port-forward`: two ports at once, over WebSocket-tunnelled and plain SPDY.

use crate::cluster::*;
use crate::net::*;
use std::process::Stdio;
use tokio::io::AsyncBufReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_port_forward_carries_two_ports_to_the_pod() {
    port_forward_two_ports(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_port_forward_over_plain_spdy_carries_two_ports() {
    port_forward_two_ports(false).await;
}

async fn port_forward_two_ports(websockets: bool) {
    let c = Cluster::start().await;
    let (p1, p2) = (echo_listener().await, echo_listener().await);
    let (l1, l2) = (free_port(), free_port());
    let mut child = c
        .kubectl(&[
            "port-forward",
            &format!("pod/{POD}"),
            "--address=127.0.0.1",
            &format!("{l1}:{p1}"),
            &format!("{l2}:{p2}"),
        ])
        .env("KUBECTL_PORT_FORWARD_WEBSOCKETS", websockets.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..2 {
        let line = tokio::time::timeout(KUBECTL_TIMEOUT, lines.next_line())
            .await
            .expect("kubectl forwards in time")
            .unwrap()
            .expect("a Forwarding line");
        assert!(line.starts_with("Forwarding from 127.0.0.1:"), "{line}");
    }
    assert_eq!(echo_through(l1, b"first port").await, b"first port");
    assert_eq!(echo_through(l2, b"second port").await, b"second port");
    // A second connection on the same port.
    assert_eq!(echo_through(l1, b"again").await, b"again");
    // More than SPDY's initial 64 KiB window, both ways at once.
    let big: Vec<u8> = (0..(4u32 << 20)).map(|i| (i % 251) as u8).collect();
    assert!(
        echo_through(l2, &big).await == big,
        "4 MiB came back changed"
    );
    child.kill().await.unwrap();
}
