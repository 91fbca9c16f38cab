//! The Event recorder against an in-process API server: direct recorders post at once,
//! queued ones count repeats in the background, and a full queue drops rather than waits.

use k8s_openapi::api::core::v1::{ConfigMap, Event};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use krust_component::events::{
    Correlation, EventType, Options, Record, Recorder, Sending, versioned_reference,
};
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use std::time::Duration;

async fn config_map(client: &Client, name: &str) -> ConfigMap {
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<ConfigMap>::default_namespaced(client.clone())
        .create(&PostParams::default(), &cm)
        .await
        .unwrap()
}

async fn events_from(client: &Client, component: &str) -> Vec<Event> {
    Api::<Event>::default_namespaced(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.source.as_ref().and_then(|s| s.component.as_deref()) == Some(component))
        .collect()
}

#[tokio::test]
async fn a_direct_recorder_posts_every_event_before_returning() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let cm = config_map(&client, "cm").await;
    let recorder = Recorder::direct(client.clone(), "direct-component");
    let object = versioned_reference(&cm);
    for _ in 0..2 {
        recorder.warning(&object, "Poked", "Poked it").await;
    }
    let events = events_from(&client, "direct-component").await;
    assert_eq!(events.len(), 2, "{events:?}");
    for e in events {
        assert_eq!(e.count, Some(1));
        assert_eq!(e.involved_object, object);
        assert_eq!(e.type_.as_deref(), Some("Warning"));
    }
}

#[tokio::test]
async fn a_queued_recorder_counts_repeats_in_one_event() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let cm = config_map(&client, "cm").await;
    let recorder = Recorder::new(client.clone(), "counting-component");
    let object = versioned_reference(&cm);
    for _ in 0..3 {
        recorder.normal(&object, "Poked", "Poked it").await;
    }
    let mut events = Vec::new();
    for _ in 0..100 {
        events = events_from(&client, "counting-component").await;
        if events.first().and_then(|e| e.count) == Some(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].count, Some(3));
}

#[tokio::test]
async fn a_full_queue_drops_events_instead_of_waiting() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let cm = config_map(&client, "cm").await;
    let options = Options {
        component: "tiny-queue".into(),
        correlation: Correlation::none(),
        sending: Sending::Queued {
            capacity: 1,
            concurrency: 1,
            linger: std::time::Duration::ZERO,
        },
    };
    let recorder = Recorder::with(client.clone(), options);
    let object = versioned_reference(&cm);
    // On this single-threaded runtime the task cannot run while these are queued.
    for n in 0..5 {
        let message = format!("event {n}");
        recorder.emit(Record::new(
            object.clone(),
            EventType::Normal,
            "Poked",
            &message,
        ));
    }
    let mut events = Vec::new();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        events = events_from(&client, "tiny-queue").await;
    }
    let messages: Vec<_> = events.iter().filter_map(|e| e.message.clone()).collect();
    assert_eq!(messages, ["event 0"]);
}
