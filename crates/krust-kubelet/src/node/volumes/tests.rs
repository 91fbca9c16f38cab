use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, ConfigMapVolumeSource, DownwardAPIProjection, DownwardAPIVolumeFile,
    DownwardAPIVolumeSource, EmptyDirVolumeSource, KeyToPath, ObjectFieldSelector, Pod,
    PodSecurityContext, ProjectedVolumeSource, SecretProjection, SecretVolumeSource, Volume,
    VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::mounts::{MountsInput, container_mounts};
use super::*;
use crate::node::context::ObjectMap;
use crate::node::testing::{self, Node};
use krust_runtime::MountKind;

/// A pods directory that unmounts and removes what a test left, also when it fails.
struct PodsDir(tempfile::TempDir);

impl PodsDir {
    fn new() -> Self {
        PodsDir(
            tempfile::Builder::new()
                .prefix("krt-podspec-")
                .tempdir()
                .unwrap(),
        )
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for PodsDir {
    fn drop(&mut self) {
        let _ = host_mounts::unmount_under(self.0.path());
    }
}

fn pod_with(volumes: Vec<Volume>) -> Pod {
    let mut pod = testing::pod(vec![testing::container()]);
    pod.spec.as_mut().unwrap().volumes = Some(volumes);
    pod
}

fn volume(name: &str) -> Volume {
    Volume {
        name: name.into(),
        ..Volume::default()
    }
}

fn cm_volume(name: &str, items: Option<Vec<KeyToPath>>, optional: Option<bool>) -> Volume {
    Volume {
        config_map: Some(ConfigMapVolumeSource {
            name: name.into(),
            items,
            optional,
            default_mode: Some(0o600),
        }),
        ..volume("cfg")
    }
}

fn item(key: &str, path: &str, mode: Option<i32>) -> KeyToPath {
    KeyToPath {
        key: key.into(),
        path: path.into(),
        mode,
    }
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn mode(path: PathBuf) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn objects() -> ObjectMap {
    let mut objects = ObjectMap::default();
    let mut cm = testing::config_map("app-config", &[("a.conf", "A"), ("b.conf", "B")]);
    cm.binary_data = Some(BTreeMap::from([(
        "bin".to_string(),
        ByteString(vec![0, 1, 2]),
    )]));
    objects.add_config_map(cm);
    objects.add_secret(testing::secret(
        "creds",
        &[("user", "admin"), ("pass", "pw")],
    ));
    objects
}

#[test]
fn a_config_map_volume_writes_every_key_with_the_default_mode() {
    let pods = PodsDir::new();
    let pod = pod_with(vec![cm_volume("app-config", None, None)]);
    let (objects, node) = (objects(), Node::default());
    let vols = setup(pods.path(), &node.context(&pod, &objects)).unwrap();
    let dir = &vols.paths["cfg"];
    assert_eq!(
        *dir,
        pods.path()
            .join("uid-1/volumes/kubernetes.io~configmap/cfg")
    );
    assert_eq!(read(dir.join("a.conf")), "A");
    assert_eq!(std::fs::read(dir.join("bin")).unwrap(), [0, 1, 2]);
    assert_eq!(mode(dir.join("b.conf")), 0o600);
    assert!(
        dir.join("..data")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn items_choose_keys_paths_and_modes() {
    let pods = PodsDir::new();
    let items = vec![item("a.conf", "conf/main.conf", Some(0o400))];
    let pod = pod_with(vec![cm_volume("app-config", Some(items), None)]);
    let (objects, node) = (objects(), Node::default());
    let vols = setup(pods.path(), &node.context(&pod, &objects)).unwrap();
    let dir = &vols.paths["cfg"];
    assert_eq!(read(dir.join("conf/main.conf")), "A");
    assert_eq!(mode(dir.join("conf/main.conf")), 0o400);
    assert!(!dir.join("b.conf").exists());
}

#[test]
fn missing_objects_and_keys_fail_unless_optional() {
    let pods = PodsDir::new();
    let (objects, node) = (objects(), Node::default());
    let pod = pod_with(vec![cm_volume("absent", None, None)]);
    let err = setup(pods.path(), &node.context(&pod, &objects)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "MountVolume.SetUp failed for volume \"cfg\" : configmap \"absent\" not found"
    );
    let pod = pod_with(vec![cm_volume(
        "app-config",
        Some(vec![item("nope", "x", None)]),
        None,
    )]);
    let err = setup(pods.path(), &node.context(&pod, &objects)).unwrap_err();
    assert_eq!(
        err.message,
        "configmap references non-existent config key: nope"
    );
    let pod = pod_with(vec![cm_volume("absent", None, Some(true))]);
    let vols = setup(pods.path(), &node.context(&pod, &objects)).unwrap();
    assert!(vols.paths["cfg"].is_dir());
    let pod = pod_with(vec![Volume {
        secret: Some(SecretVolumeSource {
            secret_name: Some("creds".into()),
            items: Some(vec![item("token", "t", None)]),
            ..SecretVolumeSource::default()
        }),
        ..volume("sec")
    }]);
    let err = setup(pods.path(), &node.context(&pod, &objects)).unwrap_err();
    assert_eq!(err.message, "references non-existent secret key: token");
}

#[test]
fn a_secret_volume_holds_the_decoded_data() {
    let pods = PodsDir::new();
    let (objects, node) = (objects(), Node::default());
    let pod = pod_with(vec![Volume {
        secret: Some(SecretVolumeSource {
            secret_name: Some("creds".into()),
            ..SecretVolumeSource::default()
        }),
        ..volume("sec")
    }]);
    let vols = setup(pods.path(), &node.context(&pod, &objects)).unwrap();
    assert_eq!(read(vols.paths["sec"].join("user")), "admin");
    assert_eq!(mode(vols.paths["sec"].join("pass")), 0o644);
}

fn downward(path: &str, field: &str) -> DownwardAPIVolumeFile {
    DownwardAPIVolumeFile {
        path: path.into(),
        field_ref: Some(ObjectFieldSelector {
            field_path: field.into(),
            api_version: None,
        }),
        ..DownwardAPIVolumeFile::default()
    }
}

#[test]
fn downward_api_and_projected_volumes_write_pod_fields_and_objects_together() {
    let pods = PodsDir::new();
    let (objects, node) = (objects(), Node::default());
    let mut pod = pod_with(vec![
        Volume {
            downward_api: Some(DownwardAPIVolumeSource {
                items: Some(vec![downward("labels", "metadata.labels")]),
                ..DownwardAPIVolumeSource::default()
            }),
            ..volume("info")
        },
        Volume {
            projected: Some(ProjectedVolumeSource {
                default_mode: Some(0o440),
                sources: Some(vec![
                    VolumeProjection {
                        config_map: Some(ConfigMapProjection {
                            name: "app-config".into(),
                            items: Some(vec![item("a.conf", "a.conf", None)]),
                            optional: None,
                        }),
                        ..VolumeProjection::default()
                    },
                    VolumeProjection {
                        secret: Some(SecretProjection {
                            name: "creds".into(),
                            items: Some(vec![item("user", "user", None)]),
                            optional: None,
                        }),
                        ..VolumeProjection::default()
                    },
                    VolumeProjection {
                        downward_api: Some(DownwardAPIProjection {
                            items: Some(vec![downward("namespace", "metadata.namespace")]),
                        }),
                        ..VolumeProjection::default()
                    },
                ]),
            }),
            ..volume("all")
        },
    ]);
    pod.metadata.labels = Some(testing::pairs(&[("app", "web"), ("tier", "front")]));
    let vols = setup(pods.path(), &node.context(&pod, &objects)).unwrap();
    assert_eq!(
        read(vols.paths["info"].join("labels")),
        "app=\"web\"\ntier=\"front\""
    );
    let all = &vols.paths["all"];
    assert_eq!(read(all.join("a.conf")), "A");
    assert_eq!(read(all.join("user")), "admin");
    assert_eq!(read(all.join("namespace")), "prod");
    assert_eq!(mode(all.join("user")), 0o440);
}

#[test]
fn an_update_rewrites_changed_volumes_atomically() {
    let pods = PodsDir::new();
    let (mut objects, node) = (objects(), Node::default());
    let pod = pod_with(vec![cm_volume("app-config", None, None)]);
    setup(pods.path(), &node.context(&pod, &objects)).unwrap();
    assert!(
        update(pods.path(), &node.context(&pod, &objects))
            .unwrap()
            .is_empty()
    );
    objects.add_config_map(testing::config_map("app-config", &[("a.conf", "A2")]));
    let changed = update(pods.path(), &node.context(&pod, &objects)).unwrap();
    assert_eq!(changed, ["cfg"]);
    let dir = pods
        .path()
        .join("uid-1/volumes/kubernetes.io~configmap/cfg");
    assert_eq!(read(dir.join("a.conf")), "A2");
    assert!(dir.join("b.conf").symlink_metadata().is_err());
}

#[test]
fn a_memory_empty_dir_is_a_tmpfs_of_its_size_limit_unmounted_at_teardown() {
    let pods = PodsDir::new();
    let (objects, node) = (objects(), Node::default());
    let pod = pod_with(vec![Volume {
        empty_dir: Some(EmptyDirVolumeSource {
            medium: Some("Memory".into()),
            size_limit: Some(Quantity("2Mi".into())),
        }),
        ..volume("shm")
    }]);
    let vols = setup(pods.path(), &node.context(&pod, &objects)).unwrap();
    let dir = vols.paths["shm"].clone();
    assert!(host_mounts::is_mount_point(&dir).unwrap());
    let stat = rustix::fs::statvfs(&dir).unwrap();
    assert_eq!(stat.f_blocks * stat.f_frsize, 2 << 20);
    assert_eq!(mode(dir.clone()), 0o777);
    // Set up again (the kubelet's next sync): still one mount.
    setup(pods.path(), &node.context(&pod, &objects)).unwrap();
    teardown(pods.path(), "uid-1").unwrap();
    assert!(!dir.exists());
    let canonical = std::fs::canonicalize(pods.path()).unwrap();
    assert!(
        !host_mounts::mount_points()
            .unwrap()
            .iter()
            .any(|m| m.starts_with(&canonical))
    );
}

#[test]
fn teardown_refuses_what_is_not_a_uid_and_ignores_a_missing_pod() {
    let pods = PodsDir::new();
    assert!(teardown(pods.path(), "").is_err());
    assert!(teardown(pods.path(), "../x").is_err());
    assert!(teardown(pods.path(), "never-was").is_ok());
    assert!(pods.path().exists());
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..VolumeMount::default()
    }
}

#[test]
fn volume_mounts_honour_read_only_sub_path_and_sub_path_expr() {
    let pods = PodsDir::new();
    let (objects, node) = (objects(), Node::default());
    let pod = pod_with(vec![
        cm_volume("app-config", None, None),
        Volume {
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..volume("data")
        },
    ]);
    let vols = setup(pods.path(), &node.context(&pod, &objects)).unwrap();
    let container = k8s_openapi::api::core::v1::Container {
        volume_mounts: Some(vec![
            VolumeMount {
                sub_path: Some("a.conf".into()),
                ..mount("cfg", "/etc/app/a.conf")
            },
            VolumeMount {
                sub_path_expr: Some("logs/$(POD)".into()),
                ..mount("data", "/logs")
            },
        ]),
        termination_message_path: Some(String::new()),
        ..testing::container()
    };
    let env = vec![("POD".to_string(), "web".to_string())];
    let input = MountsInput {
        pods_dir: pods.path(),
        pod: &pod,
        container: &container,
        env: &env,
        volumes: &vols,
        pod_files: None,
        attempt: 0,
        readonly_rootfs: false,
    };
    let mounts = container_mounts(&input).unwrap();
    assert_eq!(mounts.len(), 2);
    let source = |i: usize| match &mounts[i].kind {
        MountKind::Bind { source } => source.clone(),
        other => panic!("{other:?}"),
    };
    // configMap volumes are mounted read-only whatever the mount says.
    assert!(mounts[1].readonly);
    assert_eq!(read(source(1)), "A");
    assert!(source(1).starts_with(std::fs::canonicalize(&vols.paths["cfg"]).unwrap()));
    assert!(!mounts[0].readonly);
    assert!(source(0).ends_with("data/logs/web") && source(0).is_dir());

    let bad = |vm: VolumeMount| {
        let c = k8s_openapi::api::core::v1::Container {
            volume_mounts: Some(vec![vm]),
            ..container.clone()
        };
        container_mounts(&MountsInput {
            container: &c,
            ..input
        })
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
        bad(VolumeMount {
            sub_path: Some("../../etc".into()),
            ..mount("data", "/x")
        }),
        "unable to provision SubPath `../../etc`: must not contain '..'"
    );
    assert_eq!(
        bad(VolumeMount {
            sub_path: Some("/etc".into()),
            ..mount("data", "/x")
        }),
        "error SubPath `/etc` must not be an absolute path"
    );
    assert_eq!(
        bad(mount("nope", "/x")),
        "cannot find volume \"nope\" to mount into container \"app\""
    );
    assert_eq!(
        bad(VolumeMount {
            sub_path_expr: Some("$(NOPE)/x".into()),
            ..mount("data", "/x")
        }),
        "missing value for NOPE"
    );
}

#[test]
fn a_sub_path_symlink_out_of_the_volume_is_refused() {
    let pods = PodsDir::new();
    let (objects, node) = (objects(), Node::default());
    let pod = pod_with(vec![Volume {
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..volume("data")
    }]);
    let vols = setup(pods.path(), &node.context(&pod, &objects)).unwrap();
    std::os::unix::fs::symlink("/etc", vols.paths["data"].join("escape")).unwrap();
    let container = k8s_openapi::api::core::v1::Container {
        volume_mounts: Some(vec![VolumeMount {
            sub_path: Some("escape".into()),
            ..mount("data", "/x")
        }]),
        ..testing::container()
    };
    let input = MountsInput {
        pods_dir: pods.path(),
        pod: &pod,
        container: &container,
        env: &[],
        volumes: &vols,
        pod_files: None,
        attempt: 0,
        readonly_rootfs: false,
    };
    let err = container_mounts(&input).unwrap_err().to_string();
    assert_eq!(
        err,
        "failed to prepare subPath for volumeMount \"data\" of container \"app\""
    );
}

#[test]
fn an_fs_group_owns_empty_dirs_and_config_map_files() {
    use std::os::unix::fs::MetadataExt;
    let pods = PodsDir::new();
    let (objects, node) = (objects(), Node::default());
    let mut pod = pod_with(vec![
        Volume {
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..volume("data")
        },
        cm_volume("app-config", None, None),
    ]);
    pod.spec.as_mut().unwrap().security_context = Some(PodSecurityContext {
        fs_group: Some(2000),
        ..PodSecurityContext::default()
    });
    let vols = setup(pods.path(), &node.context(&pod, &objects)).unwrap();
    let data = std::fs::metadata(&vols.paths["data"]).unwrap();
    assert_eq!((data.gid(), data.mode() & 0o7777), (2000, 0o2777));
    let file = std::fs::metadata(vols.paths["cfg"].join("a.conf")).unwrap();
    assert_eq!((file.gid(), file.mode() & 0o777), (2000, 0o640));
}
