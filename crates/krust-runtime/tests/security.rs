//! What a container may do: its user, read-only root, capabilities, no_new_privs,
//! seccomp, masked paths, its own processes only.

mod support;

use krust_runtime::{Mount, MountKind, User};
use support::Fixture;

#[tokio::test]
async fn a_container_runs_confined_as_its_spec_says() {
    let f = Fixture::new();
    let sandbox = f.sandbox("confined").await;
    let script = "id -u; id -G; \
        grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; \
        touch /rootfs-write 2>/dev/null && echo root-writable || echo root-readonly; \
        touch /scratch/x && echo scratch-writable; \
        wc -c < /proc/interrupts; \
        ps -o pid | wc -l";
    let mut spec = f.container(&sandbox, "main", &["sh", "-c", script]);
    spec.user = User {
        uid: 1000,
        gid: 1000,
        additional_gids: vec![2000],
    };
    spec.readonly_rootfs = true;
    spec.capabilities = vec!["CAP_CHOWN".into(), "NET_BIND_SERVICE".into()];
    spec.mounts.push(Mount {
        destination: "/scratch".into(),
        kind: MountKind::Tmpfs {
            size_bytes: Some(1 << 20),
        },
        readonly: false,
    });
    let id = f.run(&spec).await;
    assert_eq!(f.exit_code(&id).await, 0, "{}", f.log(&spec));
    let log = f.log(&spec);
    let lines: Vec<&str> = log
        .lines()
        .map(|l| l.splitn(4, ' ').nth(3).unwrap_or(""))
        .collect();
    let expect = |text: &str| {
        assert!(
            lines.iter().any(|l| l.trim() == text),
            "{text:?} in {lines:?}"
        )
    };
    expect("1000");
    expect("1000 2000");
    // A non-root process keeps no effective capabilities; the bounding set is the spec's.
    expect("CapEff:\t0000000000000000");
    expect("NoNewPrivs:\t1");
    expect("Seccomp:\t2");
    expect("root-readonly");
    expect("scratch-writable");
    expect("0"); // /proc/interrupts is masked (empty)
    // ps: its header, sh, ps, and wc if it started before ps read /proc: no host process.
    assert!(
        lines.iter().any(|l| matches!(l.trim(), "3" | "4")),
        "{lines:?}"
    );
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn a_root_container_holds_exactly_its_capabilities() {
    let f = Fixture::new();
    let sandbox = f.sandbox("caps").await;
    let mut spec = f.container(
        &sandbox,
        "main",
        &["grep", "-E", "^Cap(Eff|Bnd):", "/proc/self/status"],
    );
    spec.capabilities = vec!["CAP_CHOWN".into(), "CAP_KILL".into()];
    let id = f.run(&spec).await;
    assert_eq!(f.exit_code(&id).await, 0);
    // CAP_CHOWN is bit 0, CAP_KILL bit 5.
    let log = f.log(&spec);
    assert!(log.contains("CapEff:\t0000000000000021"), "{log}");
    assert!(log.contains("CapBnd:\t0000000000000021"), "{log}");
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn runtime_default_seccomp_denies_its_calls_even_to_a_container_with_the_capability() {
    let f = Fixture::new();
    let sandbox = f.sandbox("seccomp").await;
    // dmesg reads the kernel log with syslog(2), which CAP_SYSLOG allows and the filter
    // denies (EPERM) before the kernel looks.
    let script = "dmesg >/dev/null 2>/tmp/err; echo status $?; cat /tmp/err";
    let mut filtered = f.container(&sandbox, "filtered", &["sh", "-c", script]);
    filtered.capabilities.push("CAP_SYSLOG".into());
    let mut unfiltered = f.container(&sandbox, "unfiltered", &["sh", "-c", script]);
    unfiltered.capabilities.push("CAP_SYSLOG".into());
    unfiltered.seccomp_runtime_default = false;
    for spec in [&filtered, &unfiltered] {
        let id = f.run(spec).await;
        assert_eq!(f.exit_code(&id).await, 0, "{}", f.log(spec));
    }
    let (denied, allowed) = (f.log(&filtered), f.log(&unfiltered));
    assert!(
        denied.contains("klogctl: Operation not permitted"),
        "{denied}"
    );
    assert!(allowed.contains("status 0"), "{allowed}");
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn mounts_follow_the_images_links_inside_its_root_never_out_of_it() {
    let f = Fixture::new();
    let sandbox = f.sandbox("links").await;
    // A layer over busybox whose /etc/resolv.conf links to a file that is not there (as
    // some images have it) and whose /etc/hosts links out of the root, to the host.
    let layer = f.dir.path().join("links-layer");
    std::fs::create_dir_all(layer.join("etc")).unwrap();
    std::os::unix::fs::symlink("../run/krt/resolv.conf", layer.join("etc/resolv.conf")).unwrap();
    let outside = f.dir.path().join("krt-escaped");
    let escape = format!("/../../../..{}", outside.display());
    std::os::unix::fs::symlink(&escape, layer.join("etc/hosts")).unwrap();
    let file = |name: &str, text: &str| {
        let path = f.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let resolv = file("resolv.conf", "nameserver 10.9.9.9\n");
    let hosts = file("hosts", "10.9.9.10 krt-host\n");
    let script = "cat /etc/resolv.conf /run/krt/resolv.conf /etc/hosts";
    let mut spec = f.container(&sandbox, "main", &["sh", "-c", script]);
    spec.lower_dirs.insert(0, layer);
    for (destination, source) in [("/etc/resolv.conf", resolv), ("/etc/hosts", hosts)] {
        spec.mounts.push(Mount {
            destination: destination.into(),
            kind: MountKind::Bind { source },
            readonly: true,
        });
    }
    let id = f.run(&spec).await;
    assert_eq!(f.exit_code(&id).await, 0, "{}", f.log(&spec));
    let log = f.log(&spec);
    assert_eq!(log.matches("nameserver 10.9.9.9").count(), 2, "{log}");
    assert!(log.contains("10.9.9.10 krt-host"), "{log}");
    assert!(
        !outside.exists(),
        "a mount target was made outside the root"
    );
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}
