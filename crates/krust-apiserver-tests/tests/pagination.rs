//! List pagination: `limit`, `continue` tokens, `remainingItemCount`, and a consistent
//! snapshot across pages.

use k8s_openapi::api::core::v1::ConfigMap;
use krust_testkit::{configmap, names, status};
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_in_pages_of_ten() {
    let srv = krust_testkit::start().await;
    srv.namespace("pages").await;
    let cms: Api<ConfigMap> = srv.api("pages");
    for i in 0..25 {
        cms.create(
            &PostParams::default(),
            &configmap(&format!("cm-{i:02}"), &[], &[]),
        )
        .await
        .unwrap();
    }

    let first = cms.list(&ListParams::default().limit(10)).await.unwrap();
    assert_eq!(first.items.len(), 10);
    assert_eq!(first.metadata.remaining_item_count, Some(15));
    let token = first
        .metadata
        .continue_
        .clone()
        .filter(|t| !t.is_empty())
        .expect("a continue token on the first page");
    let rv = first.metadata.resource_version.clone().unwrap();

    // Written after the first page: not part of the snapshot the pages are read at.
    cms.create(&PostParams::default(), &configmap("cm-late", &[], &[]))
        .await
        .unwrap();

    let second = cms
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 10);
    assert_eq!(second.metadata.remaining_item_count, Some(5));
    assert_eq!(
        second.metadata.resource_version.as_deref(),
        Some(rv.as_str()),
        "pages share the first page's resourceVersion"
    );
    let token = second
        .metadata
        .continue_
        .clone()
        .filter(|t| !t.is_empty())
        .expect("a continue token on the second page");

    let third = cms
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(third.items.len(), 5);
    assert!(
        third.metadata.continue_.as_deref().unwrap_or("").is_empty(),
        "no continue token on the last page"
    );
    assert_eq!(third.metadata.remaining_item_count, None);
    assert_eq!(
        third.metadata.resource_version.as_deref(),
        Some(rv.as_str())
    );

    let all: Vec<String> = first
        .items
        .iter()
        .chain(&second.items)
        .chain(&third.items)
        .map(|c| c.name_any())
        .collect();
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), 25, "25 distinct names across pages");
    let want: Vec<String> = (0..25).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(all, want, "pages come in name order");

    // A fresh list sees the late one.
    let everything = cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(everything.items.len(), 26);
    assert!(
        everything
            .metadata
            .continue_
            .as_deref()
            .unwrap_or("")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paginated_list_with_a_label_selector() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    for i in 0..12 {
        let parity = if i % 2 == 0 { "even" } else { "odd" };
        cms.create(
            &PostParams::default(),
            &configmap(&format!("cm-{i:02}"), &[("parity", parity)], &[]),
        )
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut lp = ListParams::default().labels("parity=even").limit(4);
    let mut pages = 0;
    loop {
        let page = cms.list(&lp).await.unwrap();
        assert!(page.items.len() <= 4);
        seen.extend(names(&page.items));
        pages += 1;
        match page.metadata.continue_.filter(|t| !t.is_empty()) {
            Some(t) => lp = lp.continue_token(&t),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    seen.sort();
    let want: Vec<String> = (0..12).step_by(2).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(seen, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_continue_token_is_a_bad_request() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let s = status(
        cms.list(
            &ListParams::default()
                .limit(1)
                .continue_token("not-a-token!"),
        )
        .await,
    );
    assert_eq!(s.code, 400, "{s:?}");
}
