//! One watch per kind for the whole controller manager, as client-go's
//! `SharedInformerFactory` gives kube-controller-manager: the ReplicaSet, Deployment,
//! Endpoints, EndpointSlice and node lifecycle controllers all read pods, and each used to
//! open its own watch, so every pod change was sent, parsed and stored five times.
//!
//! [`Informers::reflect`] starts the kind's watch on first use (every object of the kind,
//! `managedFields` dropped, as [`crate::informer::reflect`]) and hands each caller the one
//! [`Store`] with a stream of its own: the store's contents as a list (`Init`, `InitApply`
//! for each object, `InitDone`) once it has been listed, then every change after it, each
//! already in the store. A controller restarted by `supervise` subscribes again and gets the
//! list again. Dropping the last clone of the `Informers` stops its watches.

use crate::informer::{Events, listed, reflect};
use futures::StreamExt;
use kube::runtime::reflector::Store;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// The manager's shared watches, by kind. Cheap to clone.
#[derive(Clone)]
pub struct Informers(Arc<Inner>);

struct Inner {
    client: Client,
    /// A `Shared<K>` for each kind watched, by `K`'s type.
    kinds: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
    watches: Mutex<Vec<AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for watch in self.watches.get_mut().expect("watches lock").drain(..) {
            watch.abort();
        }
    }
}

/// One kind's store and the senders of its subscribers' streams.
struct Shared<K: Resource<DynamicType = ()> + 'static> {
    store: Store<K>,
    subscribers: Arc<Mutex<Vec<mpsc::UnboundedSender<Event<K>>>>>,
}

impl Informers {
    /// No watch yet: each starts with the first [`Informers::reflect`] of its kind.
    pub fn new(client: Client) -> Self {
        Informers(Arc::new(Inner {
            client,
            kinds: Mutex::default(),
            watches: Mutex::default(),
        }))
    }

    /// The client the controllers write with.
    pub fn client(&self) -> &Client {
        &self.0.client
    }

    /// The store of every `K`, and a stream of its contents and then its changes (see the
    /// module's documentation). Must be called within a Tokio runtime.
    pub fn reflect<K>(&self) -> (Store<K>, Events<K>)
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let mut kinds = self.0.kinds.lock().expect("kinds lock");
        let shared = kinds
            .entry(TypeId::of::<K>())
            .or_insert_with(|| Box::new(self.watch::<K>()))
            .downcast_ref::<Shared<K>>()
            .expect("one kind per type");
        let (tx, rx) = mpsc::unbounded_channel();
        shared
            .subscribers
            .lock()
            .expect("subscribers lock")
            .push(tx);
        (shared.store.clone(), subscription(shared.store.clone(), rx))
    }

    /// Starts the watch of every `K`, which hands each change to every subscriber.
    fn watch<K>(&self) -> Shared<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let (store, mut events) = reflect(
            Api::<K>::all(self.0.client.clone()),
            watcher::Config::default(),
        );
        let subscribers: Arc<Mutex<Vec<mpsc::UnboundedSender<Event<K>>>>> = Arc::default();
        let to = subscribers.clone();
        let task = tokio::spawn(async move {
            while let Some(event) = events.next().await {
                to.lock()
                    .expect("subscribers lock")
                    .retain(|tx| tx.send(event.clone()).is_ok());
            }
        });
        self.0
            .watches
            .lock()
            .expect("watches lock")
            .push(task.abort_handle());
        Shared { store, subscribers }
    }
}

/// A subscriber's stream: once the store has been listed, what it holds as a list, then the
/// changes. Changes sent before the list are dropped: each was in the store before it was
/// sent, so the list has it.
fn subscription<K>(store: Store<K>, rx: mpsc::UnboundedReceiver<Event<K>>) -> Events<K>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    let stream = async move {
        let mut rx = rx;
        if !listed(&store).await {
            return None;
        }
        while rx.try_recv().is_ok() {}
        let objects = store.state();
        let list = std::iter::once(Event::Init)
            .chain(objects.iter().map(|o| Event::InitApply(K::clone(o))))
            .chain(std::iter::once(Event::InitDone));
        let changes = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|event| (event, rx))
        });
        Some(futures::stream::iter(list.collect::<Vec<_>>()).chain(changes))
    };
    futures::stream::once(stream)
        .filter_map(|stream| async move { stream })
        .flatten()
        .boxed()
}
