//! Whether a TCP port is free, and which process listens on it when it is not (read from
//! `/proc/net/tcp{,6}` and the processes' open sockets, as `ss -ltnp` finds it).

use std::net::{Ipv4Addr, TcpListener};

/// `Ok` when `port` can be listened on on every address; else an error naming the port,
/// what it is for (`what`, e.g. "the API server") and the process using it.
pub fn ensure_free(port: u16, what: &str, flag: &str) -> anyhow::Result<()> {
    if port == 0 || TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok() {
        return Ok(());
    }
    let user = match listener(port) {
        Some((pid, name)) => format!(" by {name} (pid {pid})"),
        None => String::new(),
    };
    anyhow::bail!(
        "port {port}, {what}'s, is already in use{user}: stop that process, or choose another port with {flag}"
    )
}

/// The process (pid, name) listening on TCP `port`, if it can be found.
fn listener(port: u16) -> Option<(u32, String)> {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| listening_inodes(&t, port))
        .collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let link = link.to_string_lossy();
            if inodes.iter().any(|i| link == format!("socket:[{i}]")) {
                let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                return Some((pid, name.trim().to_string()));
            }
        }
    }
    None
}

/// The inodes of the sockets in LISTEN state (`0A`) on `port` in a `/proc/net/tcp` table.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    let port = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() > 9 && f[1].ends_with(&port) && f[3] == "0A").then(|| f[9].to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_named_with_the_process_listening_on_it() {
        let taken = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = ensure_free(port, "the API server", "--apiserver-port").unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("port {port}")), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("--apiserver-port"), "{text}");
    }

    #[test]
    fn listening_sockets_are_found_by_port_in_the_proc_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1\n   1: 0100007F:192B 0100007F:9999 01 00000000:00000000 00:00000000 00000000     0        0 4343 1\n";
        assert_eq!(listening_inodes(table, 6443), ["4242"]);
        assert!(listening_inodes(table, 6444).is_empty());
    }
}
