//! Containers end to end, as root: output, exit codes, CRI logs, start failures.

mod support;

use krust_runtime::{ContainerState, Error};
use support::Fixture;

#[tokio::test]
async fn a_container_that_exits_reports_its_code_and_output() {
    let f = Fixture::new();
    let sandbox = f.sandbox("exit").await;
    let spec = f.container(&sandbox, "main", &["sh", "-c", "echo hello; exit 3"]);
    let id = f.run(&spec).await;
    assert_eq!(id.len(), 64);
    assert_eq!(f.exit_code(&id).await, 3);
    let log = f.log(&spec);
    assert!(log.contains(" stdout F hello\n"), "{log}");
    let status = f.runtime.container_status(&id).await.unwrap();
    assert_eq!(status.name, "main");
    assert_eq!(status.sandbox_id, sandbox.id);
    let ContainerState::Exited {
        reason, started_at, ..
    } = status.state
    else {
        panic!()
    };
    assert_eq!(reason, None);
    assert!(started_at.is_some());
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn logs_are_in_cri_format_with_stderr_and_partial_lines() {
    let f = Fixture::new();
    let sandbox = f.sandbox("logs").await;
    let script = "printf part; sleep 0.3; echo ial; echo oops >&2";
    let spec = f.container(&sandbox, "main", &["sh", "-c", script]);
    let id = f.run(&spec).await;
    assert_eq!(f.exit_code(&id).await, 0);
    let log = f.log(&spec);
    let records: Vec<(&str, &str, &str)> = log
        .lines()
        .map(|line| {
            let mut parts = line.splitn(4, ' ');
            let time = parts.next().unwrap();
            // 2026-12-06T11:22:33.123456789Z
            assert_eq!(time.len(), 30, "{line}");
            assert!(
                time.ends_with('Z') && &time[10..11] == "T" && &time[19..20] == ".",
                "{line}"
            );
            (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap_or(""),
            )
        })
        .collect();
    assert!(records.contains(&("stdout", "P", "part")), "{log}");
    assert!(records.contains(&("stdout", "F", "ial")), "{log}");
    assert!(records.contains(&("stderr", "F", "oops")), "{log}");
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn a_command_that_is_not_found_cannot_run_and_shows_as_exited_with_128() {
    let f = Fixture::new();
    let sandbox = f.sandbox("notfound").await;
    let spec = f.container(&sandbox, "main", &["no-such-command"]);
    let id = f.runtime.create_container(&spec).await.unwrap();
    let err = f.runtime.start_container(&id).await.unwrap_err();
    let Error::CannotRun(message) = err else {
        panic!("{err:?}")
    };
    assert!(message.contains("not found"), "{message}");
    let ContainerState::Exited {
        exit_code,
        reason,
        message: Some(text),
        ..
    } = f.runtime.container_status(&id).await.unwrap().state
    else {
        panic!()
    };
    assert_eq!(exit_code, 128);
    assert_eq!(reason.as_deref(), Some("StartError"));
    assert!(text.contains("no-such-command"), "{text}");
    // A second start is refused: nothing is started twice.
    assert!(f.runtime.start_container(&id).await.is_err());
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn a_container_over_its_memory_limit_is_reported_oom_killed() {
    let f = Fixture::new();
    let sandbox = f.sandbox("oom").await;
    let mut spec = f.container(
        &sandbox,
        "main",
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"],
    );
    spec.resources.memory_limit = Some(32 << 20);
    let id = f.run(&spec).await;
    assert_eq!(f.exit_code(&id).await, 137);
    let ContainerState::Exited { reason, .. } =
        f.runtime.container_status(&id).await.unwrap().state
    else {
        panic!()
    };
    assert_eq!(reason.as_deref(), Some("OOMKilled"));
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn stats_read_the_cgroup_of_a_running_container() {
    let f = Fixture::new();
    let sandbox = f.sandbox("stats").await;
    let spec = f.container(&sandbox, "main", &["sleep", "1000"]);
    let id = f.run(&spec).await;
    let stats = f.runtime.stats(&id).await.unwrap();
    assert!(stats.cpu_usage_ns > 0, "{stats:?}");
    assert!(stats.memory_usage_bytes > 0, "{stats:?}");
    assert!(stats.memory_working_set_bytes <= stats.memory_usage_bytes);
    let listed = f.runtime.list_containers().await.unwrap();
    assert!(
        matches!(listed[0].state, ContainerState::Running { .. }),
        "{listed:?}"
    );
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn a_host_network_pod_sees_the_hosts_interfaces_and_a_pod_only_its_loopback() {
    let f = Fixture::new();
    let host: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let spec = krust_runtime::SandboxSpec {
        pod_uid: format!("{}-hostnet", f.config.cgroup_root),
        name: "hostnet".into(),
        hostname: "hostnet".into(),
        host_network: true,
        host_ipc: true,
        cgroup_parent: "kubepods/podhostnet".into(),
        ..Default::default()
    };
    let hostnet = f.runtime.run_sandbox(&spec).await.unwrap();
    assert_eq!(
        (hostnet.netns.clone(), hostnet.ipc_ns.clone()),
        (None, None)
    );
    // Asking again gives the same sandbox.
    assert_eq!(f.runtime.run_sandbox(&spec).await.unwrap(), hostnet);
    let on_host = f.container(&hostnet, "main", &["ls", "/sys/class/net"]);
    let id = f.run(&on_host).await;
    assert_eq!(f.exit_code(&id).await, 0);
    for name in &host {
        assert!(
            f.log(&on_host).contains(&format!(" stdout F {name}\n")),
            "{}",
            f.log(&on_host)
        );
    }
    let pod = f.sandbox("podnet").await;
    let in_pod = f.container(&pod, "other", &["ls", "/sys/class/net"]);
    let id = f.run(&in_pod).await;
    assert_eq!(f.exit_code(&id).await, 0);
    let log = f.log(&in_pod);
    let listed: Vec<&str> = log.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
    assert_eq!(listed, vec!["lo"]);
    f.runtime.remove_sandbox(&hostnet.id).await.unwrap();
    f.runtime.remove_sandbox(&pod.id).await.unwrap();
}

#[tokio::test]
async fn a_tty_container_logs_its_terminal_as_stdout() {
    let f = Fixture::new();
    let sandbox = f.sandbox("tty").await;
    let mut spec = f.container(&sandbox, "main", &["sh", "-c", "tty; echo bye >&2; exit 4"]);
    spec.tty = true;
    let id = f.run(&spec).await;
    assert_eq!(f.exit_code(&id).await, 4);
    let log = f.log(&spec);
    // A terminal ends lines with CR LF; the CR stays in the text, as containerd keeps it.
    assert!(log.contains(" stdout F /dev/pts/0\r\n"), "{log:?}");
    assert!(log.contains(" stdout F bye\r\n"), "{log:?}");
    assert!(!log.contains("stderr"), "{log:?}");
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn a_rotated_log_is_reopened_and_written_anew() {
    let f = Fixture::new();
    let sandbox = f.sandbox("rotate").await;
    let script = "echo one; while [ ! -e /gate/go ]; do sleep 0.02; done; echo two";
    let gate = f.dir.path().join("gate");
    std::fs::create_dir_all(&gate).unwrap();
    let mut spec = f.container(&sandbox, "main", &["sh", "-c", script]);
    spec.mounts.push(krust_runtime::Mount {
        destination: "/gate".into(),
        kind: krust_runtime::MountKind::Bind {
            source: gate.clone(),
        },
        readonly: true,
    });
    let id = f.run(&spec).await;
    while !f.log(&spec).contains("one") {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let rotated = spec.log_path.with_extension("log.1");
    std::fs::rename(&spec.log_path, &rotated).unwrap();
    f.runtime.reopen_container_log(&id).await.unwrap();
    std::fs::write(gate.join("go"), "").unwrap();
    assert_eq!(f.exit_code(&id).await, 0);
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(
        old.contains(" stdout F one\n") && !old.contains("two"),
        "{old}"
    );
    let new = f.log(&spec);
    assert!(
        new.contains(" stdout F two\n") && !new.contains("one"),
        "{new}"
    );
    assert!(f.runtime.reopen_container_log(&id).await.is_err());
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn a_container_given_another_s_pid_namespace_sees_its_processes() {
    let f = Fixture::new();
    let sandbox = f.sandbox("target").await;
    let target = f.container(&sandbox, "app", &["sleep", "1000"]);
    let target_id = f.run(&target).await;
    let ContainerState::Running { pid, .. } =
        f.runtime.container_status(&target_id).await.unwrap().state
    else {
        panic!("the target runs")
    };
    let mut debug = f.container(&sandbox, "debugger", &["ps", "-o", "pid,args"]);
    debug.pid_namespace = Some(format!("/proc/{pid}/ns/pid").into());
    let id = f.run(&debug).await;
    assert_eq!(f.exit_code(&id).await, 0);
    let log = f.log(&debug);
    assert!(log.contains("sleep 1000"), "{log}");
    assert!(
        log.lines().any(|l| l.ends_with(" 1 sleep 1000")),
        "the target is pid 1 of the namespace: {log}"
    );
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn what_making_a_containers_filesystem_reads_into_the_page_cache_is_not_charged_to_it() {
    // Page cache charged to a container's memory cgroup outlives the container: its removed
    // cgroup stays alive until those pages are reclaimed, and a busy host collects hundreds.
    let f = Fixture::new();
    let sandbox = f.sandbox("charged").await;
    let spec = f.container(&sandbox, "main", &["/bin/sleep", "1000"]);
    let id = f.runtime.create_container(&spec).await.unwrap();
    // Nothing cached, but what the process itself reads when it execs (no PATH search).
    std::process::Command::new("sync").status().unwrap();
    std::fs::write("/proc/sys/vm/drop_caches", "3").unwrap();
    std::fs::read(f.rootfs.join("bin/sleep")).unwrap();
    f.runtime.start_container(&id).await.unwrap();
    // A cgroup's memory.stat is brought up to date every 2 s.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let cgroup = format!(
        "/sys/fs/cgroup/memory/{}/kubepods/besteffort/podcharged/{id}",
        f.config.cgroup_root
    );
    let stat = std::fs::read_to_string(format!("{cgroup}/memory.stat")).unwrap();
    let cache = stat.lines().find_map(|l| l.strip_prefix("total_cache "));
    assert_eq!(cache, Some("0"), "{stat}");
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}
