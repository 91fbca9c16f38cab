//! Sandboxes: one per pod, their cgroup with the pod's limits, gone when removed.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use krust_runtime::{Error, Resources, Runtime, RuntimeConfig, SandboxSpec};
use support::Fixture;

#[tokio::test]
async fn a_sandbox_is_made_once_per_pod_found_by_its_uid_with_its_limits_on_the_pod_cgroup() {
    let f = Fixture::new();
    let spec = SandboxSpec {
        pod_uid: format!("{}-limits", f.config.cgroup_root),
        name: "limits".into(),
        hostname: "limits".into(),
        cgroup_parent: "kubepods/burstable/podlimits".into(),
        resources: Resources {
            cpu_shares: Some(512),
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            memory_limit: Some(128 << 20),
            pids_limit: Some(100),
        },
        ..Default::default()
    };
    let sandbox = f.runtime.run_sandbox(&spec).await.unwrap();
    assert_eq!(sandbox.id.len(), 64);
    assert_eq!(f.runtime.run_sandbox(&spec).await.unwrap(), sandbox);
    assert_eq!(
        f.runtime.list_sandboxes().await.unwrap(),
        vec![sandbox.clone()]
    );
    assert_eq!(f.runtime.pod_sandbox(&spec.pod_uid), Some(sandbox.clone()));
    assert_eq!(f.runtime.pod_sandbox("another-pod"), None);
    let pod = format!("{}/kubepods/burstable/podlimits", f.config.cgroup_root);
    let read = |controller: &str, file: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{controller}/{pod}/{file}"))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(read("cpu", "cpu.shares"), "512");
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(
        read("memory", "memory.limit_in_bytes"),
        (128 << 20).to_string()
    );
    assert_eq!(read("pids", "pids.max"), "100");

    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/memory/{pod}")).exists());
    assert!(matches!(
        f.runtime.remove_sandbox(&sandbox.id).await,
        Err(Error::NotFound(_))
    ));
    assert!(f.runtime.list_sandboxes().await.unwrap().is_empty());
    assert_eq!(f.runtime.pod_sandbox(&spec.pod_uid), None);
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let f = Fixture::new();
    let runtime = &f.runtime;
    assert!(matches!(
        runtime.container_status("abc").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        runtime.container_status("../etc").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        runtime.start_container("abc").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        runtime.remove_sandbox("abc").await,
        Err(Error::NotFound(_))
    ));
    let spec = krust_runtime::ContainerSpec {
        sandbox_id: "abc".into(),
        ..Default::default()
    };
    assert!(matches!(
        runtime.create_container(&spec).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn exec_into_a_container_that_is_not_running_fails() {
    let f = Fixture::new();
    let sandbox = f.sandbox("idle").await;
    let id = f
        .runtime
        .create_container(&f.container(&sandbox, "main", &["true"]))
        .await
        .unwrap();
    assert!(
        f.runtime
            .exec(&id, vec!["true".into()], false, false)
            .await
            .is_err()
    );
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

/// Waits until `runtime` holds a spare network namespace; where.
async fn spare_of(runtime: &Runtime) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(spare) = runtime.spare_network_namespace() {
            return spare;
        }
        assert!(Instant::now() < deadline, "no spare network namespace");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_sandbox_takes_the_network_namespace_made_after_the_one_before() {
    let f = Fixture::new();
    let first = f.sandbox("first").await;
    let inode = |path: &Path| std::fs::metadata(path).unwrap().ino();
    let spare = spare_of(&f.runtime).await;
    let spare_inode = inode(&spare);
    assert_ne!(spare_inode, inode(first.netns.as_ref().unwrap()));

    let second = f.sandbox("second").await;
    let netns = second.netns.as_ref().unwrap();
    assert_eq!(inode(netns), spare_inode, "the second pod has the spare");
    assert!(!support::mount_points(f.dir.path()).contains(&spare));
    // Its loopback device is up, as in a namespace made for the pod.
    let lo = std::process::Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .args(["ip", "-o", "link", "show", "lo"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&lo.stdout).contains(",UP"),
        "{lo:?}"
    );
    // And the next one comes.
    assert_ne!(inode(&spare_of(&f.runtime).await), spare_inode);
}

#[tokio::test]
async fn the_spare_network_namespace_goes_with_the_runtime() {
    let f = Fixture::new();
    let config = RuntimeConfig {
        root: f.dir.path().join("other"),
        ..f.config.clone()
    };
    let runtime = Runtime::new(config.clone()).unwrap();
    let spec = SandboxSpec {
        pod_uid: format!("{}-going", f.config.cgroup_root),
        name: "going".into(),
        cgroup_parent: "kubepods/besteffort/podgoing".into(),
        ..Default::default()
    };
    let sandbox = runtime.run_sandbox(&spec).await.unwrap();
    spare_of(&runtime).await;
    runtime.remove_sandbox(&sandbox.id).await.unwrap();
    assert_eq!(support::mount_points(&config.root).len(), 1);
    drop(runtime);
    assert_eq!(support::mount_points(&config.root), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn a_sandbox_hands_its_network_namespace_to_the_network_set_up_before_it_is_done() {
    let f = Fixture::new();
    let spec = SandboxSpec {
        pod_uid: format!("{}-networked", f.config.cgroup_root),
        name: "networked".into(),
        cgroup_parent: "kubepods/besteffort/podnetworked".into(),
        ..Default::default()
    };
    // The set-up sees the namespace already held (a network namespace of its own, not
    // the host's), and what it returns comes back with the sandbox.
    let host = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
    let seen = async |netns: Option<&Path>| {
        let netns = netns.expect("a network namespace").to_path_buf();
        let ino = std::fs::metadata(&netns).unwrap().ino();
        assert_ne!(ino, host);
        (netns, ino)
    };
    let (sandbox, (netns, ino)) = f.runtime.run_sandbox_with(&spec, seen).await.unwrap();
    assert_eq!(sandbox.netns.as_deref(), Some(netns.as_path()));
    assert_eq!(std::fs::metadata(&netns).unwrap().ino(), ino);
    // A sandbox that exists is handed to it again, unchanged.
    let again = async |netns: Option<&Path>| netns.map(Path::to_path_buf);
    let (same, netns_again) = f.runtime.run_sandbox_with(&spec, again).await.unwrap();
    assert_eq!(same, sandbox);
    assert_eq!(netns_again, Some(netns));
    // A host-network sandbox has none.
    let host_spec = SandboxSpec {
        pod_uid: format!("{}-hostnet", f.config.cgroup_root),
        name: "hostnet".into(),
        cgroup_parent: "kubepods/besteffort/podhostnet".into(),
        host_network: true,
        ..Default::default()
    };
    let none = async |netns: Option<&Path>| netns.is_none();
    let (host_sandbox, had_none) = f.runtime.run_sandbox_with(&host_spec, none).await.unwrap();
    assert!(had_none);
    for id in [&sandbox.id, &host_sandbox.id] {
        f.runtime.remove_sandbox(id).await.unwrap();
    }
}
