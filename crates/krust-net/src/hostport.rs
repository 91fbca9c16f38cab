//! hostPorts by nftables DNAT, as the CNI `portmap` plugin does them with iptables and
//! kube-proxy's nftables mode writes its table: krust's own table (`ip krust-hostport-<bridge>`)
//! holds two maps, protocol and port (and the node address, for a hostPort bound to one) to
//! the pod's address and port, consulted for packets to any local address, arriving
//! (`prerouting`) or sent from the node itself (`output`, so 127.0.0.1 and the node's
//! addresses work there too).
//!
//! Two masquerades, both only towards the bridge: a connection from 127.0.0.1 gets the
//! bridge's address as source (the pod could not answer 127.0.0.1; the bridge has
//! `route_localnet` so the DNATed packet may be routed at all), and a pod reaching a hostPort
//! that lands on a pod of this bridge (itself included: hairpin) gets it too, so the answer
//! comes back through the node and is un-NATed. Nothing else is masqueraded; traffic to the
//! outside world keeps its pod address.
//!
//! `route_localnet` would also let a crafted packet from a pod reach what listens on the
//! node's loopback (kube-proxy's CVE-2020-8558), so the table's `input` chain drops new
//! connections to 127.0.0.0/8 arriving from the bridge, as kube-proxy's fix does.
//!
//! The whole table is written in one `nft -f` transaction from the stored allocations every
//! time a pod's hostPorts change (the table is dropped and written again, atomically), so
//! the kernel's rules are always exactly the allocations, also after an agent restart.

use std::fmt::Write;

use crate::config::NetworkConfig;
use crate::ipam::Ipam;

/// The name of krust's hostPort table for a bridge.
pub(crate) fn table_name(bridge: &str) -> String {
    format!("krust-hostport-{bridge}")
}

/// The `nft -f` script that replaces the table with one holding the hostPorts of `ipam`.
pub(crate) fn script(config: &NetworkConfig, ipam: &Ipam) -> String {
    let table = table_name(&config.bridge);
    let (mut any, mut bound) = (Vec::new(), Vec::new());
    for (_, pod) in ipam.pods() {
        for hp in &pod.host_ports {
            let (proto, port, to) = (hp.protocol.as_str(), hp.host_port, hp.container_port);
            match hp.bound_ip() {
                Some(node) => bound.push(format!("{node} . {proto} . {port} : {} . {to}", pod.ip)),
                None => any.push(format!("{proto} . {port} : {} . {to}", pod.ip)),
            }
        }
    }
    let elements = |list: &[String]| match list.is_empty() {
        true => String::new(),
        false => format!("elements = {{ {} }}", list.join(", ")),
    };
    let bridge = &config.bridge;
    let pods = config.pod_cidr;
    let mut s = String::new();
    let _ = writeln!(s, "table ip {table}\ndelete table ip {table}");
    let _ = write!(
        s,
        r#"table ip {table} {{
  map hostports {{ type inet_proto . inet_service : ipv4_addr . inet_service; {any} }}
  map hostports_bound {{ type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; {bound} }}
  chain hostports {{
    dnat ip to ip daddr . meta l4proto . th dport map @hostports_bound
    dnat ip to meta l4proto . th dport map @hostports
  }}
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local jump hostports
  }}
  chain output {{
    type nat hook output priority -100; policy accept;
    fib daddr type local jump hostports
  }}
  chain input {{
    type filter hook input priority filter; policy accept;
    iifname "{bridge}" ip daddr 127.0.0.0/8 ct state != {{ established, related }} drop
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "{bridge}" ip saddr 127.0.0.0/8 masquerade
    oifname "{bridge}" ip saddr {pods} ct status dnat masquerade
  }}
}}
"#,
        any = elements(&any),
        bound = elements(&bound),
    );
    s
}

/// The `nft -f` script that removes the table (whether it exists or not).
pub(crate) fn delete_script(bridge: &str) -> String {
    let table = table_name(bridge);
    format!("table ip {table}\ndelete table ip {table}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HostPort, Protocol};

    #[test]
    fn the_table_maps_each_host_port_to_its_pod_and_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = NetworkConfig::new("10.42.0.0/24".parse().unwrap(), dir.path());
        config.bridge = "krt-br".to_string();
        let mut ipam = Ipam::load(dir.path(), config.pod_cidr).unwrap();
        let web = HostPort {
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
            host_ip: None,
        };
        let dns = HostPort {
            host_port: 5353,
            container_port: 53,
            protocol: Protocol::Udp,
            host_ip: Some("192.0.2.1".parse().unwrap()),
        };
        ipam.allocate("a", &[web, dns]).unwrap();
        let s = script(&config, &ipam);
        assert!(s.starts_with(
            "table ip krust-hostport-krt-br\ndelete table ip krust-hostport-krt-br\n"
        ));
        assert!(
            s.contains("elements = { tcp . 8080 : 10.42.0.2 . 80 }"),
            "{s}"
        );
        assert!(
            s.contains("elements = { 192.0.2.1 . udp . 5353 : 10.42.0.2 . 53 }"),
            "{s}"
        );
        // Masquerade only towards the bridge: never to the outside world.
        let masquerades: Vec<&str> = s.lines().filter(|l| l.contains("masquerade")).collect();
        assert_eq!(
            masquerades,
            [
                r#"    oifname "krt-br" ip saddr 127.0.0.0/8 masquerade"#,
                r#"    oifname "krt-br" ip saddr 10.42.0.0/24 ct status dnat masquerade"#,
            ]
        );
    }
}
