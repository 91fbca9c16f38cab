//! Web pods that serve their own name, and requests to them: from the host and from a pod.

use std::collections::BTreeSet;

use krust_e2e::Cluster;

use super::http_get_at;

/// What `web`'s pods serve: their own name.
pub const SERVE_HOSTNAME: &str = "mkdir -p /www && hostname > /www/index.html && touch /www/ready && exec httpd -f -p 8080 -h /www";

/// The body of `GET /index.html` at `host:port` from the host, trimmed ("" when nothing
/// answered).
pub fn from_host(host: &str, port: u16) -> String {
    let answer =
        std::panic::catch_unwind(|| http_get_at(host, port, "/index.html")).unwrap_or_default();
    answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The bodies of `n` GETs of `host:port` from inside `pod` (one line each).
pub fn from_pod(c: &Cluster, pod: &str, host: &str, port: u16, n: usize) -> Vec<String> {
    // busybox's wget is static glibc, whose service lookup crashes without NSS: plain nc.
    let script = format!(
        r"for i in $(seq {n}); do printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc -w 5 {host} {port} | tail -n 1; echo; done"
    );
    let out = c.kubectl(&["exec", pod, "--", "sh", "-c", &script]);
    out.stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The names of the pods labelled `app=<app>`.
pub fn pod_names(c: &Cluster, app: &str) -> BTreeSet<String> {
    c.pods(&format!("app={app}")).into_keys().collect()
}

/// Whether `n` GETs from the host reach exactly the pods `want`.
pub fn host_reaches(host: &str, port: u16, n: usize, want: &BTreeSet<String>) -> bool {
    let got: BTreeSet<String> = (0..n).map(|_| from_host(host, port)).collect();
    &got == want
}
