//! NetworkPolicy on a real node (root): a busybox httpd server and client pods in two
//! namespaces (`krt-np-a`, `krt-np-b`); a default-deny policy blocks ingress (the node itself
//! still reaches the pod, as kubelet probes must); an allowing policy lets through only what
//! it names: pods by label (also through the Service's ClusterIP), namespaces by label, an
//! ipBlock with an except, a numbered port, a named port, an endPort range; egress default
//! deny blocks a client's connections and DNS until a rule allows the server and port 53;
//! deleting the policies restores traffic; a stopped node removes its table.

mod real_node_support;

use std::time::Duration;

use krust_e2e::{Cluster, true_within};
use real_node_support::*;

/// What the server runs: httpd on 8080 (`http`), 9090 (`alt`) and 8100, each answering
/// `hello-np`.
const SERVE: &str = "mkdir -p /www && echo hello-np > /www/index.html && httpd -p 9090 -h /www && httpd -p 8100 -h /www && exec httpd -f -p 8080 -h /www";

/// How long a policy change may take to show (it is programmed within a second).
const PROGRAMMED: Duration = Duration::from_secs(10);

/// One connection to try: from `ns/pod` to `host:port`, and whether it should get through.
type Try<'a> = (&'a str, &'a str, &'a str, u16, bool);

/// Whether a GET from `ns/pod` to `host:port` is answered (a dropped SYN gives up after a
/// second; busybox's wget needs NSS, so plain nc).
fn reaches(c: &Cluster, ns: &str, pod: &str, host: &str, port: u16) -> bool {
    let script =
        format!(r"printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc -w 1 {host} {port}; true");
    let out = c.kubectl(&["exec", "-n", ns, pod, "--", "sh", "-c", &script]);
    out.stdout.contains("hello-np")
}

/// Tries every connection at once; what each gave.
fn try_all(c: &Cluster, tries: &[Try]) -> Vec<bool> {
    std::thread::scope(|s| {
        let handles: Vec<_> = tries
            .iter()
            .map(|(ns, pod, host, port, _)| s.spawn(move || reaches(c, ns, pod, host, *port)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Asserts that every connection gets through or not as it should, within [`PROGRAMMED`].
fn expect(c: &Cluster, what: &str, tries: &[Try]) {
    let want: Vec<bool> = tries.iter().map(|t| t.4).collect();
    let mut got = Vec::new();
    let ok = true_within(PROGRAMMED, || {
        got = try_all(c, tries);
        got == want
    });
    let table = std::process::Command::new("nft")
        .args(["list", "table", "ip", &table_name(c)])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        ok,
        "{what}: tried {tries:?}, got {got:?}\n{}\n{table}\n--- server ---\n{}",
        c.kubectl(&["get", "netpol", "-A", "-o", "yaml"]).stdout,
        krust_e2e::tail(&c.server_stderr(), 30)
    );
}

fn table_name(c: &Cluster) -> String {
    let n = c.node_name();
    format!("krust-policy-krt-e2e{}", n.rsplit('-').next().unwrap())
}

/// Applies `kind: NetworkPolicy` `name` in `krt-np-a` with `spec`.
fn policy(c: &Cluster, name: &str, spec: &str) {
    apply(
        c,
        &format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: krt-np-a}}\nspec:\n{spec}"
        ),
    );
}

fn pod_ip(c: &Cluster, ns: &str, pod: &str) -> String {
    c.jsonpath(&["pod", "-n", ns, pod], "{.status.podIP}")
}

#[test]
fn network_policies_admit_only_what_they_allow() {
    let mut c = cluster();
    let pod = |ns: &str, name: &str, labels: &str, command: &str, ports: &str| {
        format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{{labels}}}}}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers: [{{name: main, image: {IMAGE}, command: [sh, -c, '{command}'], ports: [{ports}]}}]\n"
        )
    };
    let mut manifest = String::from(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: krt-np-a, labels: {team: a}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: krt-np-b, labels: {team: b}}\n",
    );
    manifest += &pod(
        "krt-np-a",
        "server",
        "app: server",
        SERVE,
        "{name: http, containerPort: 8080}, {name: alt, containerPort: 9090}",
    );
    for (ns, name, labels) in [
        ("krt-np-a", "client", "role: client"),
        ("krt-np-a", "stranger", "role: none"),
        ("krt-np-b", "far", "role: client"),
    ] {
        manifest += &pod(ns, name, labels, "exec sleep 3600", "");
    }
    manifest += "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: krt-np-a}\nspec:\n  selector: {app: server}\n  ports: [{port: 80, targetPort: 8080}]\n";
    apply(&c, &manifest);
    for (ns, name) in [
        ("krt-np-a", "server"),
        ("krt-np-a", "client"),
        ("krt-np-a", "stranger"),
        ("krt-np-b", "far"),
    ] {
        let ok = true_within(krust_e2e::ROLLOUT_TIMEOUT, || {
            c.jsonpath(&["pod", "-n", ns, name], "{.status.phase}") == "Running"
        });
        assert!(ok, "{ns}/{name} is not Running");
    }
    let server = pod_ip(&c, "krt-np-a", "server");
    let stranger = pod_ip(&c, "krt-np-a", "stranger");
    let cluster_ip = c.jsonpath(&["svc", "-n", "krt-np-a", "web"], "{.spec.clusterIP}");
    let pod_cidr = c.jsonpath(&["node", &c.node_name()], "{.spec.podCIDR}");
    let s = server.as_str();
    let a = "krt-np-a";
    expect(
        &c,
        "without policies",
        &[
            (a, "client", s, 8080, true),
            ("krt-np-b", "far", s, 9090, true),
        ],
    );

    // Default deny: nothing in, but the node itself still reaches the pod.
    policy(&c, "default-deny", "  podSelector: {}\n");
    let rows = krust_e2e::table(&c.ok(&["get", "netpol", "-n", a]));
    assert_eq!(rows[0], ["NAME", "POD-SELECTOR", "AGE"]);
    assert_eq!(rows[1][..2], ["default-deny", "<none>"]);
    expect(
        &c,
        "default deny",
        &[
            (a, "client", s, 8080, false),
            ("krt-np-b", "far", s, 8080, false),
        ],
    );
    assert!(
        http_get_at(s, 8080, "/index.html").contains("hello-np"),
        "the node reaches its pods"
    );

    // Pods by label, one port, also through the Service.
    policy(
        &c,
        "allow",
        "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {role: client}}}]\n    ports: [{port: 8080}]\n",
    );
    let ip = cluster_ip.as_str();
    expect(
        &c,
        "from pods labelled role=client, port 8080",
        &[
            (a, "client", s, 8080, true),
            (a, "client", ip, 80, true),
            (a, "client", s, 9090, false),
            (a, "stranger", s, 8080, false),
            (a, "stranger", ip, 80, false),
            ("krt-np-b", "far", s, 8080, false),
        ],
    );

    // Namespaces by label.
    policy(
        &c,
        "allow",
        "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: b}}}]\n",
    );
    expect(
        &c,
        "from namespaces labelled team=b",
        &[
            ("krt-np-b", "far", s, 8080, true),
            ("krt-np-b", "far", s, 9090, true),
            (a, "client", s, 8080, false),
        ],
    );

    // An ipBlock with a hole.
    policy(
        &c,
        "allow",
        &format!(
            "  podSelector: {{matchLabels: {{app: server}}}}\n  ingress:\n  - from: [{{ipBlock: {{cidr: {pod_cidr}, except: [{stranger}/32]}}}}]\n"
        ),
    );
    expect(
        &c,
        "from the pod range except the stranger",
        &[
            (a, "client", s, 8080, true),
            (a, "stranger", s, 8080, false),
        ],
    );

    // A named port, then a port range.
    policy(
        &c,
        "allow",
        "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - ports: [{port: alt}]\n",
    );
    expect(
        &c,
        "to the port named alt",
        &[
            (a, "stranger", s, 9090, true),
            (a, "stranger", s, 8080, false),
        ],
    );
    policy(
        &c,
        "allow",
        "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - ports: [{protocol: TCP, port: 8090, endPort: 8110}]\n",
    );
    expect(
        &c,
        "to ports 8090-8110",
        &[
            (a, "stranger", s, 8100, true),
            (a, "stranger", s, 9090, false),
        ],
    );

    c.ok(&["delete", "netpol", "-n", a, "allow", "default-deny"]);
    expect(&c, "policies deleted", &[(a, "stranger", s, 8080, true)]);

    // Egress: denied, then the server's port and DNS allowed.
    let dns = "timeout 3 nslookup web.krt-np-a.svc.cluster.local 2>&1; true";
    policy(
        &c,
        "client-out",
        "  podSelector: {matchLabels: {role: client}}\n  policyTypes: [Egress]\n",
    );
    expect(
        &c,
        "egress denied",
        &[
            (a, "client", s, 8080, false),
            (a, "stranger", s, 8080, true),
        ],
    );
    let looked_up = c
        .kubectl(&["exec", "-n", a, "client", "--", "sh", "-c", dns])
        .stdout;
    assert!(!looked_up.contains(ip), "DNS got through: {looked_up}");
    policy(
        &c,
        "client-out",
        "  podSelector: {matchLabels: {role: client}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{podSelector: {matchLabels: {app: server}}}]\n    ports: [{port: http}]\n  - ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]\n",
    );
    expect(
        &c,
        "egress to the server's http port",
        &[(a, "client", s, 8080, true), (a, "client", s, 9090, false)],
    );
    let resolved = true_within(PROGRAMMED, || {
        c.kubectl(&["exec", "-n", a, "client", "--", "sh", "-c", dns])
            .stdout
            .contains(ip)
    });
    assert!(resolved, "DNS is allowed by the port 53 rule");

    c.ok(&["delete", "netpol", "-n", a, "client-out"]);
    expect(&c, "egress policy deleted", &[(a, "client", s, 9090, true)]);

    // The node's table lives with the agent.
    let table_exists = |c: &Cluster| {
        let tables = std::process::Command::new("nft")
            .args(["list", "tables"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&tables.stdout).contains(&table_name(c))
    };
    assert!(table_exists(&c));
    c.stop();
    assert!(!table_exists(&c), "the stopped node left its policy table");
}
