//! DESIGN.md's network-safety routes on a real node: the cluster's pod range and the service
//! range are routed `unreachable` before any pod gets an address, so a packet for a cluster
//! address that no bridge, tunnel or DNAT rule takes fails at once ("no route to host")
//! instead of leaving by the default route. The node's own podCIDR, more specific, goes to the
//! bridge (the kernel's route of the bridge's address), and so does any more specific route
//! someone else installs (another node's range over a tunnel). The `unreachable` routes have
//! the largest metric ([`METRIC`]), so a route for the very same range wins too: a node whose
//! podCIDR is the whole cluster range (one node, `--cluster-cidr` a /24) reaches its pods.
//!
//! The conventions are those of the sim nodes' `krust-kubelet/src/sim/routes.rs`: added with
//! `ip route add … proto 107`, never replacing a route that is there already: someone else's
//! route for the same range is left alone (and not removed on teardown), one krust left
//! behind (`proto 107`) is taken over.

use krust_api::cidr::Cidr;

use crate::cmd::{already_exists, ip, ip_batch_forced};
use crate::error::Result;

/// The routing protocol number krust marks its routes with (`proto 107` in `ip route`).
pub(crate) const PROTO: &str = "107";

/// The metric of the safety routes: behind any route for the same range (the kernel's route
/// of a bridge whose podCIDR is the whole cluster range, on a one-node cluster), ahead of the
/// default route, which is less specific.
pub(crate) const METRIC: &str = "1071";

/// Routes each of `ranges` `unreachable` unless a route for that very range exists; returns
/// the ranges whose route krust holds (added now, or left by an earlier krust).
pub(crate) fn hold_unreachable(ranges: &[Cidr]) -> Result<Vec<Cidr>> {
    let mut held = Vec::new();
    for range in ranges {
        let cidr = range.to_string();
        let existing = ip(&["route", "show", "exact", &cidr])?;
        let ours = existing
            .lines()
            .any(|l| l.starts_with("unreachable") && l.contains(&format!("proto {PROTO}")));
        if ours {
            held.push(*range);
        } else if !existing.trim().is_empty() {
            tracing::debug!(%cidr, "cluster range already routed on this host");
        } else {
            match ip(&[
                "route",
                "add",
                "unreachable",
                &cidr,
                "proto",
                PROTO,
                "metric",
                METRIC,
            ]) {
                Ok(_) => held.push(*range),
                Err(e) if already_exists(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(held)
}

/// Removes the `unreachable` routes of `ranges` that krust holds.
pub(crate) fn release(ranges: &[Cidr]) {
    let lines: Vec<String> = ranges
        .iter()
        .map(|r| format!("route del unreachable {r} proto {PROTO}"))
        .collect();
    ip_batch_forced(&lines);
}
