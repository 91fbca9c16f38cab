use k8s_openapi::api::core::v1::{EnvVar, SecurityContext, Volume, VolumeMount};
use krust_runtime::{Mount, MountKind};

use super::super::context::ObjectMap;
use super::super::testing::{self, Node};
use super::super::volumes;
use super::*;

#[test]
fn a_container_spec_assembles_argv_env_user_mounts_and_labels() {
    let pods = tempfile::tempdir().unwrap();
    let container = Container {
        args: Some(vec!["--name=$(POD)".into()]),
        env: Some(vec![EnvVar {
            name: "POD".into(),
            value: Some("web".into()),
            value_from: None,
        }]),
        volume_mounts: Some(vec![VolumeMount {
            name: "scratch".into(),
            mount_path: "/scratch".into(),
            ..VolumeMount::default()
        }]),
        security_context: Some(SecurityContext {
            run_as_user: Some(1000),
            ..SecurityContext::default()
        }),
        tty: Some(true),
        ..testing::container()
    };
    let mut pod = testing::pod(vec![container.clone()]);
    pod.spec.as_mut().unwrap().volumes = Some(vec![Volume {
        name: "scratch".into(),
        empty_dir: Some(Default::default()),
        ..Volume::default()
    }]);
    let objects = ObjectMap::default();
    let node = Node::default();
    let ctx = node.context(&pod, &objects);
    let vols = volumes::setup(pods.path(), &ctx).unwrap();
    let hosts_path = pods.path().join("node-hosts");
    let mut files = volumes::hosts::write_pod_files(
        pods.path(),
        &pod,
        &node.pod_ips,
        "node-1",
        "cluster.local",
        &hosts_path,
    )
    .unwrap();
    let resolv = "nameserver 10.43.0.10\n";
    files.resolv_conf = Some(volumes::hosts::write_resolv_conf(pods.path(), &pod, resolv).unwrap());
    let image = RunConfig {
        entrypoint: Some(vec!["/bin/app".into()]),
        cmd: Some(vec!["serve".into()]),
        env: Some(vec!["PATH=/bin".into()]),
        working_dir: Some("/srv".into()),
        stop_signal: Some("SIGQUIT".into()),
        ..RunConfig::default()
    };
    let input = ContainerInput {
        ctx,
        container: &container,
        attempt: 2,
        sandbox_id: "sb-1",
        image_id: "sha256:abc",
        lower_dirs: &[],
        image_config: &image,
        pods_dir: pods.path(),
        logs_dir: Path::new("/var/log/pods"),
        volumes: &vols,
        pod_files: Some(&files),
    };
    let spec = container_spec(&input).unwrap();
    assert_eq!(spec.args, ["/bin/app", "--name=web"]);
    assert_eq!(spec.env, ["HOSTNAME=web", "PATH=/bin", "POD=web"]);
    assert_eq!(spec.cwd, "/srv");
    assert_eq!((spec.user.uid, spec.user.gid), (1000, 0));
    assert_eq!(spec.stop_signal.as_deref(), Some("SIGQUIT"));
    assert!(spec.tty && !spec.stdin);
    assert_eq!(spec.labels[LABEL_POD_UID], "uid-1");
    assert_eq!(spec.labels[LABEL_CONTAINER_NAME], "app");
    assert_eq!(
        spec.log_path,
        Path::new("/var/log/pods/prod_web_uid-1/app/2.log")
    );
    assert_eq!(spec.resources.cpu_shares, Some(2));
    let dests: Vec<&str> = spec.mounts.iter().map(|m| m.destination.as_str()).collect();
    assert_eq!(
        dests,
        [
            "/scratch",
            "/etc/hosts",
            "/etc/hostname",
            "/etc/resolv.conf",
            "/dev/termination-log"
        ]
    );
    let resolv_conf = pods.path().join("uid-1/etc-resolv.conf");
    assert_eq!(std::fs::read_to_string(&resolv_conf).unwrap(), resolv);
    assert_eq!(
        spec.mounts[3],
        Mount {
            destination: "/etc/resolv.conf".into(),
            kind: MountKind::Bind {
                source: resolv_conf
            },
            readonly: false,
        }
    );
    let scratch = pods
        .path()
        .join("uid-1/volumes/kubernetes.io~empty-dir/scratch");
    assert_eq!(
        spec.mounts[0],
        Mount {
            destination: "/scratch".into(),
            kind: MountKind::Bind { source: scratch },
            readonly: false,
        }
    );
    let log = volumes::mounts::termination_log_path(pods.path(), "uid-1", "app", 2);
    assert!(log.is_file());
    volumes::teardown(pods.path(), "uid-1").unwrap();
    assert!(!pods.path().join("uid-1").exists());
}

#[test]
fn a_missing_config_map_fails_the_whole_spec() {
    let container = Container {
        env_from: Some(vec![k8s_openapi::api::core::v1::EnvFromSource {
            config_map_ref: Some(k8s_openapi::api::core::v1::ConfigMapEnvSource {
                name: "absent".into(),
                optional: None,
            }),
            ..Default::default()
        }]),
        ..testing::container()
    };
    let pod = testing::pod(vec![container.clone()]);
    let objects = ObjectMap::default();
    let node = Node::default();
    let pods = tempfile::tempdir().unwrap();
    let input = ContainerInput {
        ctx: node.context(&pod, &objects),
        container: &container,
        attempt: 0,
        sandbox_id: "sb",
        image_id: "",
        lower_dirs: &[],
        image_config: &RunConfig::default(),
        pods_dir: pods.path(),
        logs_dir: pods.path(),
        volumes: &PodVolumes::default(),
        pod_files: None,
    };
    let err = container_spec(&input).unwrap_err();
    assert_eq!(err.to_string(), "configmap \"absent\" not found");
}
