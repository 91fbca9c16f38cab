//! Images over the network and bad input on a real node (root): pulls from a registry the
//! test serves on 127.0.0.1 (named insecure to the server), `imagePullPolicy: Always`, a
//! private image through an `imagePullSecret`, a missing image's `ErrImagePull` and
//! `ImagePullBackOff`, the Node's `status.images`; a missing ConfigMap key and a command
//! that is not there, with the kubelet's reasons, messages and Events.

mod real_node_support;

use krust_e2e::{ROLLOUT_TIMEOUT, true_within};
use krust_image::Credentials;
use krust_image::testing::{BusyboxImage, Registry};
use real_node_support::*;

/// Serves two registries on loopback (one open, one behind basic auth) from a runtime of
/// its own; they stop when the runtime is dropped.
struct Registries {
    open: Registry,
    private: Registry,
    _runtime: tokio::runtime::Runtime,
}

fn registries() -> Registries {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let creds = Credentials {
        username: "krt-user".into(),
        password: "krt-pass".into(),
    };
    let (open, private) = runtime.block_on(async {
        (
            Registry::start(None).await,
            Registry::start(Some(creds)).await,
        )
    });
    Registries {
        open,
        private,
        _runtime: runtime,
    }
}

#[test]
fn images_come_from_registries_and_bad_input_shows_the_kubelets_reasons() {
    let r = registries();
    let (open, private) = (r.open.addr().to_owned(), r.private.addr().to_owned());
    let c = cluster_with(&[
        "--insecure-registry",
        &open,
        "--insecure-registry",
        &private,
    ]);
    let v1 = BusyboxImage::default().image();
    r.open.push("tools/busybox:1", &v1);
    r.private.push("secret/busybox:1", &v1);
    let public_image = format!("{open}/tools/busybox:1");
    let private_image = format!("{private}/secret/busybox:1");
    c.ok(&[
        "create",
        "secret",
        "docker-registry",
        "krt-pull",
        &format!("--docker-server={private}"),
        "--docker-username=krt-user",
        "--docker-password=krt-pass",
    ]);
    c.ok(&["create", "configmap", "krt-cm", "--from-literal=color=blue"]);
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: pulled}}
spec:
  containers: [{{name: c, image: "{public_image}", command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: always}}
spec:
  containers: [{{name: c, image: "{public_image}", imagePullPolicy: Always, command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: private}}
spec:
  imagePullSecrets: [{{name: krt-pull}}]
  containers: [{{name: c, image: "{private_image}", command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: no-secret}}
spec:
  containers: [{{name: c, image: "{private_image}", imagePullPolicy: Always, command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: missing}}
spec:
  containers: [{{name: c, image: "{open}/tools/nothing:1"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: missing-key}}
spec:
  containers:
  - name: c
    image: {IMAGE}
    command: [sleep, "3600"]
    env: [{{name: X, valueFrom: {{configMapKeyRef: {{name: krt-cm, key: nope}}}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: not-found}}
spec:
  restartPolicy: Never
  containers: [{{name: c, image: {IMAGE}, command: [/bin/krt-no-such-command]}}]
"#
        ),
    );
    wait_running(&c, "pulled");
    wait_running(&c, "always");
    wait_running(&c, "private");
    assert!(
        event_within(&c, "pulled", &["Pulling", "Successfully pulled image"]),
        "{}",
        events(&c, "pulled")
    );
    // `Always` asks the registry again on the next start.
    let before = r.open.manifest_requests("tools/busybox");
    c.ok(&["delete", "pod", "always", "--grace-period=1"]);
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: always}}
spec:
  containers: [{{name: c, image: "{public_image}", imagePullPolicy: Always, command: [sleep, "3600"]}}]
"#
        ),
    );
    wait_running(&c, "always");
    assert!(r.open.manifest_requests("tools/busybox") > before);
    let image_id = c.jsonpath(&["pod", "always"], "{.status.containerStatuses[0].imageID}");
    assert!(image_id.contains("@sha256:"), "{image_id}");

    // Without the secret the private registry refuses the pull.
    assert!(
        event_within(&c, "no-secret", &["Failed to pull image", "ErrImagePull"]),
        "{}",
        events(&c, "no-secret")
    );
    let waiting = c.jsonpath(
        &["pod", "no-secret"],
        "{.status.containerStatuses[0].state.waiting.reason}",
    );
    assert!(
        waiting == "ErrImagePull" || waiting == "ImagePullBackOff",
        "{waiting}"
    );
    // A missing image: ErrImagePull, then ImagePullBackOff, with the kubelet's Events.
    let reason = |pod: &str| {
        c.jsonpath(
            &["pod", pod],
            "{.status.containerStatuses[0].state.waiting.reason}",
        )
    };
    // (ErrImagePull lasts until the back-off starts: its Event stays.)
    assert!(
        event_within(&c, "missing", &["Error: ErrImagePull"]),
        "{}",
        events(&c, "missing")
    );
    assert!(
        true_within(ROLLOUT_TIMEOUT, || reason("missing") == "ImagePullBackOff"),
        "{}",
        c.ok(&["get", "pod", "missing", "-o", "yaml"])
    );
    assert!(
        event_within(
            &c,
            "missing",
            &[
                "Failed",
                "ErrImagePull",
                "BackOff",
                "Back-off pulling image",
                "Error: ImagePullBackOff"
            ]
        ),
        "{}",
        events(&c, "missing")
    );
    let message = c.jsonpath(
        &["pod", "missing"],
        "{.status.containerStatuses[0].state.waiting.message}",
    );
    assert!(message.contains("Back-off pulling image"), "{message}");

    // The Node lists its images.
    let images = c.jsonpath(&["node", &c.node_name()], "{.status.images[*].names}");
    for name in [IMAGE, public_image.as_str(), private_image.as_str()] {
        assert!(
            true_within(ROLLOUT_TIMEOUT, || c
                .jsonpath(&["node", &c.node_name()], "{.status.images[*].names}")
                .contains(name)),
            "{name} not in {images}"
        );
    }

    // A missing ConfigMap key.
    wait_for(
        &c,
        "missing-key",
        "{.status.containerStatuses[0].state.waiting.reason}",
        "CreateContainerConfigError",
    );
    let message = c.jsonpath(
        &["pod", "missing-key"],
        "{.status.containerStatuses[0].state.waiting.message}",
    );
    assert_eq!(
        message,
        "couldn't find key nope in ConfigMap default/krt-cm"
    );
    assert!(
        event_within(&c, "missing-key", &["Failed", "couldn't find key nope"]),
        "{}",
        events(&c, "missing-key")
    );

    // A command that is not there: the container ends, as runc words it, with an Event.
    assert!(
        true_within(ROLLOUT_TIMEOUT, || !c
            .jsonpath(
                &["pod", "not-found"],
                "{.status.containerStatuses[0].state.terminated.exitCode}"
            )
            .is_empty()),
        "{}",
        c.ok(&["get", "pod", "not-found", "-o", "yaml"])
    );
    let terminated =
        c.get_json(&["pod", "not-found"])["status"]["containerStatuses"][0]["state"]["terminated"]
            .clone();
    assert_eq!(terminated["reason"], "StartError", "{terminated}");
    assert_eq!(terminated["exitCode"], 128, "{terminated}");
    assert!(
        terminated["message"]
            .as_str()
            .is_some_and(|m| m.contains("/bin/krt-no-such-command")),
        "{terminated}"
    );
    assert_eq!(
        c.jsonpath(&["pod", "not-found"], "{.status.phase}"),
        "Failed"
    );
    assert!(
        event_within(&c, "not-found", &["Failed", "krt-no-such-command"]),
        "{}",
        events(&c, "not-found")
    );

    // The server is still there.
    c.ok(&["get", "--raw", "/readyz"]);
    remove_pods(&c);
}
