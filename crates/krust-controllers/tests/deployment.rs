//! The Deployment controller (with the ReplicaSet controller) against an in-process API server.
//! There is no scheduler or kubelet: a test either marks pods ready itself or runs
//! [`auto_ready`], which does what a kubelet would (Running + Ready as soon as a pod appears).

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use krust_controllers::informers::Informers;
use krust_testkit::{Spawned, eventually, spawn};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const HASH: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";

struct Env {
    _server: krust_testkit::TestServer,
    client: Client,
    tasks: Vec<Spawned>,
}

async fn start() -> Env {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    // Both read pods and ReplicaSets through one watch each, as in the controller manager.
    let informers = Informers::new(client.clone());
    let tasks = vec![
        spawn(
            "replicaset",
            krust_controllers::replicaset::run(informers.clone()),
        ),
        spawn("deployment", krust_controllers::deployment::run(informers)),
    ];
    Env {
        _server: server,
        client,
        tasks,
    }
}

impl Env {
    fn deployments(&self) -> Api<Deployment> {
        Api::default_namespaced(self.client.clone())
    }
    fn replicasets(&self) -> Api<ReplicaSet> {
        Api::default_namespaced(self.client.clone())
    }
    fn pods(&self) -> Api<Pod> {
        Api::default_namespaced(self.client.clone())
    }

    /// Marks every pod ready as soon as it appears, as a kubelet would.
    fn auto_ready(&mut self) {
        let pods = self.pods();
        self.tasks.push(spawn("auto-ready", async move {
            let stream = watcher(pods.clone(), watcher::Config::default())
                .default_backoff()
                .applied_objects();
            futures::pin_mut!(stream);
            while let Some(Ok(pod)) = stream.next().await {
                if pod.metadata.deletion_timestamp.is_none() && !is_ready(&pod) {
                    set_ready(&pods, &pod.name_any()).await;
                }
            }
            Ok(())
        }));
    }

    async fn create(&self, d: Value) -> Deployment {
        let d: Deployment = serde_json::from_value(d).unwrap();
        self.deployments()
            .create(&PostParams::default(), &d)
            .await
            .unwrap()
    }

    async fn patch(&self, name: &str, patch: Value) {
        self.deployments()
            .patch(name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
            .unwrap();
    }

    /// The ReplicaSets a Deployment controls, by revision.
    async fn owned(&self, name: &str) -> Vec<ReplicaSet> {
        let d = self.deployments().get(name).await.unwrap();
        let mut rss: Vec<ReplicaSet> = self
            .replicasets()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|rs| {
                rs.owner_references()
                    .iter()
                    .any(|o| Some(&o.uid) == d.metadata.uid.as_ref())
            })
            .collect();
        rss.sort_by_key(|rs| {
            rs.annotations()
                .get(REVISION)
                .and_then(|r| r.parse::<i64>().ok())
                .unwrap_or(0)
        });
        rss
    }

    /// Waits until the Deployment's rollout is complete as `kubectl rollout status` sees it.
    async fn rolled_out(&self, name: &str) -> Deployment {
        eventually(WAIT, "the rollout to complete", || async {
            let d = self.deployments().get(name).await.unwrap();
            rolled_out(&d).then_some(d)
        })
        .await
    }

    async fn events(&self, object: &str) -> Vec<Event> {
        let events: Api<Event> = Api::default_namespaced(self.client.clone());
        events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(object))
            .collect()
    }
}

/// `kubectl rollout status`' test for "successfully rolled out".
fn rolled_out(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(s) = &d.status else { return false };
    let timed_out = s.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    !timed_out
        && d.metadata.generation <= s.observed_generation
        && s.updated_replicas.unwrap_or(0) >= want
        && s.replicas.unwrap_or(0) <= s.updated_replicas.unwrap_or(0)
        && s.available_replicas.unwrap_or(0) >= s.updated_replicas.unwrap_or(0)
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn set_ready(pods: &Api<Pod>, name: &str) {
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let status = json!({"status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
    }});
    let _ = pods
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await;
}

fn deployment(name: &str, replicas: i32, image: &str, strategy: Value) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "nginx", "image": image}]},
            },
        },
    })
}

fn set_image(image: &str) -> Value {
    json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": image}]}}}})
}

fn annotation(rs: &ReplicaSet, key: &str) -> Option<String> {
    rs.annotations().get(key).cloned()
}

fn condition<'a>(d: &'a Deployment, type_: &str) -> (&'a str, &'a str, &'a str) {
    let c = d
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no {type_} condition"));
    (
        c.status.as_str(),
        c.reason.as_deref().unwrap_or(""),
        c.message.as_deref().unwrap_or(""),
    )
}

fn image_of(rs: &ReplicaSet) -> String {
    rs.spec
        .as_ref()
        .unwrap()
        .template
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone()
        .unwrap()
}

#[tokio::test]
async fn creates_a_replicaset_with_the_template_hash_and_completes() {
    let mut env = start().await;
    env.auto_ready();
    let d = env
        .create(deployment("nginx-depl", 1, "nginx", json!({})))
        .await;
    let rs = eventually(WAIT, "a ReplicaSet", || async {
        env.owned("nginx-depl").await.into_iter().next()
    })
    .await;
    let hash = rs.labels().get(HASH).cloned().expect("the hash label");
    assert_eq!(rs.name_any(), format!("nginx-depl-{hash}"));
    assert!(
        hash.len() >= 8
            && hash
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
    );
    let spec = rs.spec.as_ref().unwrap();
    assert_eq!(
        spec.selector.match_labels.as_ref().unwrap().get(HASH),
        Some(&hash)
    );
    let template_labels = spec
        .template
        .as_ref()
        .unwrap()
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    assert_eq!(template_labels.get(HASH), Some(&hash));
    assert_eq!(
        template_labels.get("app").map(String::as_str),
        Some("nginx-depl")
    );
    assert_eq!(annotation(&rs, REVISION).as_deref(), Some("1"));
    assert_eq!(
        annotation(&rs, "deployment.kubernetes.io/desired-replicas").as_deref(),
        Some("1")
    );
    assert_eq!(
        annotation(&rs, "deployment.kubernetes.io/max-replicas").as_deref(),
        Some("2")
    );
    let owner = &rs.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("Deployment", Some(true))
    );
    assert_eq!(Some(&owner.uid), d.metadata.uid.as_ref());

    let d = env.rolled_out("nginx-depl").await;
    let s = d.status.clone().unwrap();
    assert_eq!(s.observed_generation, d.metadata.generation);
    assert_eq!(
        (
            s.replicas,
            s.updated_replicas,
            s.ready_replicas,
            s.available_replicas
        ),
        (Some(1), Some(1), Some(1), Some(1))
    );
    assert_eq!(s.unavailable_replicas.unwrap_or(0), 0);
    assert_eq!(d.annotations().get(REVISION).map(String::as_str), Some("1"));
    assert_eq!(
        condition(&d, "Available"),
        (
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability."
        )
    );
    let progressing = format!("ReplicaSet \"nginx-depl-{hash}\" has successfully progressed.");
    assert_eq!(
        condition(&d, "Progressing"),
        ("True", "NewReplicaSetAvailable", progressing.as_str())
    );
    let pods = env.pods().list(&ListParams::default()).await.unwrap().items;
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0].labels().get(HASH), Some(&hash));
    let events = env.events("nginx-depl").await;
    let scaled = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("ScalingReplicaSet"))
        .expect("a ScalingReplicaSet event");
    assert_eq!(
        scaled.message.as_deref(),
        Some(format!("Scaled up replica set nginx-depl-{hash} from 0 to 1").as_str())
    );
    assert_eq!(
        scaled.source.as_ref().and_then(|s| s.component.as_deref()),
        Some("deployment-controller")
    );
    assert_eq!(scaled.involved_object.kind.as_deref(), Some("Deployment"));

    // kubectl scale: the ReplicaSet follows, with an Event.
    env.deployments()
        .patch_scale(
            "nginx-depl",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    let d = env.rolled_out("nginx-depl").await;
    assert_eq!(d.status.unwrap().available_replicas, Some(3));
    eventually(WAIT, "the scale-up event", || async {
        let want = format!("Scaled up replica set nginx-depl-{hash} from 1 to 3");
        env.events("nginx-depl")
            .await
            .iter()
            .any(|e| e.message.as_deref() == Some(want.as_str()))
            .then_some(())
    })
    .await;
}

/// Counts live pods per template hash from a watch and checks every state it passes through.
fn watch_pods(
    pods: Api<Pod>,
    check: impl Fn(&HashMap<String, (String, bool)>) -> Result<(), String> + Send + 'static,
) -> tokio::task::JoinHandle<Result<usize, String>> {
    tokio::spawn(async move {
        // name → (hash, ready)
        let mut live: HashMap<String, (String, bool)> = HashMap::new();
        let mut events = 0;
        let mut listed = false;
        let stream = watcher(pods, watcher::Config::default()).default_backoff();
        futures::pin_mut!(stream);
        while let Some(Ok(ev)) = stream.next().await {
            match ev {
                watcher::Event::Init => {
                    live.clear();
                    listed = false;
                    continue;
                }
                watcher::Event::InitDone => listed = true,
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                    if p.metadata.deletion_timestamp.is_some() {
                        live.remove(&p.name_any());
                    } else {
                        let hash = p.labels().get(HASH).cloned().unwrap_or_default();
                        live.insert(p.name_any(), (hash, is_ready(&p)));
                    }
                }
                watcher::Event::Delete(p) => {
                    live.remove(&p.name_any());
                }
            }
            if !listed {
                continue;
            }
            events += 1;
            check(&live).map_err(|e| format!("after {events} events: {e}: {live:?}"))?;
        }
        Ok(events)
    })
}

async fn rolling_update_respects(
    replicas: i32,
    surge: Value,
    unavailable: Value,
    max_surge: usize,
    max_unavailable: usize,
) {
    let mut env = start().await;
    env.auto_ready();
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}});
    env.create(deployment("web", replicas, "nginx:1.0", strategy))
        .await;
    env.rolled_out("web").await;
    let replicas = replicas as usize;

    let watch = watch_pods(env.pods(), move |live| {
        let total = live.len();
        let ready = live.values().filter(|(_, r)| *r).count();
        if total > replicas + max_surge {
            return Err(format!("{total} pods exceed replicas + maxSurge"));
        }
        if ready + max_unavailable < replicas {
            return Err(format!("only {ready} ready pods"));
        }
        Ok(())
    });
    // Let the watch list first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    env.patch("web", set_image("nginx:2.0")).await;
    let d = env.rolled_out("web").await;
    assert_eq!(d.annotations().get(REVISION).map(String::as_str), Some("2"));
    let rss = env.owned("web").await;
    assert_eq!(rss.len(), 2);
    let (old, new) = (&rss[0], &rss[1]);
    assert_eq!(image_of(new), "nginx:2.0");
    assert_eq!(old.spec.as_ref().unwrap().replicas, Some(0));
    assert_eq!(annotation(new, REVISION).as_deref(), Some("2"));
    // Every pod runs the new template.
    let new_hash = new.labels()[HASH].clone();
    eventually(WAIT, "only new pods", || async {
        let pods = env.pods().list(&ListParams::default()).await.unwrap().items;
        (pods.len() == replicas && pods.iter().all(|p| p.labels().get(HASH) == Some(&new_hash)))
            .then_some(())
    })
    .await;
    watch.abort();
    match watch.await {
        Ok(Err(e)) => panic!("{e}"),
        Ok(Ok(_)) => panic!("the watch ended"),
        Err(_) => {}
    }
    let s = d.status.unwrap();
    assert_eq!(s.observed_generation, d.metadata.generation);
    assert_eq!(
        (s.replicas, s.updated_replicas),
        (Some(replicas as i32), Some(replicas as i32))
    );
    let events: Vec<String> = env
        .events("web")
        .await
        .into_iter()
        .filter_map(|e| e.message)
        .collect();
    let new_name = new.name_any();
    assert!(
        events
            .iter()
            .any(|m| m.starts_with(&format!("Scaled up replica set {new_name} from 0 to "))),
        "{events:?}"
    );
    let old_name = old.name_any();
    assert!(
        events.iter().any(
            |m| m.starts_with(&format!("Scaled down replica set {old_name} from "))
                && m.ends_with(" to 0")
        ),
        "{events:?}"
    );
}

#[tokio::test]
async fn rolling_update_with_surge_only() {
    // 25%/25% of 4: surge 1, unavailable 1; here surge 1, unavailable 0.
    rolling_update_respects(4, json!(1), json!(0), 1, 0).await;
}

#[tokio::test]
async fn rolling_update_with_percentages() {
    // 25% of 10: surge rounds up to 3, unavailable down to 2.
    rolling_update_respects(10, json!("25%"), json!("25%"), 3, 2).await;
}

#[tokio::test]
async fn rolling_update_with_unavailability_only() {
    rolling_update_respects(3, json!(0), json!(1), 0, 1).await;
}

#[tokio::test]
async fn recreate_scales_the_old_replicaset_to_zero_first() {
    let mut env = start().await;
    env.auto_ready();
    env.create(deployment(
        "re",
        3,
        "nginx:1.0",
        json!({"type": "Recreate"}),
    ))
    .await;
    let d = env.rolled_out("re").await;
    assert_eq!(
        d.spec.unwrap().strategy.unwrap().type_.as_deref(),
        Some("Recreate")
    );
    let old_hash = env.owned("re").await[0].labels()[HASH].clone();
    let watch = watch_pods(env.pods(), move |live| {
        let old = live.values().filter(|(h, _)| *h == old_hash).count();
        let new = live.len() - old;
        if old > 0 && new > 0 {
            return Err(format!("{old} old and {new} new pods at once"));
        }
        Ok(())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    env.patch("re", set_image("nginx:2.0")).await;
    eventually(WAIT, "the new ReplicaSet", || async {
        (env.owned("re").await.len() == 2).then_some(())
    })
    .await;
    let d = env.rolled_out("re").await;
    assert_eq!(d.status.as_ref().unwrap().updated_replicas, Some(3));
    watch.abort();
    if let Ok(Err(e)) = watch.await {
        panic!("{e}");
    }
    let rss = env.owned("re").await;
    assert_eq!(rss[0].spec.as_ref().unwrap().replicas, Some(0));
    assert_eq!(rss[1].spec.as_ref().unwrap().replicas, Some(3));
}

#[tokio::test]
async fn undo_reuses_the_old_replicaset_with_a_new_revision() {
    let mut env = start().await;
    env.auto_ready();
    env.create(deployment("undo", 2, "nginx:1.0", json!({})))
        .await;
    env.rolled_out("undo").await;
    env.patch("undo", set_image("nginx:2.0")).await;
    eventually(WAIT, "revision 2", || async {
        let d = env.deployments().get("undo").await.unwrap();
        (d.annotations().get(REVISION).map(String::as_str) == Some("2") && rolled_out(&d))
            .then_some(())
    })
    .await;
    let rss = env.owned("undo").await;
    assert_eq!(rss.len(), 2);
    let first = rss
        .iter()
        .find(|rs| annotation(rs, REVISION).as_deref() == Some("1"))
        .unwrap()
        .clone();

    // `kubectl rollout undo --to-revision=1` puts the old template back (without the hash
    // label) and keeps the annotations, with a JSON patch; a replace does the same here.
    let mut template = first.spec.as_ref().unwrap().template.clone().unwrap();
    template
        .metadata
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .remove(HASH);
    let mut d = env.deployments().get("undo").await.unwrap();
    d.spec.as_mut().unwrap().template = template;
    env.deployments()
        .replace("undo", &PostParams::default(), &d)
        .await
        .unwrap();

    let d = eventually(WAIT, "revision 3", || async {
        let d = env.deployments().get("undo").await.unwrap();
        (d.annotations().get(REVISION).map(String::as_str) == Some("3") && rolled_out(&d))
            .then_some(d)
    })
    .await;
    let rss = env.owned("undo").await;
    assert_eq!(rss.len(), 2, "no new ReplicaSet");
    let reused = rss
        .iter()
        .find(|rs| rs.metadata.uid == first.metadata.uid)
        .unwrap();
    assert_eq!(annotation(reused, REVISION).as_deref(), Some("3"));
    assert_eq!(
        annotation(reused, "deployment.kubernetes.io/revision-history").as_deref(),
        Some("1")
    );
    assert_eq!(reused.spec.as_ref().unwrap().replicas, Some(2));
    assert_eq!(image_of(reused), "nginx:1.0");
    let other = rss
        .iter()
        .find(|rs| rs.metadata.uid != first.metadata.uid)
        .unwrap();
    assert_eq!(other.spec.as_ref().unwrap().replicas, Some(0));
    assert_eq!(d.status.unwrap().updated_replicas, Some(2));
}

#[tokio::test]
async fn a_paused_deployment_does_not_roll_until_resumed() {
    let mut env = start().await;
    env.auto_ready();
    env.create(deployment("paused", 2, "nginx:1.0", json!({})))
        .await;
    env.rolled_out("paused").await;
    env.patch("paused", json!({"spec": {"paused": true}})).await;
    env.patch("paused", set_image("nginx:2.0")).await;
    let d = eventually(WAIT, "the paused spec to be observed", || async {
        let d = env.deployments().get("paused").await.unwrap();
        let observed = d.status.as_ref().and_then(|s| s.observed_generation);
        (observed == d.metadata.generation).then_some(d)
    })
    .await;
    assert_eq!(
        condition(&d, "Progressing"),
        ("Unknown", "DeploymentPaused", "Deployment is paused")
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        env.owned("paused").await.len(),
        1,
        "no rollout while paused"
    );

    // Scaling still works while paused.
    env.patch("paused", json!({"spec": {"replicas": 3}})).await;
    eventually(WAIT, "scaled while paused", || async {
        let rss = env.owned("paused").await;
        (rss.len() == 1 && rss[0].spec.as_ref().unwrap().replicas == Some(3)).then_some(())
    })
    .await;

    env.patch("paused", json!({"spec": {"paused": false}}))
        .await;
    eventually(WAIT, "the rollout after resuming", || async {
        let d = env.deployments().get("paused").await.unwrap();
        let rss = env.owned("paused").await;
        (rolled_out(&d) && rss.len() == 2 && image_of(&rss[1]) == "nginx:2.0").then_some(())
    })
    .await;
}

#[tokio::test]
async fn revision_history_limit_and_restart() {
    let mut env = start().await;
    env.auto_ready();
    let mut d = deployment("hist", 1, "nginx:1", json!({}));
    d["spec"]["revisionHistoryLimit"] = json!(1);
    env.create(d).await;
    env.rolled_out("hist").await;
    for i in 2..=4 {
        env.patch("hist", set_image(&format!("nginx:{i}"))).await;
        eventually(WAIT, "the next revision", || async {
            let d = env.deployments().get("hist").await.unwrap();
            (d.annotations().get(REVISION) == Some(&i.to_string()) && rolled_out(&d)).then_some(())
        })
        .await;
    }
    let rss = eventually(WAIT, "old ReplicaSets cleaned up", || async {
        let rss = env.owned("hist").await;
        (rss.len() == 2).then_some(rss)
    })
    .await;
    let images: Vec<String> = rss.iter().map(image_of).collect();
    assert_eq!(images, ["nginx:3", "nginx:4"]);

    // kubectl rollout restart: a template annotation, hence a new ReplicaSet.
    let restart = json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}}}});
    env.patch("hist", restart).await;
    eventually(WAIT, "the restart", || async {
        let d = env.deployments().get("hist").await.unwrap();
        let rss = env.owned("hist").await;
        let restarted = rss.last().is_some_and(|rs| {
            let t = rs.spec.as_ref().unwrap().template.as_ref().unwrap();
            t.metadata
                .as_ref()
                .unwrap()
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key("kubectl.kubernetes.io/restartedAt"))
        });
        let ok = restarted
            && rolled_out(&d)
            && d.annotations().get(REVISION).map(String::as_str) == Some("5");
        ok.then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_stuck_rollout_exceeds_its_progress_deadline() {
    let env = start().await;
    let mut d = deployment("stuck", 1, "nginx", json!({}));
    d["spec"]["progressDeadlineSeconds"] = json!(2);
    env.create(d).await;
    let d = eventually(WAIT, "ProgressDeadlineExceeded", || async {
        let d = env.deployments().get("stuck").await.unwrap();
        let timed_out = d
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
            });
        timed_out.then_some(d)
    })
    .await;
    let (status, _, message) = condition(&d, "Progressing");
    assert_eq!(status, "False");
    assert!(message.ends_with("has timed out progressing."), "{message}");
    assert_eq!(
        condition(&d, "Available"),
        (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability."
        )
    );
    assert_eq!(d.status.as_ref().unwrap().unavailable_replicas, Some(1));
}
