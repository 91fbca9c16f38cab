//! TCP socket probes, the prober's `tcpprobe`: success when a connection to the port
//! opens within the timeout; it is closed at once.

use std::net::IpAddr;
use std::time::Duration;

use tokio::net::TcpStream;

/// Connects to `host:port`; `Ok` with nothing to say, or the dial error.
pub async fn run(host: IpAddr, port: u16, timeout: Duration) -> Result<String, String> {
    let addr = std::net::SocketAddr::new(host, port);
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(String::new()),
        Ok(Err(e)) => Err(format!("dial tcp {addr}: connect: {e}")),
        Err(_) => Err(format!("dial tcp {addr}: i/o timeout")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listening_port_passes_and_a_closed_one_fails() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let host: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(run(host, port, Duration::from_secs(1)).await.is_ok());
        drop(listener);
        let err = run(host, port, Duration::from_secs(1)).await.unwrap_err();
        assert!(err.starts_with("dial tcp 127.0.0.1:"), "{err}");
    }
}
