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
            port_number(n, &format!("{field}.nodePort"), &mut causes);
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
    if old.and_then(|o| o.pointer("/spec/clusterIP")).is_some() {
        causes.extend(immutable(obj, old, "/spec/clusterIP", "spec.clusterIPs[0]"));
    }
    causes
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
}
