use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Secret};
use krust_component::events::{EventType, Record};
use krust_image::testing::{BusyboxImage, Registry};
use krust_image::{Credentials, ImageStore};

use super::*;

struct Fixture {
    manager: ImageManager,
    events: Arc<Mutex<Vec<Record>>>,
    registry: Registry,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new(auth: Option<Credentials>, backoff: Duration) -> Self {
        let registry = Registry::start(auth).await;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(ImageStore::open(dir.path().join("images")).unwrap());
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let options = ImageManagerOptions {
            node_name: "krt-node".into(),
            insecure_registries: vec![registry.addr().to_owned()],
            backoff_initial: backoff,
            backoff_max: backoff * 4,
        };
        let manager = ImageManager::new(
            store,
            options,
            Arc::new(move |r| sink.lock().unwrap().push(r)),
        );
        Self {
            manager,
            events,
            registry,
            _dir: dir,
        }
    }

    fn image(&self, repository_tag: &str) -> String {
        format!("{}/{repository_tag}", self.registry.addr())
    }

    /// The Events so far as (type, reason, message), and forgets them.
    fn take_events(&self) -> Vec<(EventType, String, String)> {
        let mut events = self.events.lock().unwrap();
        events
            .drain(..)
            .map(|r| (r.type_, r.reason, r.message))
            .collect()
    }

    fn reasons(&self) -> Vec<String> {
        self.take_events().into_iter().map(|e| e.1).collect()
    }
}

fn pod(uid: &str) -> Pod {
    let mut pod = Pod {
        spec: Some(PodSpec::default()),
        ..Default::default()
    };
    pod.metadata.name = Some("web".into());
    pod.metadata.namespace = Some("default".into());
    pod.metadata.uid = Some(uid.into());
    pod
}

fn container(image: &str, policy: Option<&str>) -> Container {
    Container {
        name: "app".into(),
        image: Some(image.into()),
        image_pull_policy: policy.map(Into::into),
        ..Default::default()
    }
}

#[tokio::test]
async fn if_not_present_pulls_once_then_finds_the_image_on_the_machine() {
    let f = Fixture::new(None, Duration::from_secs(10)).await;
    let digest = f
        .registry
        .push("tools/busybox:1", &BusyboxImage::default().image());
    let image = f.image("tools/busybox:1");
    let c = container(&image, None);
    let pulled = f.manager.ensure(&pod("u1"), &c, &[]).await.unwrap();
    assert_eq!(pulled.image_id, digest);
    assert_eq!(pulled.image_ref, image);
    assert_eq!(
        pulled.repo_digest(),
        format!("{}/tools/busybox@{digest}", f.registry.addr())
    );
    assert_eq!(pulled.config.cmd, Some(vec!["sh".to_owned()]));
    assert!(pulled.lower_dirs[0].join("bin/busybox").is_file());
    let events = f.take_events();
    assert_eq!(
        events[0],
        (
            EventType::Normal,
            "Pulling".into(),
            format!("Pulling image {image:?}")
        )
    );
    let (t, reason, msg) = &events[1];
    assert_eq!((*t, reason.as_str()), (EventType::Normal, "Pulled"));
    let prefix = format!("Successfully pulled image {image:?} in ");
    assert!(
        msg.starts_with(&prefix) && msg.contains(" including waiting). Image size: "),
        "{msg}"
    );
    assert!(msg.ends_with(" bytes."), "{msg}");

    let again = f.manager.ensure(&pod("u2"), &c, &[]).await.unwrap();
    assert_eq!(again, pulled);
    assert_eq!(f.registry.manifest_requests("tools/busybox"), 1);
    let msg = format!("Container image {image:?} already present on machine");
    assert_eq!(f.take_events(), [(EventType::Normal, "Pulled".into(), msg)]);
}

#[tokio::test]
async fn always_pulls_every_time_and_is_the_default_for_latest() {
    let f = Fixture::new(None, Duration::from_secs(10)).await;
    f.registry
        .push("tools/busybox:latest", &BusyboxImage::default().image());
    let explicit = container(&f.image("tools/busybox:latest"), Some("Always"));
    let default = container(&f.image("tools/busybox"), None);
    for c in [&explicit, &default, &default] {
        f.manager.ensure(&pod("u1"), c, &[]).await.unwrap();
    }
    assert_eq!(f.registry.manifest_requests("tools/busybox"), 3);
    assert_eq!(
        f.reasons(),
        [
            "Pulling", "Pulled", "Pulling", "Pulled", "Pulling", "Pulled"
        ]
    );
}

#[tokio::test]
async fn never_fails_for_an_absent_image_without_asking_the_registry() {
    let f = Fixture::new(None, Duration::from_secs(10)).await;
    f.registry
        .push("tools/busybox:1", &BusyboxImage::default().image());
    let image = f.image("tools/busybox:1");
    let err = f
        .manager
        .ensure(&pod("u1"), &container(&image, Some("Never")), &[])
        .await
        .unwrap_err();
    let msg = format!("Container image {image:?} is not present with pull policy of Never");
    assert_eq!(err, PullError::ErrImageNeverPull(msg.clone()));
    assert_eq!(err.reason(), "ErrImageNeverPull");
    assert_eq!(
        f.take_events(),
        [(EventType::Warning, "ErrImageNeverPull".into(), msg)]
    );
    assert_eq!(f.registry.manifest_requests("tools/busybox"), 0);

    f.manager
        .ensure(&pod("u1"), &container(&image, None), &[])
        .await
        .unwrap();
    let present = f
        .manager
        .ensure(&pod("u1"), &container(&image, Some("Never")), &[])
        .await;
    assert!(present.is_ok());
}

#[tokio::test]
async fn a_missing_image_fails_then_backs_off_and_is_pulled_once_the_back_off_ends() {
    let backoff = Duration::from_millis(800);
    let f = Fixture::new(None, backoff).await;
    let image = f.image("tools/late:1");
    let c = container(&image, None);
    let p = pod("u1");
    let err = f.manager.ensure(&p, &c, &[]).await.unwrap_err();
    let PullError::ErrImagePull(why) = &err else {
        panic!("{err}")
    };
    assert!(why.ends_with(&format!("{image}: not found")), "{why}");
    let events = f.take_events();
    assert_eq!(
        events[1],
        (
            EventType::Warning,
            "Failed".into(),
            format!("Failed to pull image {image:?}: {why}")
        )
    );

    let msg = format!("Back-off pulling image {image:?}");
    let err = f.manager.ensure(&p, &c, &[]).await.unwrap_err();
    assert_eq!(err, PullError::ImagePullBackOff(msg.clone()));
    assert_eq!(
        f.take_events(),
        [(EventType::Normal, "BackOff".into(), msg)]
    );
    assert_eq!(f.registry.manifest_requests("tools/late"), 1);

    tokio::time::sleep(backoff + Duration::from_millis(50)).await;
    let err = f.manager.ensure(&p, &c, &[]).await.unwrap_err();
    assert_eq!(err.reason(), "ErrImagePull");
    assert_eq!(f.registry.manifest_requests("tools/late"), 2);
    // The second failure doubles the back-off: still backing off after the first one's length.
    tokio::time::sleep(backoff + Duration::from_millis(50)).await;
    assert_eq!(
        f.manager.ensure(&p, &c, &[]).await.unwrap_err().reason(),
        "ImagePullBackOff"
    );
    assert_eq!(f.reasons(), ["Pulling", "Failed", "BackOff"]);

    f.registry
        .push("tools/late:1", &BusyboxImage::default().image());
    tokio::time::sleep(backoff).await;
    f.manager.ensure(&p, &c, &[]).await.unwrap();
    assert_eq!(f.reasons(), ["Pulling", "Pulled"]);
}

#[tokio::test]
async fn a_pull_secret_gives_the_registry_its_basic_credentials() {
    let creds = Credentials {
        username: "krt-user".into(),
        password: "krt-pass".into(),
    };
    let f = Fixture::new(Some(creds), Duration::from_secs(10)).await;
    f.registry
        .push("private/app:1", &BusyboxImage::default().image());
    let c = container(&f.image("private/app:1"), None);
    let err = f.manager.ensure(&pod("u1"), &c, &[]).await.unwrap_err();
    assert!(err.message().contains("pull access denied"), "{err}");

    let config = serde_json::json!({"auths": {f.registry.addr(): {"username": "krt-user", "password": "krt-pass"}}});
    let secret = Secret {
        type_: Some(secrets::DOCKER_CONFIG_JSON.into()),
        data: Some(
            [(
                ".dockerconfigjson".to_owned(),
                ByteString(serde_json::to_vec(&config).unwrap()),
            )]
            .into(),
        ),
        ..Default::default()
    };
    f.manager.ensure(&pod("u2"), &c, &[secret]).await.unwrap();
}

#[tokio::test]
async fn concurrent_ensures_of_one_image_wait_for_one_pull() {
    let f = Fixture::new(None, Duration::from_secs(10)).await;
    let digest = f
        .registry
        .push("tools/busybox:1", &BusyboxImage::default().image());
    let c = container(&f.image("tools/busybox:1"), Some("Always"));
    let pods: Vec<Pod> = (0..5).map(|i| pod(&format!("u{i}"))).collect();
    let all = futures::future::join_all(pods.iter().map(|p| f.manager.ensure(p, &c, &[]))).await;
    for pulled in all {
        assert_eq!(pulled.unwrap().image_id, digest);
    }
    assert_eq!(f.registry.manifest_requests("tools/busybox"), 1);
    let reasons = f.reasons();
    assert_eq!(
        reasons.iter().filter(|r| *r == "Pulled").count(),
        5,
        "{reasons:?}"
    );
}

#[tokio::test]
async fn an_invalid_image_name_is_refused_before_any_pull() {
    let f = Fixture::new(None, Duration::from_secs(10)).await;
    let err = f
        .manager
        .ensure(&pod("u1"), &container("Bad/Name", None), &[])
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "InvalidImageName");
    assert_eq!(
        err.message(),
        r#"Failed to apply default image tag "Bad/Name": couldn't parse image name "Bad/Name": invalid reference format"#
    );
    let events = f.take_events();
    assert_eq!(
        (events[0].0, events[0].1.as_str()),
        (EventType::Warning, "InspectFailed")
    );
}

#[tokio::test]
async fn events_name_the_container_and_the_node() {
    let f = Fixture::new(None, Duration::from_secs(10)).await;
    let c = container(&f.image("tools/none:1"), Some("Never"));
    let mut p = pod("u1");
    p.spec.as_mut().unwrap().init_containers = Some(vec![c.clone()]);
    let _ = f.manager.ensure(&p, &c, &[]).await;
    let record = f.events.lock().unwrap().pop().unwrap();
    assert_eq!(
        record.object.field_path.as_deref(),
        Some("spec.initContainers{app}")
    );
    assert_eq!(record.object.uid.as_deref(), Some("u1"));
    assert_eq!(record.host.as_deref(), Some("krt-node"));
}

#[tokio::test]
async fn node_images_list_digest_names_then_tags_and_sizes() {
    let f = Fixture::new(None, Duration::from_secs(10)).await;
    let digest = f
        .registry
        .push("tools/busybox:1", &BusyboxImage::default().image());
    f.manager
        .ensure(
            &pod("u1"),
            &container(&f.image("tools/busybox:1"), None),
            &[],
        )
        .await
        .unwrap();
    let images = f.manager.node_images();
    assert_eq!(images.len(), 1);
    let names = images[0].names.clone().unwrap();
    let repo = f.image("tools/busybox");
    assert_eq!(names, [format!("{repo}@{digest}"), format!("{repo}:1")]);
    assert!(images[0].size_bytes.unwrap() > 500_000);
}

#[tokio::test]
async fn an_image_loaded_from_an_archive_is_present_without_any_registry() {
    let f = Fixture::new(None, Duration::from_secs(10)).await;
    let dir = tempfile::tempdir().unwrap();
    let archive = krust_image::testing::busybox_archive(dir.path(), "krust.test/busybox:1");
    krust_image::archive::load_file(f.manager.store(), &archive).unwrap();
    let pulled = f
        .manager
        .ensure(&pod("u1"), &container("krust.test/busybox:1", None), &[])
        .await
        .unwrap();
    assert_eq!(pulled.image_ref, "krust.test/busybox:1");
    assert!(pulled.lower_dirs[0].join("bin/sh").is_symlink());
    assert_eq!(f.reasons(), ["Pulled"]);
}
