//! Services: cluster IP and node port allocation, and their errors.

use krust_e2e::{Cluster, table};

fn service(c: &Cluster, name: &str, spec: &str) -> String {
    let manifest =
        format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n{spec}");
    let path = c.write_file(&format!("{name}.yaml"), manifest);
    path.to_str().unwrap().to_string()
}

#[test]
fn node_ports_are_allocated_from_the_range() {
    let c = Cluster::start();
    assert_eq!(
        c.ok(&["create", "service", "nodeport", "np", "--tcp=80:8080"]),
        "service/np created\n"
    );
    let port: u32 = c
        .jsonpath(&["svc", "np"], "{.spec.ports[0].nodePort}")
        .parse()
        .unwrap();
    assert!((30000..=32767).contains(&port), "nodePort {port}");
    let row = &table(&c.ok(&["get", "svc", "np"]))[1];
    assert_eq!(row[1], "NodePort");
    assert_eq!(row[4], format!("80:{port}/TCP"));

    // A requested free port is granted.
    let file = service(
        &c,
        "fixed",
        "  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 30080\n",
    );
    assert_eq!(c.ok(&["create", "-f", &file]), "service/fixed created\n");
    assert_eq!(
        c.jsonpath(&["svc", "fixed"], "{.spec.ports[0].nodePort}"),
        "30080"
    );
}

#[test]
fn headless_and_requested_cluster_ips() {
    let c = Cluster::start();
    c.ok(&[
        "create",
        "service",
        "clusterip",
        "headless",
        "--clusterip=None",
        "--tcp=80:80",
    ]);
    assert_eq!(
        c.jsonpath(&["svc", "headless"], "{.spec.clusterIP}"),
        "None"
    );
    let row = &table(&c.ok(&["get", "svc", "headless"]))[1];
    assert_eq!(row[..3], ["headless", "ClusterIP", "None"]);

    c.ok(&[
        "create",
        "service",
        "clusterip",
        "fixed",
        "--clusterip=10.43.7.7",
        "--tcp=80:80",
    ]);
    assert_eq!(
        c.jsonpath(&["svc", "fixed"], "{.spec.clusterIPs[0]}"),
        "10.43.7.7"
    );
    // Deleting the Service releases its address.
    c.ok(&["delete", "svc", "fixed"]);
    c.ok(&[
        "create",
        "service",
        "clusterip",
        "again",
        "--clusterip=10.43.7.7",
        "--tcp=80:80",
    ]);
    assert_eq!(
        c.jsonpath(&["svc", "again"], "{.spec.clusterIP}"),
        "10.43.7.7"
    );
}

#[test]
fn cluster_ip_outside_the_range_is_invalid() {
    let c = Cluster::start();
    let file = service(&c, "web", "  clusterIP: 10.0.0.5\n  ports:\n  - port: 80\n");
    let err = c.fails(&["create", "-f", &file]);
    assert_eq!(
        err.trim_end(),
        "The Service \"web\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.0.0.5\"}: failed to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/16"
    );
}

#[test]
fn cluster_ip_in_use_is_invalid() {
    let c = Cluster::start();
    let file = service(
        &c,
        "web",
        "  clusterIP: 10.43.0.1\n  ports:\n  - port: 80\n",
    );
    let err = c.fails(&["create", "-f", &file]);
    assert_eq!(
        err.trim_end(),
        "The Service \"web\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.43.0.1\"}: failed to allocate IP 10.43.0.1: provided IP is already allocated"
    );
}

#[test]
fn node_port_outside_the_range_is_invalid() {
    let c = Cluster::start();
    let file = service(
        &c,
        "web",
        "  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 8080\n",
    );
    let err = c.fails(&["create", "-f", &file]);
    assert_eq!(
        err.trim_end(),
        "The Service \"web\" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767"
    );
}

#[test]
fn node_port_in_use_is_invalid() {
    let c = Cluster::start();
    let first = service(
        &c,
        "first",
        "  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 30080\n",
    );
    c.ok(&["create", "-f", &first]);
    let file = service(
        &c,
        "web",
        "  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 30080\n",
    );
    let err = c.fails(&["create", "-f", &file]);
    assert_eq!(
        err.trim_end(),
        "The Service \"web\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
    );
}

#[test]
fn node_port_above_65535_is_invalid() {
    let c = Cluster::start();
    let file = service(
        &c,
        "web",
        "  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 99999\n",
    );
    let err = c.fails(&["create", "-f", &file]);
    assert_eq!(
        err.trim_end(),
        "The Service \"web\" is invalid: spec.ports[0].nodePort: Invalid value: 99999: must be between 1 and 65535, inclusive"
    );
}
