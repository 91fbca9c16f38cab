//! What outlives the agent, and what removal leaves (nothing).

mod support;

use std::time::Duration;

use krust_runtime::{ContainerState, Runtime};
use support::{Fixture, cgroup_dirs, mounts_under, processes_naming};

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
    // The two root filesystems and the three namespaces.
    assert_eq!(mounts_under(f.dir.path()), 5);
    assert!(cgroup_dirs(&f.config.cgroup_root) > 0);
    assert!(!processes_naming(&f.config.cgroup_root).is_empty());

    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
    let code = exec.exit.await;
    assert_ne!(code, 0, "the exec process was killed");
    assert_eq!(mounts_under(f.dir.path()), 0);
    assert_eq!(cgroup_dirs(&f.config.cgroup_root), 0);
    let state = f.config.root.to_string_lossy().into_owned();
    assert_eq!(processes_naming(&f.config.cgroup_root), Vec::<u32>::new());
    assert_eq!(processes_naming(&state), Vec::<u32>::new());
    let left: Vec<_> = ["sandboxes", "containers", "crun"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(f.config.root.join(d))
                .unwrap()
                .flatten()
                .map(|e| e.path())
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(f.runtime.list_containers().await.unwrap().is_empty());
    assert!(f.runtime.list_sandboxes().await.unwrap().is_empty());
}

#[tokio::test]
async fn containers_of_one_sandbox_share_its_network_and_hostname() {
    let f = Fixture::new();
    let sandbox = f.sandbox("shared").await;
    let server = f.container(&sandbox, "server", &["nc", "-l", "-p", "8080"]);
    let server_id = f.run(&server).await;
    // The pod network namespace has only `lo`: the server listens there alone.
    let script = "hostname; until echo hello | nc 127.0.0.1 8080; do sleep 0.05; done";
    let client = f.container(&sandbox, "client", &["sh", "-c", script]);
    let client_id = f.run(&client).await;
    assert_eq!(f.exit_code(&client_id).await, 0);
    assert_eq!(f.exit_code(&server_id).await, 0);
    assert!(
        f.log(&server).contains("stdout F hello\n"),
        "{}",
        f.log(&server)
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
        "client",
        &["sh", "-c", "echo x | nc 127.0.0.1 8080"],
    );
    let lonely_id = f.run(&lonely).await;
    assert_ne!(f.exit_code(&lonely_id).await, 0);
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
    f.runtime.remove_sandbox(&other.id).await.unwrap();
}
