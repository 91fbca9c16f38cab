//! `kubectl rollout history|pause|resume|restart` on a whole cluster (`krust server
//! --sim-nodes 3`), checking what a user sees: the messages are those kubectl prints against
//! Kubernetes.

use krust_e2e::{Cluster, ROLLOUT_TIMEOUT, table, true_within};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn cluster() -> Cluster {
    Cluster::start_with(&["--sim-nodes", "3"])
}

/// Creates the Deployment `name` of `replicas` nginx pods and waits until they all run.
fn create(c: &Cluster, name: &str, replicas: usize) -> BTreeSet<String> {
    c.ok(&[
        "create",
        "deployment",
        name,
        "--image=nginx",
        &format!("--replicas={replicas}"),
    ]);
    rolled_out(c, name);
    running(c, name, replicas, "nginx")
}

/// `kubectl rollout status` until the rollout is complete; checks kubectl's closing line.
fn rolled_out(c: &Cluster, name: &str) {
    // Shorter than the harness's kubectl timeout, so that kubectl says why it gave up.
    let out = c.ok(&[
        "rollout",
        "status",
        &format!("deployment/{name}"),
        "--timeout=25s",
    ]);
    let done = format!("deployment \"{name}\" successfully rolled out");
    assert!(out.trim_end().ends_with(&done), "{out}");
}

/// Waits until the pods of Deployment `name` are exactly `replicas` running pods of `image`
/// (old ones gone); returns their names.
fn running(c: &Cluster, name: &str, replicas: usize, image: &str) -> BTreeSet<String> {
    let selector = format!("app={name}");
    let mut pods = c.pods(&selector);
    let settled = true_within(ROLLOUT_TIMEOUT, || {
        pods = c.pods(&selector);
        pods.len() == replicas
            && pods
                .values()
                .all(|p| p.phase == "Running" && p.image == image)
    });
    assert!(
        settled,
        "want {replicas} running pods of {image}: {pods:#?}"
    );
    pods.into_keys().collect()
}

/// `kubectl rollout history deployment/<name>`.
fn history(c: &Cluster, name: &str) -> String {
    c.ok(&["rollout", "history", &format!("deployment/{name}")])
}

/// The value of the `Image:` line of a pod template printed by `rollout history --revision`.
fn template_image(template: &str) -> &str {
    template
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Image:"))
        .unwrap_or_else(|| panic!("no Image: line in\n{template}"))
        .trim()
}

#[test]
fn history_lists_revisions_and_shows_one_revision_s_template() {
    let c = cluster();
    create(&c, "web", 2);
    assert_eq!(
        history(&c, "web"),
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n\n"
    );

    c.ok(&["set", "image", "deployment/web", "nginx=nginx:1.25"]);
    // The cause is copied to the new ReplicaSet only: revision 1 keeps none.
    c.ok(&[
        "annotate",
        "deployment/web",
        "kubernetes.io/change-cause=set image nginx:1.25",
    ]);
    rolled_out(&c, "web");
    let pods = running(&c, "web", 2, "nginx:1.25");
    assert_eq!(
        history(&c, "web"),
        "deployment.apps/web \n\
         REVISION  CHANGE-CAUSE\n\
         1         <none>\n\
         2         set image nginx:1.25\n\n"
    );

    let two = c.ok(&["rollout", "history", "deployment/web", "--revision=2"]);
    let head = "deployment.apps/web with revision #2\nPod Template:\n  Labels:\tapp=web\n\tpod-template-hash=";
    assert!(two.starts_with(head), "{two}");
    // The template of revision 2 is the one the running pods were made from.
    let hash = two[head.len()..].lines().next().unwrap_or_default();
    assert!(
        pods.iter().all(|p| p.starts_with(&format!("web-{hash}-"))),
        "pods {pods:?} are not of template {hash}:\n{two}"
    );
    assert!(
        two.contains("\n  Annotations:\tkubernetes.io/change-cause: set image nginx:1.25\n"),
        "{two}"
    );
    assert!(two.contains("\n  Containers:\n   nginx:\n"), "{two}");
    assert_eq!(template_image(&two), "nginx:1.25", "{two}");

    let one = c.ok(&["rollout", "history", "deployment/web", "--revision=1"]);
    assert!(
        one.starts_with("deployment.apps/web with revision #1\nPod Template:\n"),
        "{one}"
    );
    assert_eq!(template_image(&one), "nginx", "{one}");
    assert!(!one.contains("Annotations:"), "{one}");

    let err = c.fails(&["rollout", "history", "deployment/web", "--revision=3"]);
    assert_eq!(err.trim(), "error: unable to find the specified revision");
}

#[test]
fn a_paused_deployment_does_not_roll_until_resumed() {
    let c = cluster();
    let old = create(&c, "web", 3);

    assert_eq!(
        c.ok(&["rollout", "pause", "deployment/web"]),
        "deployment.apps/web paused\n"
    );
    assert_eq!(c.jsonpath(&["deploy", "web"], "{.spec.paused}"), "true");
    let err = c.fails(&["rollout", "pause", "deployment/web"]);
    assert_eq!(
        err.trim(),
        "error: deployments.apps \"web\" is already paused"
    );

    assert_eq!(
        c.ok(&["set", "image", "deployment/web", "nginx=nginx:1.25"]),
        "deployment.apps/web image updated\n"
    );
    // Once the controller reports the new generation observed, it has seen the new template.
    let generations = "{.metadata.generation} {.status.observedGeneration}";
    assert!(
        true_within(ROLLOUT_TIMEOUT, || {
            let g = c.jsonpath(&["deploy", "web"], generations);
            g.split_once(' ').is_some_and(|(a, b)| a == b)
        }),
        "the controller never observed the new generation: {}",
        c.jsonpath(&["deploy", "web"], generations)
    );
    // Kubernetes makes no ReplicaSet for the new template while paused: nothing rolls.
    let replicasets =
        "{range .items[*]}{.spec.replicas} {.spec.template.spec.containers[0].image}{\"\\n\"}{end}";
    let hold = Instant::now() + Duration::from_secs(2);
    while Instant::now() < hold {
        let rs = c.ok(&[
            "get",
            "rs",
            "-l",
            "app=web",
            "-o",
            &format!("jsonpath={replicasets}"),
        ]);
        assert_eq!(rs, "3 nginx\n", "a paused deployment rolled");
        let pods = c.pods("app=web");
        assert_eq!(
            pods.keys().cloned().collect::<BTreeSet<_>>(),
            old,
            "{pods:#?}"
        );
        assert!(pods.values().all(|p| p.image == "nginx"), "{pods:#?}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let rows = table(&c.ok(&["get", "deploy", "web"]));
    assert_eq!(rows[0], ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert_eq!(rows[1][..4], ["web", "3/3", "0", "3"], "{rows:?}");
    assert_eq!(
        c.jsonpath(
            &["deploy", "web"],
            "{.status.conditions[?(@.type==\"Progressing\")].reason}"
        ),
        "DeploymentPaused"
    );
    assert_eq!(
        history(&c, "web"),
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n\n"
    );
    let err = c.fails(&["rollout", "restart", "deployment/web"]);
    assert_eq!(
        err.trim(),
        "error: deployments.apps \"web\" can't restart paused deployment (run rollout resume first)"
    );

    assert_eq!(
        c.ok(&["rollout", "resume", "deployment/web"]),
        "deployment.apps/web resumed\n"
    );
    assert_eq!(c.jsonpath(&["deploy", "web"], "{.spec.paused}"), "");
    rolled_out(&c, "web");
    let new = running(&c, "web", 3, "nginx:1.25");
    assert!(new.is_disjoint(&old), "old pods left: {old:?} {new:?}");
    assert_eq!(
        history(&c, "web"),
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    );
    let err = c.fails(&["rollout", "resume", "deployment/web"]);
    assert_eq!(err.trim(), "error: deployments.apps \"web\" is not paused");
}

#[test]
fn restart_replaces_every_pod() {
    let c = cluster();
    let old = create(&c, "web", 3);

    assert_eq!(
        c.ok(&["rollout", "restart", "deployment/web"]),
        "deployment.apps/web restarted\n"
    );
    let at = c.jsonpath(
        &["deploy", "web"],
        "{.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
    );
    // RFC 3339, as kubectl writes it: 2006-01-02T15:04:05Z07:00.
    assert!(
        at.len() >= 20 && at.as_bytes()[10] == b'T' && at[..4].parse::<u16>().is_ok(),
        "restartedAt {at:?}"
    );
    rolled_out(&c, "web");
    let new = running(&c, "web", 3, "nginx");
    assert!(new.is_disjoint(&old), "old pods left: {old:?} {new:?}");

    assert_eq!(
        history(&c, "web"),
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    );
    let two = c.ok(&["rollout", "history", "deployment/web", "--revision=2"]);
    assert!(
        two.contains(&format!(
            "\n  Annotations:\tkubectl.kubernetes.io/restartedAt: {at}\n"
        )),
        "{two}"
    );
    assert_eq!(template_image(&two), "nginx", "{two}");
}
