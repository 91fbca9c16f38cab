use super::*;
use crate::spec::{ContainerSpec, Sandbox, SandboxSpec};

fn sandbox(host: bool) -> Sandbox {
    Sandbox {
        id: "s".into(),
        spec: SandboxSpec {
            hostname: "pod".into(),
            host_pid: host,
            ..Default::default()
        },
        netns: (!host).then(|| "/state/net".into()),
        ipc_ns: (!host).then(|| "/state/ipc".into()),
        uts_ns: "/state/uts".into(),
    }
}

fn namespaces(config: &Value) -> Vec<(String, Option<String>)> {
    config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["type"].as_str().unwrap().into(),
                n["path"].as_str().map(String::from),
            )
        })
        .collect()
}

#[test]
fn a_container_joins_its_sandbox_namespaces_by_path_with_new_pid_and_mount_ones() {
    let spec = ContainerSpec {
        args: vec!["true".into()],
        ..Default::default()
    };
    let config = config(&spec, &sandbox(false), "/krust/pod/c");
    let expected = [
        ("mount", None),
        ("pid", None),
        ("network", Some("/state/net")),
        ("ipc", Some("/state/ipc")),
        ("uts", Some("/state/uts")),
    ];
    let expected: Vec<(String, Option<String>)> = expected
        .iter()
        .map(|(t, p)| (t.to_string(), p.map(String::from)))
        .collect();
    assert_eq!(namespaces(&config), expected);
    assert_eq!(config["linux"]["cgroupsPath"], "/krust/pod/c");
    assert_eq!(config["hostname"], "pod");
    assert!(
        config["process"]["env"][0]
            .as_str()
            .unwrap()
            .starts_with("PATH=")
    );
}

#[test]
fn host_namespaces_are_not_joined_nor_made() {
    let spec = ContainerSpec::default();
    let config = config(&spec, &sandbox(true), "/c");
    let types: Vec<String> = namespaces(&config).into_iter().map(|(t, _)| t).collect();
    assert_eq!(types, ["mount", "uts"]);
}

#[test]
fn a_container_targeting_another_joins_its_pid_namespace_by_path() {
    let spec = ContainerSpec {
        pid_namespace: Some("/proc/42/ns/pid".into()),
        ..Default::default()
    };
    for host in [false, true] {
        let config = config(&spec, &sandbox(host), "/c");
        let pid = namespaces(&config)
            .into_iter()
            .find(|(t, _)| t == "pid")
            .map(|(_, p)| p);
        assert_eq!(pid, Some(Some("/proc/42/ns/pid".into())));
    }
}

#[test]
fn capabilities_are_normalized_and_privileged_gets_them_all_and_every_device() {
    let spec = ContainerSpec {
        capabilities: vec!["net_admin".into(), "CAP_CHOWN".into()],
        no_new_privileges: true,
        seccomp_runtime_default: true,
        ..Default::default()
    };
    let plain = config(&spec, &sandbox(false), "/c");
    assert_eq!(
        plain["process"]["capabilities"]["bounding"],
        json!(["CAP_NET_ADMIN", "CAP_CHOWN"])
    );
    assert_eq!(plain["process"]["noNewPrivileges"], true);
    assert!(plain["linux"]["seccomp"].is_object());
    assert!(plain["linux"]["maskedPaths"].as_array().unwrap().len() > 5);
    assert_eq!(
        plain["linux"]["resources"]["devices"][0],
        json!({"allow": false, "access": "rwm"})
    );

    let privileged = config(
        &ContainerSpec {
            privileged: true,
            ..spec
        },
        &sandbox(false),
        "/c",
    );
    let caps = privileged["process"]["capabilities"]["effective"]
        .as_array()
        .unwrap();
    assert_eq!(caps.len(), current_capabilities().len());
    assert_eq!(privileged["process"]["noNewPrivileges"], false);
    assert!(privileged["linux"]["seccomp"].is_null());
    assert!(privileged["linux"]["maskedPaths"].is_null());
    assert_eq!(
        privileged["linux"]["resources"]["devices"],
        json!([{"allow": true, "access": "rwm"}])
    );
}

#[test]
fn limits_become_linux_resources() {
    let spec = ContainerSpec {
        resources: crate::spec::Resources {
            cpu_shares: Some(2),
            cpu_quota: Some(20_000),
            cpu_period: Some(100_000),
            memory_limit: Some(1 << 20),
            pids_limit: Some(10),
        },
        ..Default::default()
    };
    let resources = &config(&spec, &sandbox(false), "/c")["linux"]["resources"];
    assert_eq!(
        resources["cpu"],
        json!({"shares": 2, "quota": 20000, "period": 100000})
    );
    assert_eq!(resources["memory"], json!({"limit": 1048576}));
    assert_eq!(resources["pids"], json!({"limit": 10}));
}

#[test]
fn a_privileged_container_gets_the_hosts_devices_but_its_terminals_and_console() {
    let devices = host_devices(Path::new("/dev"));
    let paths: Vec<&str> = devices
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/dev/null"), "{paths:?}");
    assert!(
        !paths.iter().any(|p| p.starts_with("/dev/pts/")),
        "{paths:?}"
    );
    assert!(!paths.contains(&"/dev/console"));
    let null = devices.iter().find(|d| d["path"] == "/dev/null").unwrap();
    assert_eq!(
        (&null["type"], &null["major"], &null["minor"]),
        (&json!("c"), &json!(1), &json!(3))
    );
}
