//! Loopback helpers: echo listeners, free ports, a round trip through a port.

use crate::cluster::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub async fn echo_listener() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    port
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn echo_through(port: u16, text: &[u8]) -> Vec<u8> {
    let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut r, mut w) = s.into_split();
    let text = text.to_vec();
    let len = text.len();
    let writer = tokio::spawn(async move { w.write_all(&text).await.unwrap() });
    let mut got = vec![0u8; len];
    tokio::time::timeout(KUBECTL_TIMEOUT, r.read_exact(&mut got))
        .await
        .expect("the echo in time")
        .unwrap();
    writer.await.unwrap();
    got
}
