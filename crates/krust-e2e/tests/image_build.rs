//! `krust image build` on a real node (root), the seed's flow without docker: a small web app
//! built FROM the offline busybox in the node's own store (two stages, RUN, COPY --from,
//! ENV, WORKDIR, CMD), run at once as a pod (`imagePullPolicy: Never`) whose logs and
//! page kubectl shows; then pushed to a loopback registry and pulled from there by a pod,
//! with the digest the store has; then a Deployment of it moved to a second build with
//! `kubectl set image` and `rollout status`.

mod real_node_support;

use krust_image::testing::Registry;
use krust_image::{ImageStore, store_dir};
use real_node_support::*;

const DOCKERFILE: &str = r#"FROM krust.test/busybox:1 AS page
WORKDIR /build
RUN echo "<h1>built by krust</h1>" > index.html

FROM krust.test/busybox:1
ENV APP_NAME=web
WORKDIR /srv
COPY --from=page /build/index.html ./
COPY motd.txt ./
CMD ["sh", "-c", "echo serving $APP_NAME from $(pwd): $(cat motd.txt); exec httpd -f -p 8080 -h /srv"]
"#;

fn pod(name: &str, image: &str, policy: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: web\n    image: {image}\n    imagePullPolicy: {policy}\n"
    )
}

#[test]
fn a_built_image_runs_at_once_is_pulled_back_from_a_registry_and_rolls_out_as_a_second_tag() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let registry = runtime.block_on(Registry::start(None));
    let c = cluster_with(&["--insecure-registry", registry.addr()]);

    let ctx = c.data_dir().join("web-ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(ctx.join("motd.txt"), "hello from the context").unwrap();
    let built = c.krust(&[
        "image",
        "build",
        "-t",
        "krust.test/web:1",
        ctx.to_str().unwrap(),
    ]);
    assert!(built.success(), "{}{}", built.stdout, built.stderr);
    assert!(
        built
            .stdout
            .contains("Successfully tagged krust.test/web:1"),
        "{}",
        built.stdout
    );

    apply(&c, &pod("web", "krust.test/web:1", "Never"));
    wait_running(&c, "web");
    let logs_ok = krust_e2e::true_within(krust_e2e::ROLLOUT_TIMEOUT, || {
        c.kubectl(&["logs", "web"])
            .stdout
            .contains("serving web from /srv: hello from the context")
    });
    assert!(logs_ok, "logs: {}", c.kubectl(&["logs", "web"]).stdout);
    let page = sh(&c, "web", "wget -qO- http://127.0.0.1:8080/index.html");
    assert_eq!(page.trim(), "<h1>built by krust</h1>");

    let target = format!("{}/apps/web:1", registry.addr());
    let push = c.krust(&["image", "push", "krust.test/web:1", &target]);
    assert!(push.success(), "{}{}", push.stdout, push.stderr);
    let store = ImageStore::open(store_dir(&c.data_dir())).unwrap();
    let digest = store.resolve("krust.test/web:1").unwrap();
    assert_eq!(registry.manifest_digest("apps/web:1"), Some(digest.clone()));

    apply(&c, &pod("pulled", &target, "Always"));
    wait_running(&c, "pulled");
    assert_eq!(registry.manifest_requests("apps/web"), 1);
    let image_id = c.jsonpath(&["pod", "pulled"], "{.status.containerStatuses[0].imageID}");
    assert!(
        image_id.ends_with(digest.as_str()),
        "{image_id} vs {digest}"
    );
    remove_pods(&c);

    // The seed's flow: a Deployment of the image, a change, a second tag, set image.
    apply(
        &c,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: web\n        image: krust.test/web:1\n",
    );
    assert!(
        c.deployment_ready("web", "1/1"),
        "{}",
        c.ok(&["describe", "pods", "-l", "app=web"])
    );
    std::fs::write(ctx.join("motd.txt"), "hello from version 2").unwrap();
    let second = c.krust(&[
        "image",
        "build",
        "-t",
        "krust.test/web:2",
        ctx.to_str().unwrap(),
    ]);
    assert!(second.success(), "{}{}", second.stdout, second.stderr);
    assert_eq!(
        second.stdout.matches(" ---> Using cache").count(),
        5,
        "{}",
        second.stdout
    );
    c.ok(&["set", "image", "deployment/web", "web=krust.test/web:2"]);
    let status = c.ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    assert!(status.contains("successfully rolled out"), "{status}");
    let v2 = krust_e2e::true_within(krust_e2e::ROLLOUT_TIMEOUT, || {
        c.kubectl(&["logs", "deploy/web"])
            .stdout
            .contains("hello from version 2")
    });
    assert!(v2, "logs: {}", c.kubectl(&["logs", "deploy/web"]).stdout);
    c.ok(&["delete", "deployment", "web", "--wait=true"]);
    remove_pods(&c);
}
