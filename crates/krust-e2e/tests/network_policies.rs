//! NetworkPolicies through the API with the real kubectl (no node): discovery (`netpol`),
//! `kubectl get` columns (NAME, POD-SELECTOR, AGE), `kubectl describe`, the API server's
//! defaults (policyTypes, TCP), and bad input refused with Kubernetes' 422 and messages.

use krust_e2e::Cluster;

const GOOD: &str = r#"apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-allow}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from:
    - podSelector: {matchLabels: {role: client}}
      namespaceSelector: {matchLabels: {team: web}}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports: [{port: 8080, endPort: 8090}, {protocol: UDP, port: dns}]
  egress:
  - ports: [{port: 53, protocol: UDP}]
"#;

const BAD: &str = r#"apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad}
spec:
  podSelector: {matchExpressions: [{key: app, operator: In}]}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}, podSelector: {}}]
    ports: [{protocol: ICMP, port: 80}, {port: 90, endPort: 80}, {port: http, endPort: 90}]
  policyTypes: [Ingress, Sideways]
"#;

#[test]
fn kubectl_creates_lists_describes_and_refuses_network_policies() {
    let c = Cluster::start();
    let resources = c.ok(&["api-resources", "--api-group", "networking.k8s.io"]);
    assert!(
        resources.contains("networkpolicies") && resources.contains("netpol"),
        "{resources}"
    );

    let good = c.write_file("good.yaml", GOOD);
    c.ok(&["apply", "-f", good.to_str().unwrap()]);
    let rows = krust_e2e::table(&c.ok(&["get", "netpol"]));
    assert_eq!(rows[0], ["NAME", "POD-SELECTOR", "AGE"]);
    assert_eq!(rows[1][..2], ["api-allow", "app=api"]);
    assert!(krust_e2e::is_age(&rows[1][2]), "{rows:?}");
    assert_eq!(
        c.jsonpath(
            &["netpol", "api-allow"],
            "{.spec.policyTypes} {.spec.ingress[0].ports[0].protocol}"
        ),
        r#"["Ingress","Egress"] TCP"#
    );
    let described = c.ok(&["describe", "networkpolicy", "api-allow"]);
    for line in [
        "Name:         api-allow",
        "PodSelector:     app=api",
        "To Port Range: 8080-8090/TCP",
        "To Port: dns/UDP",
        "PodSelector: role=client",
        "NamespaceSelector: team=web",
        "IPBlock:",
        "CIDR: 10.0.0.0/8",
        "Except: 10.1.0.0/16",
        "Policy Types: Ingress, Egress",
    ] {
        assert!(described.contains(line), "{line:?} not in:\n{described}");
    }

    let bad = c.write_file("bad.yaml", BAD);
    let err = c.fails(&["apply", "-f", bad.to_str().unwrap()]);
    for cause in [
        r#"The NetworkPolicy "bad" is invalid: "#,
        "spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
        r#"spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP""#,
        "spec.ingress[0].ports[1].endPort: Invalid value: 90: must be greater than or equal to `port`",
        "spec.ingress[0].ports[2].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
        "spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer",
        r#"spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`"#,
        r#"spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress""#,
    ] {
        assert!(err.contains(cause), "{cause:?} not in:\n{err}");
    }
    assert!(
        c.kubectl(&["get", "netpol", "bad"])
            .stderr
            .contains("NotFound")
    );
}
