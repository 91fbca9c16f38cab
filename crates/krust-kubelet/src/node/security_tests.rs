use k8s_openapi::api::core::v1::{Capabilities, SeccompProfile};

use super::super::testing;
use super::*;

fn all() -> Vec<String> {
    ALL_CAPABILITIES.iter().map(|s| s.to_string()).collect()
}

fn with_caps(add: &[&str], drop: &[&str]) -> SecurityContext {
    let own = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
    SecurityContext {
        capabilities: Some(Capabilities {
            add: own(add),
            drop: own(drop),
        }),
        ..SecurityContext::default()
    }
}

fn pod_with(sc: PodSecurityContext, container: Container) -> Pod {
    let mut pod = testing::pod(vec![container]);
    pod.spec.as_mut().unwrap().security_context = Some(sc);
    pod
}

/// A rootfs (one lower dir) with an `/etc/passwd` and `/etc/group`.
fn rootfs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:102:nginx:/:/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("etc/group"),
        "root:x:0:\nnginx:x:102:\nwww:x:33:nginx,other\n",
    )
    .unwrap();
    dir
}

#[test]
fn the_default_set_is_containerds() {
    assert_eq!(capabilities(None, &all()), DEFAULT_CAPABILITIES);
}

#[test]
fn adds_and_drops_accept_names_with_or_without_the_prefix() {
    let sc = with_caps(&["NET_ADMIN", "cap_sys_time"], &["CAP_KILL", "mknod"]);
    let caps = capabilities(Some(&sc), &all());
    assert!(caps.contains(&"CAP_NET_ADMIN".to_string()));
    assert!(caps.contains(&"CAP_SYS_TIME".to_string()));
    assert!(!caps.contains(&"CAP_KILL".to_string()));
    assert!(!caps.contains(&"CAP_MKNOD".to_string()));
}

#[test]
fn dropping_all_then_adding_one_leaves_that_one() {
    let sc = with_caps(&["NET_BIND_SERVICE"], &["ALL"]);
    assert_eq!(capabilities(Some(&sc), &all()), ["CAP_NET_BIND_SERVICE"]);
    let sc = with_caps(&["ALL"], &["CHOWN"]);
    let caps = capabilities(Some(&sc), &all());
    assert_eq!(caps.len(), all().len() - 1);
    assert!(!caps.contains(&"CAP_CHOWN".to_string()));
}

#[test]
fn a_privileged_container_gets_every_capability_the_host_has() {
    let container = Container {
        security_context: Some(SecurityContext {
            privileged: Some(true),
            ..SecurityContext::default()
        }),
        ..testing::container()
    };
    let pod = testing::pod(vec![container.clone()]);
    let host = host_capabilities();
    let s = security(&pod, &container, None, &[], &host).unwrap();
    assert!(s.privileged);
    assert_eq!(s.capabilities, host);
    assert!(host.contains(&"CAP_SYS_ADMIN".to_string()));
}

#[test]
fn run_as_user_and_group_of_the_container_win_over_the_pods() {
    let container = Container {
        security_context: Some(SecurityContext {
            run_as_user: Some(1000),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            ..SecurityContext::default()
        }),
        ..testing::container()
    };
    let pod = pod_with(
        PodSecurityContext {
            run_as_user: Some(5),
            run_as_group: Some(3000),
            fs_group: Some(2000),
            supplemental_groups: Some(vec![4000, 3000]),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                localhost_profile: None,
            }),
            ..PodSecurityContext::default()
        },
        container.clone(),
    );
    let s = security(&pod, &container, Some("nobody"), &[], &all()).unwrap();
    assert_eq!(
        s.user,
        User {
            uid: 1000,
            gid: 3000,
            additional_gids: vec![3000, 2000, 4000],
        }
    );
    assert!(s.no_new_privileges);
    assert!(s.readonly_rootfs);
    assert!(s.seccomp_runtime_default);
}

#[test]
fn an_image_user_name_is_resolved_from_the_rootfs() {
    let root = rootfs();
    let lower = [root.path().to_path_buf()];
    let container = testing::container();
    let pod = testing::pod(vec![container.clone()]);
    let s = security(&pod, &container, Some("nginx"), &lower, &all()).unwrap();
    assert_eq!((s.user.uid, s.user.gid), (101, 102));
    assert_eq!(s.user.additional_gids, [102, 33]);
    let s = security(&pod, &container, Some("101:www"), &lower, &all()).unwrap();
    assert_eq!((s.user.uid, s.user.gid), (101, 33));
    let s = security(&pod, &container, Some("4242"), &lower, &all()).unwrap();
    assert_eq!((s.user.uid, s.user.gid), (4242, 0));
    let err = security(&pod, &container, Some("ghost"), &lower, &all()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to find user ghost: no matching entries in passwd file"
    );
}

#[test]
fn run_as_non_root_refuses_an_image_that_runs_as_root() {
    let container = testing::container();
    let pod = pod_with(
        PodSecurityContext {
            run_as_non_root: Some(true),
            ..PodSecurityContext::default()
        },
        container.clone(),
    );
    let err = security(&pod, &container, None, &[], &all()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "container has runAsNonRoot and image will run as root (pod: \"web_prod(uid-1)\", container: app)"
    );
    let err = security(&pod, &container, Some("nginx"), &[], &all()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is non-root (pod: \"web_prod(uid-1)\", container: app)"
    );
    assert!(security(&pod, &container, Some("1000:1000"), &[], &all()).is_ok());
}

#[test]
fn run_as_non_root_refuses_run_as_user_zero() {
    let container = Container {
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(0),
            ..SecurityContext::default()
        }),
        ..testing::container()
    };
    let pod = testing::pod(vec![container.clone()]);
    let err = security(&pod, &container, Some("1000"), &[], &all()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "container's runAsUser breaks non-root policy (pod: \"web_prod(uid-1)\", container: app)"
    );
}
