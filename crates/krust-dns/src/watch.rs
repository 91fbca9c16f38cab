//! The cluster as the DNS server sees it, kept from watches (CoreDNS' `dnsController`:
//! informers on Namespaces, Services and EndpointSlices; Pods are not watched, since `pods
//! insecure` reads a pod's address from its name). Each object is reduced to its DNS record
//! as it arrives; a change makes a new [`Records`] snapshot, built at most once per
//! [`COALESCE`] however many changes arrive meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use tokio::sync::{Notify, watch};

use crate::records::{Key, Records, ServiceRecord, SliceRecord};

/// How long changes gather before a new snapshot is built.
pub const COALESCE: Duration = Duration::from_millis(20);

/// One kind's records by namespace and name, with the relist in progress.
struct Table<T> {
    items: HashMap<Key, T>,
    relist: Option<HashMap<Key, T>>,
    synced: bool,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            items: HashMap::new(),
            relist: None,
            synced: false,
        }
    }
}

impl<T> Table<T> {
    fn event<K: Resource>(&mut self, event: watcher::Event<K>, convert: impl Fn(&K) -> Option<T>) {
        let key = |k: &K| -> Key {
            let m = k.meta();
            (
                m.namespace.clone().unwrap_or_default(),
                m.name.clone().unwrap_or_default(),
            )
        };
        match event {
            watcher::Event::Init => self.relist = Some(HashMap::new()),
            watcher::Event::InitApply(k) => {
                if let (Some(relist), Some(t)) = (self.relist.as_mut(), convert(&k)) {
                    relist.insert(key(&k), t);
                }
            }
            watcher::Event::InitDone => {
                if let Some(relist) = self.relist.take() {
                    self.items = relist;
                }
                self.synced = true;
            }
            watcher::Event::Apply(k) => match convert(&k) {
                Some(t) => {
                    self.items.insert(key(&k), t);
                }
                None => {
                    self.items.remove(&key(&k));
                }
            },
            watcher::Event::Delete(k) => {
                self.items.remove(&key(&k));
            }
        }
    }
}

#[derive(Default)]
struct Sources {
    namespaces: Table<()>,
    services: Table<ServiceRecord>,
    slices: Table<Arc<SliceRecord>>,
}

impl Sources {
    fn snapshot(&self) -> Records {
        let mut r = Records::new(
            self.namespaces.items.keys().map(|(_, name)| name.clone()),
            self.services.items.values(),
            self.slices.items.values(),
        );
        r.synced = self.namespaces.synced && self.services.synced && self.slices.synced;
        r.serial = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        r
    }
}

/// Keeps `tx` current with the cluster's Namespaces, Services and EndpointSlices; runs
/// until aborted (a failed watch is retried with backoff).
pub async fn follow(client: Client, tx: watch::Sender<Arc<Records>>) {
    let sources = Arc::new(Mutex::new(Sources::default()));
    let changed = Arc::new(Notify::new());
    let namespaces = {
        let (sources, changed) = (sources.clone(), changed.clone());
        let stream = watcher(
            Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
            Default::default(),
        );
        drive(stream.default_backoff(), changed, move |e| {
            sources
                .lock()
                .expect("sources")
                .namespaces
                .event(e, |_| Some(()))
        })
    };
    let services = {
        let (sources, changed) = (sources.clone(), changed.clone());
        let stream = watcher(Api::<Service>::all(client.clone()), Default::default());
        drive(stream.default_backoff(), changed, move |e| {
            sources
                .lock()
                .expect("sources")
                .services
                .event(e, ServiceRecord::from_service)
        })
    };
    let slices = {
        let (sources, changed) = (sources.clone(), changed.clone());
        let stream = watcher(Api::<EndpointSlice>::all(client), Default::default());
        drive(stream.default_backoff(), changed, move |e| {
            sources
                .lock()
                .expect("sources")
                .slices
                .event(e, |s| SliceRecord::from_slice(s).map(Arc::new))
        })
    };
    let build = async {
        loop {
            changed.notified().await;
            tokio::time::sleep(COALESCE).await;
            let snapshot = sources.lock().expect("sources").snapshot();
            tx.send_replace(Arc::new(snapshot));
        }
    };
    tokio::join!(namespaces, services, slices, build);
}

async fn drive<K, S>(stream: S, changed: Arc<Notify>, mut apply: impl FnMut(watcher::Event<K>))
where
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream.into_stream());
    while let Some(event) = stream.next().await {
        match event {
            Ok(e) => {
                let relisting = matches!(e, watcher::Event::Init | watcher::Event::InitApply(_));
                apply(e);
                if !relisting {
                    changed.notify_one();
                }
            }
            Err(e) => tracing::debug!(error = %e, "a DNS watch failed; retrying"),
        }
    }
}
