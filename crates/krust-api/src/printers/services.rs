//! Printers for services, endpoints and endpoint slices.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::Value;

use super::Column;
use super::docs;
use super::util::{
    AGE_COL, NAME_COL, age_cell, arr_at, col, get, int_at, list_with_more, name_cell, obj_at,
    str_at,
};
use crate::selectors::format_labels;

pub(super) const SERVICE_COLUMNS: &[Column] = &[
    NAME_COL,
    col("Type", docs::SVC_TYPE, 0),
    col("Cluster-IP", docs::SVC_CLUSTER_IP, 0),
    col("External-IP", docs::SVC_EXTERNAL_IPS, 0),
    col("Port(s)", docs::SVC_PORTS, 0),
    AGE_COL,
    col("Selector", docs::SVC_SELECTOR, 1),
];

pub(super) const ENDPOINTS_COLUMNS: &[Column] = &[
    NAME_COL,
    col("Endpoints", docs::ENDPOINTS_SUBSETS, 0),
    AGE_COL,
];

pub(super) const SLICE_COLUMNS: &[Column] = &[
    NAME_COL,
    col("AddressType", docs::SLICE_ADDRESS_TYPE, 0),
    col("Ports", docs::SLICE_PORTS, 0),
    col("Endpoints", docs::SLICE_ENDPOINTS, 0),
    AGE_COL,
];

/// How many entries the endpoint columns list before `+ N more...`.
const MAX_LISTED: usize = 3;

fn strings(v: &[Value]) -> Vec<String> {
    v.iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// `loadBalancerStatusStringer` with wide output (the server prints wide): the
/// ingress IPs or hostnames, sorted and de-duplicated.
fn load_balancer_ingress(svc: &Value) -> String {
    let set: BTreeSet<&str> = arr_at(svc, "status.loadBalancer.ingress")
        .iter()
        .map(|i| match str_at(i, "ip") {
            "" => str_at(i, "hostname"),
            ip => ip,
        })
        .filter(|s| !s.is_empty())
        .collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

/// `getServiceExternalIP`.
fn external_ip(svc: &Value, kind: &str) -> String {
    let external = strings(arr_at(svc, "spec.externalIPs"));
    match kind {
        "ClusterIP" | "NodePort" if !external.is_empty() => external.join(","),
        "ClusterIP" | "NodePort" => "<none>".into(),
        "LoadBalancer" => {
            let lb = load_balancer_ingress(svc);
            if !external.is_empty() {
                let mut all: Vec<String> = lb
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                all.extend(external);
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".into()
            }
        }
        "ExternalName" => str_at(svc, "spec.externalName").to_string(),
        _ => "<unknown>".into(),
    }
}

/// `makePortString`: `80/TCP`, or `80:30080/TCP` with a node port, joined by `,`.
fn port_string(svc: &Value) -> String {
    let ports: Vec<String> = arr_at(svc, "spec.ports")
        .iter()
        .map(|p| {
            let proto = match str_at(p, "protocol") {
                "" => "TCP",
                proto => proto,
            };
            match int_at(p, "nodePort") {
                np if np > 0 => format!("{}:{np}/{proto}", int_at(p, "port")),
                _ => format!("{}/{proto}", int_at(p, "port")),
            }
        })
        .collect();
    ports.join(",")
}

pub(super) fn service_cells(svc: &Value, now: Timestamp) -> Vec<Value> {
    // Stored services are defaulted; an absent type is ClusterIP.
    let kind = match str_at(svc, "spec.type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = match (
        str_at(svc, "spec.clusterIPs.0"),
        str_at(svc, "spec.clusterIP"),
    ) {
        ("", "") => "<none>",
        ("", ip) | (ip, _) => ip,
    };
    let ports = match port_string(svc) {
        p if p.is_empty() => "<none>".to_string(),
        p => p,
    };
    vec![
        name_cell(svc),
        Value::from(kind),
        Value::from(cluster_ip),
        Value::from(external_ip(svc, kind)),
        Value::from(ports),
        age_cell(svc, now),
        Value::from(format_labels(obj_at(svc, "spec.selector"))),
    ]
}

/// `net.JoinHostPort`.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `formatEndpoints` for all ports: up to three `ip:port` entries, then `+ N more...`;
/// `<none>` without subsets.
fn format_endpoints(ep: &Value) -> String {
    let subsets = arr_at(ep, "subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0;
    for ss in subsets {
        let addresses = arr_at(ss, "addresses");
        let ports = arr_at(ss, "ports");
        if ports.is_empty() {
            // Headless services may have no ports.
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX_LISTED {
                    more = true;
                    break;
                }
                list.push(str_at(a, "ip").to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX_LISTED {
                    more = true;
                    break;
                }
                list.push(join_host_port(str_at(a, "ip"), int_at(port, "port")));
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count - MAX_LISTED)
    } else {
        ret
    }
}

pub(super) fn endpoints_cells(ep: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(ep),
        Value::from(format_endpoints(ep)),
        age_cell(ep, now),
    ]
}

/// `formatDiscoveryPorts`: port numbers (or names, or `*`).
fn slice_ports(slice: &Value) -> String {
    let ports = arr_at(slice, "ports");
    let list: Vec<String> = ports
        .iter()
        .take(MAX_LISTED)
        .map(|p| {
            match (
                get(p, "port").and_then(Value::as_i64),
                get(p, "name").and_then(Value::as_str),
            ) {
                (Some(n), _) => n.to_string(),
                (None, Some(name)) => name.to_string(),
                (None, None) => "*".to_string(),
            }
        })
        .collect();
    list_with_more(&list, ports.len() > MAX_LISTED, ports.len(), MAX_LISTED)
}

/// `formatDiscoveryEndpoints`: the endpoints' addresses.
fn slice_endpoints(slice: &Value) -> String {
    let all: Vec<String> = arr_at(slice, "endpoints")
        .iter()
        .flat_map(|e| strings(arr_at(e, "addresses")))
        .collect();
    let list: Vec<String> = all.iter().take(MAX_LISTED).cloned().collect();
    list_with_more(&list, all.len() > MAX_LISTED, all.len(), MAX_LISTED)
}

pub(super) fn slice_cells(slice: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(slice),
        Value::from(str_at(slice, "addressType")),
        Value::from(slice_ports(slice)),
        Value::from(slice_endpoints(slice)),
        age_cell(slice, now),
    ]
}
