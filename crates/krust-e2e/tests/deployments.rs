//! Deployments: create (a protobuf request), get, describe, scale, set image, expose.

use krust_e2e::{Cluster, describe_field, is_age, table};
use std::net::Ipv4Addr;

#[test]
fn create_deployment_from_protobuf_and_get_it() {
    let c = Cluster::start();
    // kubectl create deployment sends application/vnd.kubernetes.protobuf.
    assert_eq!(
        c.ok(&["create", "deployment", "nginx-depl", "--image=nginx"]),
        "deployment.apps/nginx-depl created\n"
    );
    let out = c.ok(&["get", "deploy"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        lines[0],
        "NAME         READY   UP-TO-DATE   AVAILABLE   AGE"
    );
    assert!(
        lines[1].starts_with("nginx-depl   0/1     0            0           "),
        "{out}"
    );
    assert!(is_age(lines[1].rsplit(' ').next().unwrap()), "{out}");

    let out = c.ok(&["get", "deployments.apps", "-o", "wide"]);
    assert_eq!(
        out.lines().next(),
        Some("NAME         READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES   SELECTOR"),
        "{out}"
    );
    let row = &table(&out)[1];
    assert_eq!(row[5..], ["nginx", "nginx", "app=nginx-depl"], "{out}");

    // The decoded body, with defaults.
    let d = c.get_json(&["deployment", "nginx-depl"]);
    assert_eq!(d["kind"], "Deployment");
    assert_eq!(d["apiVersion"], "apps/v1");
    assert_eq!(d["metadata"]["labels"]["app"], "nginx-depl", "{d}");
    assert_eq!(d["metadata"]["generation"], 1, "{d}");
    assert_eq!(d["spec"]["replicas"], 1, "{d}");
    assert_eq!(
        d["spec"]["selector"]["matchLabels"]["app"], "nginx-depl",
        "{d}"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx",
        "{d}"
    );
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate", "{d}");
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10, "{d}");
    assert_eq!(d["spec"]["progressDeadlineSeconds"], 600, "{d}");
}

#[test]
fn create_deployment_twice_is_already_exists() {
    let c = Cluster::start();
    c.ok(&["create", "deployment", "d1", "--image=nginx"]);
    let err = c.fails(&["create", "deployment", "d1", "--image=nginx"]);
    assert_eq!(
        err.trim_end(),
        "error: failed to create deployment: deployments.apps \"d1\" already exists"
    );
}

#[test]
fn describe_deployment_shows_the_defaulted_strategy() {
    let c = Cluster::start();
    c.ok(&["create", "deployment", "nginx-depl", "--image=nginx"]);
    let out = c.ok(&["describe", "deployment", "nginx-depl"]);
    assert_eq!(describe_field(&out, "Name"), Some("nginx-depl"), "{out}");
    assert_eq!(describe_field(&out, "Namespace"), Some("default"), "{out}");
    assert_eq!(
        describe_field(&out, "Labels"),
        Some("app=nginx-depl"),
        "{out}"
    );
    assert_eq!(
        describe_field(&out, "Selector"),
        Some("app=nginx-depl"),
        "{out}"
    );
    assert_eq!(
        describe_field(&out, "StrategyType"),
        Some("RollingUpdate"),
        "{out}"
    );
    assert_eq!(describe_field(&out, "MinReadySeconds"), Some("0"), "{out}");
    assert_eq!(
        describe_field(&out, "RollingUpdateStrategy"),
        Some("25% max unavailable, 25% max surge"),
        "{out}"
    );
    assert!(
        describe_field(&out, "Replicas").is_some_and(|r| r.starts_with("1 desired | ")),
        "{out}"
    );
    assert!(
        out.contains("  Containers:\n   nginx:\n    Image:         nginx\n"),
        "{out}"
    );
}

#[test]
fn scale_deployment_sets_spec_replicas() {
    let c = Cluster::start();
    c.ok(&["create", "deployment", "nginx-depl", "--image=nginx"]);
    assert_eq!(
        c.ok(&["scale", "deployment", "nginx-depl", "--replicas=5"]),
        "deployment.apps/nginx-depl scaled\n"
    );
    assert_eq!(
        c.jsonpath(&["deployment", "nginx-depl"], "{.spec.replicas}"),
        "5"
    );
    let row = &table(&c.ok(&["get", "deploy", "nginx-depl"]))[1];
    assert_eq!(row[1], "0/5");

    // The scale subresource itself.
    let scale: serde_json::Value = serde_json::from_str(&c.ok(&[
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/default/deployments/nginx-depl/scale",
    ]))
    .unwrap();
    assert_eq!(scale["kind"], "Scale", "{scale}");
    assert_eq!(scale["apiVersion"], "autoscaling/v1", "{scale}");
    assert_eq!(scale["spec"]["replicas"], 5, "{scale}");
    assert_eq!(scale["status"]["selector"], "app=nginx-depl", "{scale}");

    // A precondition on the current size.
    let err = c.fails(&[
        "scale",
        "deployment",
        "nginx-depl",
        "--current-replicas=3",
        "--replicas=1",
    ]);
    assert_eq!(err.trim_end(), "error: Expected replicas to be 3, was 5");
    assert_eq!(
        c.jsonpath(&["deployment", "nginx-depl"], "{.spec.replicas}"),
        "5"
    );
}

#[test]
fn set_image_updates_the_template_and_bumps_generation() {
    let c = Cluster::start();
    c.ok(&["create", "deployment", "nginx-depl", "--image=nginx"]);
    let before: i64 = c
        .jsonpath(&["deployment", "nginx-depl"], "{.metadata.generation}")
        .parse()
        .unwrap();
    assert_eq!(
        c.ok(&[
            "set",
            "image",
            "deployment",
            "nginx-depl",
            "nginx=nginx:1.25"
        ]),
        "deployment.apps/nginx-depl image updated\n"
    );
    assert_eq!(
        c.jsonpath(
            &["deployment", "nginx-depl"],
            "{.spec.template.spec.containers[0].image}"
        ),
        "nginx:1.25"
    );
    let after: i64 = c
        .jsonpath(&["deployment", "nginx-depl"], "{.metadata.generation}")
        .parse()
        .unwrap();
    assert!(after > before, "generation {before} -> {after}");

    // A metadata-only change does not bump the generation.
    c.ok(&["label", "deployment", "nginx-depl", "tier=web"]);
    let labelled: i64 = c
        .jsonpath(&["deployment", "nginx-depl"], "{.metadata.generation}")
        .parse()
        .unwrap();
    assert_eq!(labelled, after);

    // Unknown container: checked by kubectl against the object it read.
    let err = c.fails(&["set", "image", "deployment", "nginx-depl", "nope=nginx:2"]);
    assert!(
        err.contains("unable to find container named \"nope\""),
        "{err}"
    );
}

#[test]
fn expose_deployment_allocates_a_cluster_ip() {
    let c = Cluster::start();
    c.ok(&["create", "deployment", "nginx-depl", "--image=nginx"]);
    assert_eq!(
        c.ok(&[
            "expose",
            "deployment",
            "nginx-depl",
            "--port=8080",
            "--target-port=80"
        ]),
        "service/nginx-depl exposed\n"
    );
    let svc = c.get_json(&["svc", "nginx-depl"]);
    assert_eq!(svc["spec"]["type"], "ClusterIP", "{svc}");
    assert_eq!(svc["spec"]["sessionAffinity"], "None", "{svc}");
    assert_eq!(svc["spec"]["selector"]["app"], "nginx-depl", "{svc}");
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080, "{svc}");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 80, "{svc}");
    assert_eq!(svc["spec"]["ports"][0]["protocol"], "TCP", "{svc}");
    let ip: Ipv4Addr = svc["spec"]["clusterIP"]
        .as_str()
        .expect("clusterIP")
        .parse()
        .expect("an IPv4 address");
    let [a, b, ..] = ip.octets();
    assert_eq!((a, b), (10, 43), "{ip} is outside 10.43.0.0/16");
    assert_ne!(
        ip,
        Ipv4Addr::new(10, 43, 0, 1),
        "10.43.0.1 belongs to the kubernetes Service"
    );
    assert_eq!(svc["spec"]["clusterIPs"][0], ip.to_string(), "{svc}");

    let out = c.ok(&["get", "svc"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        table(&out)[0],
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ],
        "{out}"
    );
    assert!(
        lines[0].starts_with("NAME         TYPE        CLUSTER-IP"),
        "{out}"
    );
    let rows = table(&out);
    assert_eq!(rows.len(), 3, "{out}");
    assert_eq!(
        rows[1][..5],
        ["kubernetes", "ClusterIP", "10.43.0.1", "<none>", "443/TCP"],
        "{out}"
    );
    assert_eq!(
        rows[2][..5],
        [
            "nginx-depl",
            "ClusterIP",
            &ip.to_string(),
            "<none>",
            "8080/TCP"
        ],
        "{out}"
    );

    // A second service gets a different address.
    c.ok(&[
        "expose",
        "deployment",
        "nginx-depl",
        "--name=other",
        "--port=80",
    ]);
    let other = c.jsonpath(&["svc", "other"], "{.spec.clusterIP}");
    assert_ne!(other, ip.to_string());
}
