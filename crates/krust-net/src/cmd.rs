//! The host tools the pod network drives: iproute2's `ip` (links, addresses, routes; `-batch`
//! so that one process does all of a step) and `bridge` (a VXLAN device's forwarding
//! database), `nft` (one atomic script), `conntrack` (stale UDP
//! flows) and `/proc/sys/net` switches. Each runs in the calling thread's network namespace
//! (see `netns.rs`).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// Runs `ip -batch -` with `lines`; stops at the first line that fails.
pub(crate) fn ip_batch(lines: &[String]) -> Result<()> {
    run_with_input("ip", &["-batch", "-"], &lines.join("\n"), || {
        lines.join("; ")
    })
    .map(drop)
}

/// Runs `ip -force -batch -` with `lines`: every line is tried, failures are ignored (for
/// removals of what may already be gone).
pub(crate) fn ip_batch_forced(lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    if let Err(why) = run_with_input("ip", &["-force", "-batch", "-"], &lines.join("\n"), || {
        lines.join("; ")
    }) {
        tracing::debug!(%why, "some removals found nothing to remove");
    }
}

/// Runs `ip -force -batch -` with `lines`: every line is tried; the error names the lines
/// that failed (their `ip` messages), after all the others were done.
pub(crate) fn ip_batch_all(lines: &[String]) -> Result<()> {
    batch_all("ip", lines)
}

/// Runs `bridge -force -batch -` with `lines`, as [`ip_batch_all`].
pub(crate) fn bridge_batch_all(lines: &[String]) -> Result<()> {
    batch_all("bridge", lines)
}

/// Runs `bridge -force -batch -` with `lines`, ignoring failures (as [`ip_batch_forced`]).
pub(crate) fn bridge_batch_forced(lines: &[String]) {
    if let Err(why) = batch_all("bridge", lines) {
        tracing::debug!(%why, "some removals found nothing to remove");
    }
}

fn batch_all(program: &'static str, lines: &[String]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    run_with_input(
        program,
        &["-force", "-batch", "-"],
        &lines.join("\n"),
        || lines.join("; "),
    )
    .map(drop)
}

/// Runs `bridge` with `args` and returns what it printed.
pub(crate) fn bridge(args: &[&str]) -> Result<String> {
    run_with_input("bridge", args, "", || args.join(" "))
}

/// Runs `ip` with `args` and returns what it printed.
pub(crate) fn ip(args: &[&str]) -> Result<String> {
    run_with_input("ip", args, "", || args.join(" "))
}

/// Runs `nft -f -` with `script` (one transaction: all of it or nothing).
pub(crate) fn nft(script: &str) -> Result<()> {
    run_with_input("nft", &["-f", "-"], script, || {
        script.lines().next().unwrap_or_default().to_string()
    })
    .map(drop)
}

/// `nft list tables`: one `table FAMILY NAME` line per table.
pub(crate) fn nft_list_tables() -> Result<String> {
    run_with_input("nft", &["list", "tables"], "", || "list tables".to_string())
}

/// Forgets the tracked UDP flows to local port `port`, so that datagrams a client kept
/// sending before a hostPort existed are DNATed now instead of following their old,
/// un-NATed flow (the kubelet's hostport manager and the portmap plugin do the same). Best
/// effort: without the `conntrack` tool (Debian's `conntrack`) such a client waits for its
/// flow to time out.
pub(crate) fn forget_udp_flows(port: u16) {
    let port = port.to_string();
    let args = ["-D", "-p", "udp", "--orig-port-dst", &port];
    // It fails when no flow matched; that is fine.
    if let Err(Error::Io { source, .. }) = run_with_input("conntrack", &args, "", String::new) {
        tracing::debug!(%source, "cannot run conntrack: stale UDP flows stay until they expire");
    }
}

/// Forgets the tracked UDP flows DNATed to `ip` (a Service's endpoint that went away), so
/// their clients' next datagrams pick a live endpoint, as kube-proxy's conntrack cleanup does.
/// Best effort, as [`forget_udp_flows`].
pub(crate) fn forget_udp_flows_to(ip: &str) {
    let args = ["-D", "-p", "udp", "--dst-nat", ip];
    if let Err(Error::Io { source, .. }) = run_with_input("conntrack", &args, "", String::new) {
        tracing::debug!(%source, "cannot run conntrack: stale UDP flows stay until they expire");
    }
}

/// Sets the network sysctl `key` (`ipv4/ip_forward`) to `value` in this thread's namespace.
pub(crate) fn sysctl(key: &str, value: &str) -> Result<()> {
    // /proc/sys/net is the namespace of the thread that opens it.
    let path = format!("/proc/sys/net/{key}");
    std::fs::write(&path, value).map_err(Error::io(format!("writing {path}")))
}

/// Runs `program` with `args`, `input` on its stdin; its stdout, or its stderr as the error.
fn run_with_input(
    program: &'static str,
    args: &[&str],
    input: &str,
    what: impl FnOnce() -> String,
) -> Result<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(Error::io(format!("running {program}")))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(input.as_bytes())
        .map_err(Error::io(format!("writing to {program}")))?;
    drop(stdin);
    let out = child
        .wait_with_output()
        .map_err(Error::io(format!("running {program}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Command {
            program,
            what: what(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Whether a failed command said that what it was adding is already there.
pub(crate) fn already_exists(err: &Error) -> bool {
    matches!(err, Error::Command { stderr, .. } if stderr.contains("File exists"))
}
