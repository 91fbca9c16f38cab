//! NodePorts: the pod's host ports must be free on the node.

use super::{Failure, Plugin};
use crate::cache::NodeInfo;
use crate::podinfo::PodInfo;

pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Option<Failure> {
    pod.host_ports
        .iter()
        .any(|want| node.ports.iter().any(|used| used.conflicts(want)))
        .then(|| Failure::resolvable(Plugin::NodePorts, REASON))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::podinfo::HostPort;
    use crate::testing::{info, pod};

    fn port(ip: &str, protocol: &str, port: i32) -> HostPort {
        HostPort {
            ip: ip.into(),
            protocol: protocol.into(),
            port,
        }
    }

    #[test]
    fn host_port_conflicts() {
        let node = NodeInfo {
            ports: vec![port("10.0.0.1", "TCP", 80)],
            ..Default::default()
        };
        let mut p = info(&pod("p", "", ""));
        assert!(filter(&p, &node).is_none());
        p.host_ports = vec![port("0.0.0.0", "TCP", 80)];
        assert_eq!(filter(&p, &node).unwrap().reasons, [REASON]);
        p.host_ports = vec![port("10.0.0.2", "TCP", 80)];
        assert!(filter(&p, &node).is_none());
        p.host_ports = vec![port("10.0.0.1", "UDP", 80)];
        assert!(filter(&p, &node).is_none());
        p.host_ports = vec![port("10.0.0.1", "TCP", 81)];
        assert!(filter(&p, &node).is_none());
    }
}
