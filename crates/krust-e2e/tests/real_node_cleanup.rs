//! Deleting pods leaves nothing behind (root only): after many kubectl create/delete cycles of
//! pods with several containers, volumes (emptyDir on disk and in memory, configMap) and a
//! hostPort, this node's mounts, veths, hostPort map entries, pod directories, container monitors,
//! and every cgroup and process of those pods are back to what they were before.

mod real_node_support;

use std::collections::BTreeSet;
use std::path::Path;

use krust_e2e::{Cluster, ROLLOUT_TIMEOUT, true_within};
use real_node_support::{IMAGE, apply, cluster, free_port, output, processes, wait_running};

/// What a node holds on the host, each counted only where it belongs to this test's node.
#[derive(Debug, PartialEq, Eq)]
struct Footprint {
    /// Mount points under the node's data dir (overlay roots, netns handles, tmpfs volumes).
    mounts: usize,
    /// Interfaces enslaved to the node's bridge (one veth per pod).
    veths: usize,
    /// Entries for the test's host port in the node's hostPort maps.
    hostport_entries: usize,
    /// Entries of the runtime's and the kubelet's pod directories.
    state_entries: usize,
    /// `krust monitor` processes of this node.
    monitors: usize,
}

fn footprint(c: &Cluster, host_port: u16) -> Footprint {
    let data = c.data_dir();
    let data = data.to_str().expect("path");
    let bridge = format!("krt-e2e{}", krust_e2e::test_number());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let links = output("ip", &["-o", "link", "show", "master", &bridge]);
    let table = output(
        "nft",
        &["list", "table", "ip", &format!("krust-hostport-{bridge}")],
    );
    let entries =
        |dir: &str| std::fs::read_dir(Path::new(data).join(dir)).map_or(0, |d| d.flatten().count());
    Footprint {
        mounts: mountinfo.lines().filter(|l| l.contains(data)).count(),
        veths: links.lines().count(),
        hostport_entries: table.matches(&format!(". {host_port} : ")).count(),
        state_entries: entries("pods") + entries("runtime"),
        monitors: processes()
            .filter(|(_, cmdline)| cmdline.contains("monitor") && cmdline.contains(data))
            .count(),
    }
}

/// What is left on the host of the pods with these UIDs: processes in their cgroups and the
/// cgroup directories themselves, in every v1 hierarchy.
fn leftovers_of(uids: &BTreeSet<String>) -> Vec<String> {
    let mut left = Vec::new();
    for (pid, _) in processes() {
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        if uids.iter().any(|u| cgroups.contains(u.as_str())) {
            left.push(format!("process {pid}: {cgroups}"));
        }
    }
    let find = output("find", &["/sys/fs/cgroup", "-maxdepth", "6", "-type", "d"]);
    for dir in find.lines() {
        if uids.iter().any(|u| dir.contains(u.as_str())) {
            left.push(format!("cgroup {dir}"));
        }
    }
    left
}

const ROUNDS: usize = 4;
const PODS: usize = 3;

fn manifests(round: usize, host_port: u16) -> String {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf}\ndata: {greeting: hello}\n",
    );
    for i in 0..PODS {
        let port = if i == 0 {
            format!("    ports: [{{containerPort: 8080, hostPort: {host_port}}}]\n")
        } else {
            String::new()
        };
        yaml.push_str(&format!(
            r#"---
apiVersion: v1
kind: Pod
metadata: {{name: cycle-{round}-{i}}}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - {{name: scratch, emptyDir: {{}}}}
  - {{name: memory, emptyDir: {{medium: Memory, sizeLimit: 1Mi}}}}
  - {{name: conf, configMap: {{name: conf}}}}
  containers:
  - name: main
    image: {IMAGE}
    command: [sh, -c, "httpd -f -p 8080 -h /etc"]
{port}    volumeMounts:
    - {{name: scratch, mountPath: /scratch}}
    - {{name: memory, mountPath: /memory}}
    - {{name: conf, mountPath: /conf}}
  - name: side
    image: {IMAGE}
    command: [sleep, "3600"]
"#
        ));
    }
    yaml
}

#[test]
fn many_pod_create_delete_cycles_leave_nothing_on_the_host() {
    let c = cluster();
    let host_port = free_port();
    // A first round sets up what stays for the node's life (the hostPort table's chains).
    let mut uids = BTreeSet::new();
    let mut during = Vec::new();
    let mut cycle = |round: usize| {
        apply(&c, &manifests(round, host_port));
        for i in 0..PODS {
            let pod = format!("cycle-{round}-{i}");
            wait_running(&c, &pod);
            uids.insert(c.jsonpath(&["pod", &pod], "{.metadata.uid}"));
        }
        during.push(footprint(&c, host_port));
        c.ok(&["delete", "pods", "--all", "--wait=true"]);
    };
    cycle(0);
    let settled = |c: &Cluster, want: &Footprint| {
        true_within(ROLLOUT_TIMEOUT, || footprint(c, host_port) == *want)
    };
    let before = footprint(&c, host_port);
    for round in 1..=ROUNDS {
        cycle(round);
    }
    assert!(
        settled(&c, &before),
        "after {ROUNDS} rounds of {PODS} pods the node holds {:?}, before {before:?}",
        footprint(&c, host_port)
    );
    assert_eq!(before.veths, 0, "veths left after the first round");
    // The counts do count: with the pods running, each is there.
    let running = &during[1];
    assert_eq!(running.veths, PODS, "{running:?}");
    assert!(
        running.monitors >= before.monitors + 2 * PODS,
        "{running:?}"
    );
    assert!(running.mounts >= before.mounts + 3 * PODS, "{running:?}");
    assert_eq!(running.hostport_entries, 1, "{running:?}");
    assert_eq!(
        before.hostport_entries, 0,
        "hostPort entries left after the first round"
    );
    assert!(
        running.state_entries >= before.state_entries + PODS,
        "{running:?}"
    );
    let left = leftovers_of(&uids);
    assert!(left.is_empty(), "left on the host: {left:#?}");
}
