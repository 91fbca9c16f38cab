//! NetworkPolicy validation, as Kubernetes' `pkg/apis/networking/validation`
//! (`ValidateNetworkPolicySpec`, `ValidateNetworkPolicyPort`, `ValidateNetworkPolicyPeer`,
//! `ValidateIPBlock`) writes its causes.

use std::net::IpAddr;

use super::names;
use crate::status::Cause;
use serde_json::{Value, json};

const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

/// Validates a NetworkPolicy.
pub fn network_policy(obj: &Value) -> Vec<Cause> {
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let mut causes = names::label_selector(spec.get("podSelector"), "spec.podSelector");
    for (direction, peers) in [("ingress", "from"), ("egress", "to")] {
        let rules = spec.get(direction).and_then(Value::as_array);
        for (i, rule) in rules.into_iter().flatten().enumerate() {
            let path = format!("spec.{direction}[{i}]");
            let ports = rule.get("ports").and_then(Value::as_array);
            for (j, port) in ports.into_iter().flatten().enumerate() {
                causes.extend(policy_port(port, &format!("{path}.ports[{j}]")));
            }
            let list = rule.get(peers).and_then(Value::as_array);
            for (j, peer) in list.into_iter().flatten().enumerate() {
                causes.extend(policy_peer(peer, &format!("{path}.{peers}[{j}]")));
            }
        }
    }
    let types = spec.get("policyTypes").and_then(Value::as_array);
    let types = types.map(Vec::as_slice).unwrap_or_default();
    if types.len() > 2 {
        // Go's `%#v` of the slice, as Kubernetes shows it.
        let shown: Vec<String> = types.iter().map(|t| t.to_string()).collect();
        causes.push(Cause {
            reason: "FieldValueInvalid",
            message: format!(
                "Invalid value: []networking.PolicyType{{{}}}: may not specify more than two policyTypes",
                shown.join(", ")
            ),
            field: "spec.policyTypes".into(),
        });
        return causes;
    }
    let allowed = ["Ingress", "Egress"];
    for (i, t) in types.iter().enumerate() {
        if !t.as_str().is_some_and(|t| allowed.contains(&t)) {
            causes.push(Cause::not_supported(
                format!("spec.policyTypes[{i}]"),
                t,
                &allowed,
            ));
        }
    }
    causes
}

/// `ValidateNetworkPolicyPort`.
fn policy_port(port: &Value, path: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let protocols = ["TCP", "UDP", "SCTP"];
    if let Some(p) = port.get("protocol").filter(|p| !p.is_null())
        && !p.as_str().is_some_and(|p| protocols.contains(&p))
    {
        causes.push(Cause::not_supported(
            format!("{path}.protocol"),
            p,
            &protocols,
        ));
    }
    let end = port.get("endPort").filter(|e| !e.is_null());
    match port.get("port").filter(|p| !p.is_null()) {
        Some(Value::String(name)) => {
            if let Some(end) = end {
                causes.push(Cause::invalid(
                    format!("{path}.endPort"),
                    end,
                    "may not be specified when `port` is non-numeric",
                ));
            }
            for why in names::port_name(name) {
                causes.push(Cause::invalid(format!("{path}.port"), &json!(name), why));
            }
        }
        Some(number) => {
            let n = number.as_i64().unwrap_or(0);
            if !(1..=65535).contains(&n) {
                causes.push(Cause::invalid(format!("{path}.port"), number, PORT_RANGE));
            }
            if let Some(end) = end {
                let e = end.as_i64().unwrap_or(0);
                if e < n {
                    // Kubernetes shows the port here, not the end port.
                    causes.push(Cause::invalid(
                        format!("{path}.endPort"),
                        number,
                        "must be greater than or equal to `port`",
                    ));
                }
                if !(1..=65535).contains(&e) {
                    causes.push(Cause::invalid(format!("{path}.endPort"), end, PORT_RANGE));
                }
            }
        }
        None => {
            if let Some(end) = end {
                causes.push(Cause::invalid(
                    format!("{path}.endPort"),
                    end,
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
    causes
}

/// `ValidateNetworkPolicyPeer`: one of the selectors (both together allowed), or an
/// ipBlock alone.
fn policy_peer(peer: &Value, path: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let present = |k: &str| peer.get(k).is_some_and(|v| !v.is_null());
    let mut count = 0;
    for selector in ["podSelector", "namespaceSelector"] {
        if present(selector) {
            count += 1;
            causes.extend(names::label_selector(
                peer.get(selector),
                &format!("{path}.{selector}"),
            ));
        }
    }
    if present("ipBlock") {
        count += 1;
        causes.extend(ip_block(&peer["ipBlock"], &format!("{path}.ipBlock")));
    }
    if count == 0 {
        causes.push(Cause::required(path, "must specify a peer"));
    } else if count > 1 && present("ipBlock") {
        causes.push(Cause::forbidden(
            path,
            "may not specify both ipBlock and another peer",
        ));
    }
    causes
}

/// `ValidateIPBlock`: a valid CIDR, and excepts that are strict subsets of it.
fn ip_block(block: &Value, path: &str) -> Vec<Cause> {
    let cidr = block
        .get("cidr")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if cidr.is_empty() {
        return vec![Cause::required(format!("{path}.cidr"), "")];
    }
    let mut causes = Vec::new();
    let Some(outer) = parse_cidr(cidr) else {
        return vec![invalid_cidr(&format!("{path}.cidr"), cidr)];
    };
    let excepts = block.get("except").and_then(Value::as_array);
    for (i, e) in excepts.into_iter().flatten().enumerate() {
        let field = format!("{path}.except[{i}]");
        let text = e.as_str().unwrap_or_default();
        let Some(inner) = parse_cidr(text) else {
            causes.push(invalid_cidr(&field, text));
            continue;
        };
        if !contains(outer, inner.0) || outer.1 >= inner.1 {
            causes.push(Cause::invalid(
                field,
                e,
                "must be a strict subset of `cidr`",
            ));
        }
    }
    causes
}

fn invalid_cidr(field: &str, value: &str) -> Cause {
    Cause::invalid(
        field,
        &json!(value),
        "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
    )
}

/// A CIDR as its network address (bits past the prefix cleared) and prefix length.
pub(crate) fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 3 {
        return None;
    }
    let len: u8 = len.parse().ok()?;
    let network = match ip {
        IpAddr::V4(v4) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::from((u32::from(v4) & mask).to_be_bytes())
        }
        IpAddr::V6(v6) if len <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::from((u128::from(v6) & mask).to_be_bytes())
        }
        _ => return None,
    };
    Some((network, len))
}

/// Whether the network `(net, len)` holds `ip`.
fn contains((net, len): (IpAddr, u8), ip: IpAddr) -> bool {
    match parse_cidr(&format!("{ip}/{len}")) {
        Some((masked, _)) => masked == net,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(spec: Value) -> Vec<String> {
        network_policy(&json!({"spec": spec}))
            .into_iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    #[test]
    fn a_valid_policy_has_no_causes() {
        let spec = json!({"podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{"from": [{"podSelector": {}, "namespaceSelector": {"matchLabels": {"a": "b"}}},
                                  {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                         "ports": [{"protocol": "TCP", "port": 80, "endPort": 90}, {"port": "http"}, {"protocol": "UDP"}]}],
            "egress": [{}], "policyTypes": ["Ingress", "Egress"]});
        assert_eq!(messages(spec), Vec::<String>::new());
    }

    #[test]
    fn bad_ports_get_kubernetes_messages() {
        let spec = json!({"podSelector": {}, "ingress": [{"ports": [
            {"protocol": "ICMP", "port": 80},
            {"port": 70000},
            {"port": 90, "endPort": 80},
            {"port": "http", "endPort": 90},
            {"endPort": 90},
            {"port": "Bad--"},
        ]}]});
        assert_eq!(
            messages(spec),
            [
                "spec.ingress[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
                "spec.ingress[0].ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.ingress[0].ports[2].endPort: Invalid value: 90: must be greater than or equal to `port`",
                "spec.ingress[0].ports[3].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
                "spec.ingress[0].ports[4].endPort: Invalid value: 90: may not be specified when `port` is not specified",
                "spec.ingress[0].ports[5].port: Invalid value: \"Bad--\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "spec.ingress[0].ports[5].port: Invalid value: \"Bad--\": must not contain consecutive hyphens",
                "spec.ingress[0].ports[5].port: Invalid value: \"Bad--\": must not begin or end with a hyphen",
            ]
        );
    }

    #[test]
    fn peers_need_one_kind_and_an_ip_block_stands_alone() {
        let spec = json!({"podSelector": {}, "egress": [{"to": [
            {},
            {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}},
            {"ipBlock": {"cidr": "10.0.0.0/33"}},
            {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.0.0/16", "10.1.0.0/24", "nope"]}},
            {"ipBlock": {}},
        ]}]});
        assert_eq!(
            messages(spec),
            [
                "spec.egress[0].to[0]: Required value: must specify a peer",
                "spec.egress[0].to[1]: Forbidden: may not specify both ipBlock and another peer",
                "spec.egress[0].to[2].ipBlock.cidr: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                "spec.egress[0].to[3].ipBlock.except[0]: Invalid value: \"10.0.0.0/16\": must be a strict subset of `cidr`",
                "spec.egress[0].to[3].ipBlock.except[1]: Invalid value: \"10.1.0.0/24\": must be a strict subset of `cidr`",
                "spec.egress[0].to[3].ipBlock.except[2]: Invalid value: \"nope\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                "spec.egress[0].to[4].ipBlock.cidr: Required value",
            ]
        );
    }

    #[test]
    fn selectors_and_policy_types_are_checked() {
        let spec = json!({"podSelector": {"matchExpressions": [
                {"key": "app", "operator": "In"},
                {"key": "bad key", "operator": "Exists", "values": ["x"]},
                {"key": "a", "operator": "Near", "values": ["x"]}]},
            "policyTypes": ["Ingress", "Sideways"]});
        assert_eq!(
            messages(spec),
            [
                "spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.podSelector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                "spec.podSelector.matchExpressions[1].key: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "spec.podSelector.matchExpressions[2].operator: Invalid value: \"Near\": not a valid selector operator",
                "spec.policyTypes[1]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"",
            ]
        );
        let three = json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress", "Ingress"]});
        assert_eq!(
            messages(three),
            [
                "spec.policyTypes: Invalid value: []networking.PolicyType{\"Ingress\", \"Egress\", \"Ingress\"}: may not specify more than two policyTypes"
            ]
        );
    }

    #[test]
    fn cidrs_parse_as_networks() {
        assert_eq!(
            parse_cidr("10.1.2.3/16"),
            Some(("10.1.0.0".parse().unwrap(), 16))
        );
        assert_eq!(parse_cidr("::1/128").map(|c| c.1), Some(128));
        assert_eq!(parse_cidr("10.0.0.0"), None);
        assert_eq!(parse_cidr("10.0.0.0/+8"), None);
    }
}
