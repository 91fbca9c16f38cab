//! Writes that race other writes: a DELETE, or a PUT without a resourceVersion, that another
//! client's write overtakes between the server's read and its write is retried by the
//! server, as kube-apiserver does; only a precondition the caller gave answers 409.

use k8s_openapi::api::core::v1::ConfigMap;
use krust_testkit::{configmap, status};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Patches the ConfigMaps named `names` in turn, as fast as it can, until `stop`.
fn keep_patching(api: Api<ConfigMap>, names: Vec<String>, stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            for name in &names {
                n += 1;
                let patch = json!({"metadata": {"annotations": {"n": n.to_string()}}});
                let _ = api
                    .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await;
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_overtaken_by_another_write_still_deletes() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let names: Vec<String> = (0..40).map(|i| format!("cm-{i}")).collect();
    for name in &names {
        cms.create(&PostParams::default(), &configmap(name, &[], &[]))
            .await
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..3 {
        keep_patching(cms.clone(), names.clone(), stop.clone());
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut conflicts = 0;
    for name in &names {
        match cms.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => conflicts += 1,
            Err(e) => panic!("deleting {name}: {e}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    assert_eq!(conflicts, 0, "deletes answered 409 Conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_without_a_resource_version_overtaken_by_another_write_still_lands() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    cms.create(&PostParams::default(), &configmap("hot", &[], &[]))
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..3 {
        keep_patching(cms.clone(), vec!["hot".into()], stop.clone());
    }
    let mut conflicts = 0;
    for i in 0..200 {
        let body = configmap("hot", &[], &[("i", &i.to_string())]);
        assert!(body.metadata.resource_version.is_none());
        match cms.replace("hot", &PostParams::default(), &body).await {
            Ok(cm) => assert_eq!(cm.data.unwrap()["i"], i.to_string()),
            Err(kube::Error::Api(s)) if s.code == 409 => conflicts += 1,
            Err(e) => panic!("replacing: {e}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    assert_eq!(conflicts, 0, "PUTs without a resourceVersion answered 409");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_preconditions_still_answer_409() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let first = cms
        .create(&PostParams::default(), &configmap("cm", &[], &[]))
        .await
        .unwrap();
    let patch = json!({"data": {"a": "1"}});
    cms.patch("cm", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();

    // A PUT naming the first version.
    let s = status(cms.replace("cm", &PostParams::default(), &first).await);
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
    assert!(
        s.message.contains("the object has been modified"),
        "{}",
        s.message
    );

    // A DELETE whose preconditions name the first version, then another uid.
    let stale = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: first.metadata.resource_version.clone(),
            uid: None,
        }),
        ..Default::default()
    };
    let s = status(cms.delete("cm", &stale).await);
    assert_eq!(s.code, 409);
    assert!(
        s.message
            .contains("Precondition failed: ResourceVersion in precondition")
    );
    let other_uid = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: None,
            uid: Some("not-the-uid".into()),
        }),
        ..Default::default()
    };
    let s = status(cms.delete("cm", &other_uid).await);
    assert_eq!(s.code, 409);
    assert!(
        s.message
            .contains("Precondition failed: UID in precondition")
    );
    assert!(cms.get_opt("cm").await.unwrap().is_some());
}
