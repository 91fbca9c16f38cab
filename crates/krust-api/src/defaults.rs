//! Defaulting, as Kubernetes' `SetDefaults_*` functions and defaulting admission do it.

use serde_json::{Value, json};

fn default(obj: &mut Value, field: &str, value: Value) {
    if let Value::Object(m) = obj
        && m.get(field).is_none_or(Value::is_null)
    {
        m.insert(field.to_string(), value);
    }
}

fn object<'a>(obj: &'a mut Value, field: &str) -> &'a mut Value {
    default(obj, field, json!({}));
    &mut obj[field]
}

/// `Always` for `:latest` or untagged images, `IfNotPresent` otherwise.
pub fn image_pull_policy(image: &str) -> &'static str {
    let name = image.split('@').next().unwrap_or(image);
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        _ if image.contains('@') => "IfNotPresent",
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn container(c: &mut Value) {
    let image = c
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    default(c, "imagePullPolicy", json!(image_pull_policy(&image)));
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    default(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            default(p, "protocol", json!("TCP"));
        }
    }
}

/// Pod spec defaults (also applied to pod templates).
pub fn pod_spec(spec: &mut Value) {
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "securityContext", json!({}));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "enableServiceLinks", json!(true));
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            cs.iter_mut().for_each(container);
        }
    }
}

fn template(spec: &mut Value) {
    if let Some(t) = spec.get_mut("template") {
        object(t, "metadata");
        pod_spec(object(t, "spec"));
    }
}

/// The tolerations the DefaultTolerationSeconds admission plugin adds to every pod.
fn default_tolerations(spec: &mut Value) {
    let tolerations = spec
        .as_object_mut()
        .map(|m| m.entry("tolerations").or_insert_with(|| json!([])));
    let Some(Value::Array(list)) = tolerations else {
        return;
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let has = list.iter().any(|t| {
            t.get("key").and_then(Value::as_str) == Some(key)
                && t.get("effect")
                    .and_then(Value::as_str)
                    .is_none_or(|e| e == "NoExecute")
        });
        if !has {
            list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
}

/// The QoS class of a pod spec: Guaranteed, Burstable or BestEffort.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = spec
        .get("containers")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in &containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        any |= requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty());
        let full = |m: Option<&serde_json::Map<String, Value>>| {
            m.is_some_and(|m| m.contains_key("cpu") && m.contains_key("memory"))
        };
        let equal = requests.is_none_or(|r| {
            r.iter()
                .all(|(k, v)| limits.and_then(|l| l.get(k)) == Some(v))
        });
        guaranteed &= full(limits) && equal;
    }
    match (guaranteed, any) {
        (true, _) => "Guaranteed",
        (false, true) => "Burstable",
        (false, false) => "BestEffort",
    }
}

/// Applies creation defaults to an object of `kind` (as stored: `apiVersion` and `kind` set).
pub fn on_create(kind: &str, obj: &mut Value) {
    match kind {
        "Pod" => {
            let spec = object(obj, "spec");
            pod_spec(spec);
            default(spec, "serviceAccountName", json!("default"));
            default(spec, "priority", json!(0));
            default_tolerations(spec);
            let qos = qos_class(&obj["spec"]);
            let status = object(obj, "status");
            default(status, "phase", json!("Pending"));
            default(status, "qosClass", json!(qos));
        }
        "Namespace" => {
            let name = crate::meta::name(obj).to_string();
            let labels = object(object(obj, "metadata"), "labels");
            labels["kubernetes.io/metadata.name"] = json!(name);
            default(object(obj, "spec"), "finalizers", json!(["kubernetes"]));
            default(object(obj, "status"), "phase", json!("Active"));
        }
        "Secret" => default(obj, "type", json!("Opaque")),
        _ => {}
    }
    on_write(kind, obj);
}

/// Applies the defaults that hold on every write (create and update).
pub fn on_write(kind: &str, obj: &mut Value) {
    match kind {
        "Pod" => pod_spec(object(obj, "spec")),
        "Deployment" => {
            let spec = object(obj, "spec");
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "progressDeadlineSeconds", json!(600));
            let strategy = object(spec, "strategy");
            default(strategy, "type", json!("RollingUpdate"));
            if strategy["type"] == "RollingUpdate" {
                let ru = object(strategy, "rollingUpdate");
                default(ru, "maxUnavailable", json!("25%"));
                default(ru, "maxSurge", json!("25%"));
            }
            template(spec);
        }
        "ReplicaSet" => {
            let spec = object(obj, "spec");
            default(spec, "replicas", json!(1));
            template(spec);
        }
        "Service" => service(object(obj, "spec")),
        "Secret" => string_data(obj),
        "NetworkPolicy" => network_policy(object(obj, "spec")),
        _ => {}
    }
}

/// A Secret's `stringData` is written into `data` (base64), overriding its keys, and never
/// stored, as Kubernetes does.
fn string_data(obj: &mut Value) {
    use base64::Engine;
    let Some(Value::Object(strings)) = obj.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    let data = object(obj, "data");
    for (k, v) in strings {
        let text = v.as_str().unwrap_or_default();
        data[k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
}

/// `SetDefaults_NetworkPolicySpec` and `SetDefaults_NetworkPolicyPort`: without
/// `policyTypes`, `Ingress`, and `Egress` too when there are egress rules; ports are TCP
/// unless told.
fn network_policy(spec: &mut Value) {
    let empty = spec
        .get("policyTypes")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if empty && spec.is_object() {
        let egress = spec
            .get("egress")
            .and_then(Value::as_array)
            .is_some_and(|e| !e.is_empty());
        spec["policyTypes"] = match egress {
            true => json!(["Ingress", "Egress"]),
            false => json!(["Ingress"]),
        };
    }
    for direction in ["ingress", "egress"] {
        let Some(rules) = spec.get_mut(direction).and_then(Value::as_array_mut) else {
            continue;
        };
        for rule in rules {
            if let Some(ports) = rule.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports {
                    default(p, "protocol", json!("TCP"));
                }
            }
        }
    }
}

fn service(spec: &mut Value) {
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    let external = spec["type"] == "ExternalName";
    if !external {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if matches!(spec["type"].as_str(), Some("NodePort" | "LoadBalancer")) {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            default(p, "protocol", json!("TCP"));
            // Absent, 0 or "" means the port itself, as Kubernetes defaults it.
            let unset = p
                .get("targetPort")
                .is_none_or(|t| t.is_null() || *t == json!(0) || *t == json!(""));
            if unset && let Some(port) = p.get("port").cloned() {
                p["targetPort"] = port;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_defaults_match_kubernetes() {
        let mut d = json!({"spec": {"strategy": {}, "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
        on_create("Deployment", &mut d);
        assert_eq!(
            d["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(d["spec"]["replicas"], 1);
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "Always");
    }

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(image_pull_policy("nginx"), "Always");
        assert_eq!(image_pull_policy("nginx:latest"), "Always");
        assert_eq!(image_pull_policy("nginx:1.20"), "IfNotPresent");
        assert_eq!(image_pull_policy("localhost:5000/nginx"), "Always");
        assert_eq!(image_pull_policy("nginx@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn pods_get_admission_defaults() {
        let mut p = json!({"spec": {"containers": [{"name": "c", "image": "nginx:1", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        on_create("Pod", &mut p);
        assert_eq!(p["spec"]["tolerations"].as_array().unwrap().len(), 2);
        assert_eq!(p["status"]["qosClass"], "Guaranteed");
        assert_eq!(p["status"]["phase"], "Pending");
        assert_eq!(p["spec"]["serviceAccountName"], "default");
    }

    #[test]
    fn service_target_port_defaults_to_port() {
        let mut s = json!({"spec": {"ports": [{"port": 80}]}});
        on_create("Service", &mut s);
        assert_eq!(
            s["spec"]["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        assert_eq!(s["spec"]["type"], "ClusterIP");
    }

    #[test]
    fn a_target_port_absent_zero_or_empty_is_the_port() {
        for target in [None, Some(json!(0)), Some(json!(""))] {
            let mut port = json!({"port": 8080});
            if let Some(t) = target {
                port["targetPort"] = t;
            }
            let mut svc = json!({"spec": {"ports": [port]}});
            on_write("Service", &mut svc);
            assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
        }
        let mut named = json!({"spec": {"ports": [{"port": 80, "targetPort": "http"}]}});
        on_write("Service", &mut named);
        assert_eq!(named["spec"]["ports"][0]["targetPort"], "http");
    }

    #[test]
    fn a_network_policy_gets_kubernetes_policy_types_and_tcp_ports() {
        let mut only_ingress =
            json!({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}});
        on_write("NetworkPolicy", &mut only_ingress);
        assert_eq!(only_ingress["spec"]["policyTypes"], json!(["Ingress"]));
        assert_eq!(
            only_ingress["spec"]["ingress"][0]["ports"][0]["protocol"],
            "TCP"
        );
        let mut with_egress = json!({"spec": {"podSelector": {}, "egress": [{}]}});
        on_write("NetworkPolicy", &mut with_egress);
        assert_eq!(
            with_egress["spec"]["policyTypes"],
            json!(["Ingress", "Egress"])
        );
        let mut told =
            json!({"spec": {"podSelector": {}, "egress": [{}], "policyTypes": ["Egress"]}});
        on_write("NetworkPolicy", &mut told);
        assert_eq!(told["spec"]["policyTypes"], json!(["Egress"]));
    }

    #[test]
    fn a_secret_s_string_data_is_written_into_its_data() {
        let mut secret = json!({"data": {"a": "b2xk", "b": "Yg=="}, "stringData": {"a": "new"}});
        on_write("Secret", &mut secret);
        assert_eq!(secret, json!({"data": {"a": "bmV3", "b": "Yg=="}}));
    }
}
