//! Service validation.

use super::{immutable, names, port_number};
use crate::status::Cause;
use serde_json::{Value, json};
use std::collections::HashSet;

/// Validates a Service.
pub fn service(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if !types.contains(&kind) {
        causes.push(Cause::not_supported("spec.type", &json!(kind), &types));
    }
    let ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    if ports.is_empty() && kind != "ExternalName" && !headless {
        causes.push(Cause::required("spec.ports", ""));
    }
    let mut seen = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let field = format!("spec.ports[{i}]");
        match p.get("name").and_then(Value::as_str) {
            None | Some("") if ports.len() > 1 => {
                causes.push(Cause::required(format!("{field}.name"), ""))
            }
            None | Some("") => {}
            Some(n) => {
                for why in names::dns1123_label(n) {
                    causes.push(Cause::invalid(format!("{field}.name"), &json!(n), why));
                }
                if !seen.insert(n.to_string()) {
                    causes.push(Cause::duplicate(format!("{field}.name"), &json!(n)));
                }
            }
        }
        port_number(
            p.get("port").unwrap_or(&Value::Null),
            &format!("{field}.port"),
            &mut causes,
        );
        if let Some(n) = p
            .get("nodePort")
            .filter(|n| n.as_i64().is_some_and(|n| n != 0))
        {
            match kind {
                "NodePort" | "LoadBalancer" => {
                    port_number(n, &format!("{field}.nodePort"), &mut causes)
                }
                _ => causes.push(Cause::forbidden(
                    format!("{field}.nodePort"),
                    format!("may not be used when `type` is '{kind}'"),
                )),
            }
        }
        if let Some(t) = p.get("targetPort").filter(|t| t.is_number()) {
            port_number(t, &format!("{field}.targetPort"), &mut causes);
        }
        if let Some(proto) = p.get("protocol") {
            let ok = ["SCTP", "TCP", "UDP"];
            if !proto.as_str().is_some_and(|s| ok.contains(&s)) {
                causes.push(Cause::not_supported(
                    format!("{field}.protocol"),
                    proto,
                    &ok,
                ));
            }
        }
    }
    causes.extend(names::labels(spec.get("selector"), "spec.selector"));
    // As ValidateService, whose field path keeps the Go field's spelling here.
    let ranges = spec
        .get("loadBalancerSourceRanges")
        .and_then(Value::as_array);
    if let Some(ranges) = ranges.filter(|r| !r.is_empty()) {
        let field = "spec.LoadBalancerSourceRanges";
        if kind != "LoadBalancer" {
            causes.push(Cause::forbidden(
                field,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            // Space-padded values pass, as Kubernetes allows for historical reasons.
            if !r.as_str().is_some_and(|v| is_cidr(v.trim())) {
                causes.push(Cause::invalid(
                    format!("{field}[{i}]"),
                    r,
                    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                ));
            }
        }
    }
    let health = spec
        .get("healthCheckNodePort")
        .filter(|p| p.as_i64() != Some(0) && !p.is_null());
    if let Some(p) = health {
        match needs_health_check(&spec) {
            false => causes.push(Cause::invalid(
                "spec.healthCheckNodePort",
                p,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            )),
            true => port_number(p, "spec.healthCheckNodePort", &mut causes),
        }
    }
    if old.and_then(|o| o.pointer("/spec/clusterIP")).is_some() {
        causes.extend(immutable(obj, old, "/spec/clusterIP", "spec.clusterIPs[0]"));
    }
    causes
}

/// Whether a Service's spec needs a health check node port (kube-proxy answers on it how
/// many of its endpoints this node has): a LoadBalancer with `externalTrafficPolicy: Local`.
pub fn needs_health_check(spec: &Value) -> bool {
    spec.get("type").and_then(Value::as_str) == Some("LoadBalancer")
        && spec.get("externalTrafficPolicy").and_then(Value::as_str) == Some("Local")
}

/// `a.b.c.d/n` or an IPv6 address with a prefix of at most 128.
fn is_cidr(s: &str) -> bool {
    let Some((ip, prefix)) = s.split_once('/') else {
        return false;
    };
    let max = match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => 32,
        Ok(std::net::IpAddr::V6(_)) => 128,
        Err(_) => return false,
    };
    !prefix.is_empty()
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && prefix.parse::<u8>().is_ok_and(|p| p <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_checked() {
        assert_eq!(service(&json!({"spec": {}}), None)[0].field, "spec.ports");
        let two = json!({"spec": {"ports": [{"port": 80}, {"port": 81}]}});
        assert_eq!(service(&two, None).len(), 2);
        let bad = json!({"spec": {"ports": [{"port": 0}]}});
        assert_eq!(service(&bad, None)[0].field, "spec.ports[0].port");
    }

    #[test]
    fn source_ranges_are_cidrs_of_load_balancers_only() {
        let lb = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}],
            "loadBalancerSourceRanges": ["10.0.0.0/8", " 192.0.2.0/24 ", "2001:db8::/64"]}});
        assert!(service(&lb, None).is_empty());
        let bad = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}],
            "loadBalancerSourceRanges": ["10.0.0.0", "10.0.0.0/33"]}});
        let fields: Vec<_> = service(&bad, None).into_iter().map(|c| c.field).collect();
        assert_eq!(
            fields,
            [
                "spec.LoadBalancerSourceRanges[0]",
                "spec.LoadBalancerSourceRanges[1]"
            ]
        );
        let cluster = json!({"spec": {"ports": [{"port": 80}],
            "loadBalancerSourceRanges": ["10.0.0.0/8"]}});
        assert_eq!(
            service(&cluster, None)[0].field,
            "spec.LoadBalancerSourceRanges"
        );
    }

    #[test]
    fn a_health_check_node_port_belongs_to_a_local_load_balancer_only() {
        let local = json!({"spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 31000, "ports": [{"port": 80}]}});
        assert!(service(&local, None).is_empty());
        let cluster = json!({"spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Cluster",
            "healthCheckNodePort": 31000, "ports": [{"port": 80}]}});
        let causes = service(&cluster, None);
        assert_eq!(causes[0].field, "spec.healthCheckNodePort");
        assert!(
            causes[0].message.contains("may only be set when"),
            "{causes:?}"
        );
    }
}
