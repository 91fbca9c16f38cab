//! What outlives the agent, and what removal leaves (nothing).

mod support;

use std::time::Duration;

use krust_runtime::{ContainerState, Runtime};
use support::{Fixture, cgroup_dirs, cgroups_below, mounts_under, processes_naming};

/// Processes naming the runtime's state directory but its spare monitor (no container's).
fn leftover_processes(f: &Fixture) -> Vec<u32> {
    let spare = f.runtime.spare_monitor();
    processes_naming(&f.config.root.to_string_lossy())
        .into_iter()
        .filter(|pid| Some(*pid) != spare)
        .collect()
}

#[tokio::test]
async fn a_container_survives_a_new_runtime_which_sees_its_exit() {
    let f = Fixture::new();
    let sandbox = f.sandbox("survivor").await;
    let gate = f.dir.path().join("gate");
    std::fs::create_dir_all(&gate).unwrap();
    let mut spec = f.container(
        &sandbox,
        "main",
        &[
            "sh",
            "-c",
            "while [ ! -e /gate/go ]; do sleep 0.02; done; exit 9",
        ],
    );
    spec.mounts.push(krust_runtime::Mount {
        destination: "/gate".into(),
        kind: krust_runtime::MountKind::Bind {
            source: gate.clone(),
        },
        readonly: true,
    });
    let id = f.run(&spec).await;
    // The agent goes away (its runtime with it) and another one starts over the same state.
    let restarted = Runtime::new(f.config.clone()).unwrap();
    let listed = restarted.list_containers().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(
        matches!(listed[0].state, ContainerState::Running { .. }),
        "{listed:?}"
    );
    assert_eq!(
        restarted.list_sandboxes().await.unwrap(),
        vec![sandbox.clone()]
    );
    let mut exits = restarted.exits();
    std::fs::write(gate.join("go"), "").unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(10), exits.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, id);
    let ContainerState::Exited { exit_code, .. } =
        restarted.container_status(&id).await.unwrap().state
    else {
        panic!()
    };
    assert_eq!(exit_code, 9);
    restarted.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn removing_a_sandbox_leaves_no_process_mount_cgroup_or_file() {
    let f = Fixture::new();
    let sandbox = f.sandbox("tidy").await;
    let running = f
        .run(&f.container(&sandbox, "running", &["sleep", "1000"]))
        .await;
    let exited = f.run(&f.container(&sandbox, "exited", &["true"])).await;
    f.exit_code(&exited).await;
    let exec = f
        .runtime
        .exec(&running, vec!["sleep".into(), "1000".into()], false, false)
        .await
        .unwrap();
    // And one created, never started: its root filesystem and cgroup are made already.
    f.runtime
        .create_container(&f.container(&sandbox, "created", &["true"]))
        .await
        .unwrap();
    // The three root filesystems and the three namespaces.
    assert_eq!(mounts_under(f.dir.path()), 6);
    assert!(cgroup_dirs(&f.config.cgroup_root) > 0);
    assert!(!processes_naming(&f.config.cgroup_root).is_empty());

    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
    let code = exec.exit.await;
    assert_ne!(code, 0, "the exec process was killed");
    assert_eq!(mounts_under(f.dir.path()), 0);
    // The QoS class's cgroups stay for the next pod, as the kubelet's do.
    assert_eq!(
        cgroups_below(&f.config.cgroup_root),
        ["kubepods", "kubepods/besteffort"]
    );
    f.runtime.remove_cgroups();
    assert_eq!(cgroup_dirs(&f.config.cgroup_root), 0);
    assert_eq!(processes_naming(&f.config.cgroup_root), Vec::<u32>::new());
    assert_eq!(leftover_processes(&f), Vec::<u32>::new());
    let left: Vec<_> = ["sandboxes", "containers"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(f.config.root.join(d))
                .unwrap()
                .flatten()
                .map(|e| e.path())
        })
        // The spare network namespace's is no pod's (made a moment after a sandbox).
        .filter(|path| !path.ends_with("sandboxes/spare"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(f.runtime.list_containers().await.unwrap().is_empty());
    assert!(f.runtime.list_sandboxes().await.unwrap().is_empty());
}

#[tokio::test]
async fn containers_of_one_sandbox_share_its_network_and_hostname() {
    let f = Fixture::new();
    let sandbox = f.sandbox("shared").await;
    let mut server = f.container(&sandbox, "server", &["nc", "-l", "-p", "8080"]);
    // busybox nc ends at the end of its stdin, maybe before the client's bytes come: the
    // server gets a stdin that stays open (the monitor holds it).
    server.stdin = true;
    let server_id = f.run(&server).await;
    // The pod network namespace has only `lo`: the server listens there alone.
    let script = "hostname; until echo hello | nc 127.0.0.1 8080; do sleep 0.05; done";
    let client = f.container(&sandbox, "client", &["sh", "-c", script]);
    let client_id = f.run(&client).await;
    assert_eq!(f.exit_code(&client_id).await, 0);
    assert_eq!(f.exit_code(&server_id).await, 0);
    assert!(
        f.log(&server).contains("stdout F hello\n"),
        "server: {:?}\nclient: {:?}\nmonitor: {:?}",
        f.log(&server),
        f.log(&client),
        std::fs::read_to_string(
            f.config
                .root
                .join("containers")
                .join(&server_id)
                .join("monitor.log")
        ),
    );
    assert!(
        f.log(&client).contains("stdout F shared\n"),
        "{}",
        f.log(&client)
    );
    // Another sandbox has a network of its own: nothing listens there.
    let other = f.sandbox("other").await;
    let lonely = f.container(
        &other,
        "lonely",
        &["sh", "-c", "echo x | nc 127.0.0.1 8080"],
    );
    let lonely_id = f.run(&lonely).await;
    assert_ne!(f.exit_code(&lonely_id).await, 0);
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
    f.runtime.remove_sandbox(&other.id).await.unwrap();
}

/// Set in the agent process the next test starts and kills.
const AGENT_ENV: &str = "KRT_AGENT_STATE";

#[tokio::test]
async fn a_container_outlives_its_agent_killed_with_sigkill() {
    if let Some(state) = std::env::var_os(AGENT_ENV) {
        return agent(state.into()).await;
    }
    let f = Fixture::new();
    let gate = f.dir.path().join("gate");
    std::fs::create_dir_all(&gate).unwrap();
    let mut agent = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_container_outlives_its_agent_killed_with_sigkill",
            "--nocapture",
        ])
        .env(AGENT_ENV, &f.config.root)
        .env("KRT_AGENT_CGROUP", &f.config.cgroup_root)
        .env("KRT_AGENT_ROOTFS", &f.rootfs)
        .env("KRT_AGENT_GATE", &gate)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(agent.stdout.take().unwrap()));
    let id = lines
        .find_map(|line| line.unwrap().strip_prefix("started ").map(str::to_string))
        .unwrap();
    agent.kill().unwrap(); // SIGKILL
    agent.wait().unwrap();

    let restarted = Runtime::new(f.config.clone()).unwrap();
    let listed = restarted.list_containers().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert!(
        matches!(listed[0].state, ContainerState::Running { .. }),
        "{listed:?}"
    );
    let mut exits = restarted.exits();
    std::fs::write(gate.join("go"), "").unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(10), exits.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, id);
    let ContainerState::Exited { exit_code, .. } =
        restarted.container_status(&id).await.unwrap().state
    else {
        panic!()
    };
    assert_eq!(exit_code, 9);
    let sandbox = restarted.list_sandboxes().await.unwrap().remove(0);
    restarted.remove_sandbox(&sandbox.id).await.unwrap();
}

/// The agent of the test above: starts a container that waits for a gate, says so, and
/// waits to be killed.
async fn agent(state: std::path::PathBuf) {
    let var = |name: &str| std::env::var(name).unwrap();
    let config = krust_runtime::RuntimeConfig {
        root: state,
        monitor: vec![support::MONITOR.into()],
        cgroup_root: var("KRT_AGENT_CGROUP"),
    };
    let runtime = Runtime::new(config).unwrap();
    let sandbox = runtime
        .run_sandbox(&krust_runtime::SandboxSpec {
            pod_uid: var("KRT_AGENT_CGROUP"),
            name: "orphan".into(),
            cgroup_parent: "kubepods/podorphan".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let spec = krust_runtime::ContainerSpec {
        sandbox_id: sandbox.id.clone(),
        name: "main".into(),
        lower_dirs: vec![var("KRT_AGENT_ROOTFS").into()],
        args: [
            "sh",
            "-c",
            "until [ -e /gate/go ]; do sleep 0.02; done; exit 9",
        ]
        .map(String::from)
        .to_vec(),
        mounts: vec![krust_runtime::Mount {
            destination: "/gate".into(),
            kind: krust_runtime::MountKind::Bind {
                source: var("KRT_AGENT_GATE").into(),
            },
            readonly: true,
        }],
        log_path: std::path::PathBuf::from(var("KRT_AGENT_GATE")).join("main.log"),
        ..Default::default()
    };
    let id = runtime.create_container(&spec).await.unwrap();
    runtime.start_container(&id).await.unwrap();
    println!("started {id}");
    tokio::time::sleep(Duration::from_secs(600)).await;
}

// On the multi-threaded runtime, as the agent runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_create_and_delete_cycles_leave_no_descriptor_zombie_mount_or_cgroup() {
    let f = Fixture::new();
    let fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let zombies = || {
        let me = std::process::id().to_string();
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter(|stat| {
                let rest = &stat[stat.rfind(')').unwrap() + 2..];
                let fields: Vec<&str> = rest.split(' ').collect();
                fields[0] == "Z" && fields[1] == me
            })
            .count()
    };
    // One cycle first, so that lazily made things (Tokio's signal pipe, …) exist.
    let warm = f.sandbox("warm").await;
    let id = f.run(&f.container(&warm, "c", &["true"])).await;
    f.exit_code(&id).await;
    f.runtime.remove_sandbox(&warm.id).await.unwrap();
    // And the spares made a moment after a start (the spare monitor's pipes are ours).
    while f.runtime.spare_monitor().is_none() || f.runtime.spare_network_namespace().is_none() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let fds_before = fds();
    for round in 0..5 {
        let sandbox = f.sandbox(&format!("cycle{round}")).await;
        for n in 0..4 {
            let spec = f.container(&sandbox, &format!("c{n}"), &["sh", "-c", "echo hi"]);
            let id = f.run(&spec).await;
            f.exit_code(&id).await;
            f.runtime.remove_container(&id).await.unwrap();
        }
        let running = f
            .run(&f.container(&sandbox, "long", &["sleep", "100"]))
            .await;
        let exec = f
            .runtime
            .exec(&running, vec!["true".into()], false, false)
            .await
            .unwrap();
        assert_eq!(exec.exit.await, 0);
        f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
    }
    // Tokio reaps the monitors it was left with when they end, and its tasks close their
    // pipes once they see them end.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while (zombies() > 0 || fds() != fds_before) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(zombies(), 0);
    assert_eq!(fds(), fds_before);
    assert_eq!(mounts_under(f.dir.path()), 0);
    assert_eq!(
        cgroups_below(&f.config.cgroup_root),
        ["kubepods", "kubepods/besteffort"]
    );
    assert_eq!(leftover_processes(&f), Vec::<u32>::new());
}
