//! The two stores under test, behind one small interface: a conditional write (create when
//! `expected` is 0, else update if the key's `mod_revision` is `expected`) and a prefix watch.

use std::sync::Arc;

use anyhow::{Result, bail};
use async_trait::async_trait;
use bytes::Bytes;
use krust_store::{Error, SqliteStore, Store, WatchStream};

use crate::etcd::{EtcdClient, EtcdWatch, TxnOutcome};

/// What a conditional write did.
pub type Outcome = TxnOutcome;

/// A store as the benchmark drives it.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The latest revision.
    async fn revision(&self) -> Result<i64>;

    /// Creates `key` (`expected == 0`) or updates it if its `mod_revision` is `expected`.
    /// `writer` picks the writer's own connection where the backend has connections.
    async fn put_if(
        &self,
        writer: usize,
        key: &str,
        value: Bytes,
        expected: i64,
    ) -> Result<Outcome>;

    /// Opens a watch on every key under `prefix` with a revision greater than `after`.
    async fn watch(&self, prefix: &str, after: i64) -> Result<Box<dyn Watch>>;
}

/// An open watch.
#[async_trait]
pub trait Watch: Send {
    /// Appends the revisions of the next events to `out`; `false` when the watch ended.
    async fn next(&mut self, out: &mut Vec<i64>) -> Result<bool>;
}

/// krust's SQLite store, called in-process through the `Store` trait, as krust's API server
/// calls it.
pub struct Krust(pub Arc<SqliteStore>);

#[async_trait]
impl Backend for Krust {
    async fn revision(&self) -> Result<i64> {
        Ok(self.0.revision())
    }

    async fn put_if(&self, _: usize, key: &str, value: Bytes, expected: i64) -> Result<Outcome> {
        let written = if expected == 0 {
            self.0.create(key, value).await
        } else {
            self.0.update(key, value, expected).await
        };
        match written {
            Ok(kv) => Ok(Outcome::Written(kv.mod_revision)),
            Err(Error::Conflict { current, .. }) => Ok(Outcome::Conflict(current)),
            Err(Error::AlreadyExists(_) | Error::NotFound(_)) => {
                let current = self.0.get(key).await?.map_or(0, |kv| kv.mod_revision);
                Ok(Outcome::Conflict(current))
            }
            Err(err) => Err(err.into()),
        }
    }

    async fn watch(&self, prefix: &str, after: i64) -> Result<Box<dyn Watch>> {
        let stream = self.0.watch(prefix, after)?;
        Ok(Box::new(KrustWatch {
            store: self.0.clone(),
            prefix: prefix.to_owned(),
            stream,
            last: after,
            events: Vec::new(),
            resumes: 0,
        }))
    }
}

/// A krust watch that resumes from the last revision it saw if the store drops it for
/// falling behind, as krust's API server does.
struct KrustWatch {
    store: Arc<SqliteStore>,
    prefix: String,
    stream: WatchStream,
    last: i64,
    events: Vec<krust_store::Event>,
    resumes: u32,
}

#[async_trait]
impl Watch for KrustWatch {
    async fn next(&mut self, out: &mut Vec<i64>) -> Result<bool> {
        loop {
            if self.stream.recv_many(&mut self.events, 4096).await > 0 {
                out.extend(self.events.drain(..).map(|event| event.kv.mod_revision));
                self.last = *out.last().unwrap_or(&self.last);
                return Ok(true);
            }
            self.resumes += 1;
            if self.resumes > 100 {
                bail!("the krust watch closed more than 100 times");
            }
            self.stream = self.store.watch(&self.prefix, self.last)?;
        }
    }
}

/// etcd over gRPC on loopback, as the Kubernetes API server uses it: one transaction per
/// write (compare `mod_revision`, then put, else read the key back).
pub struct Etcd {
    pub url: String,
    /// One connection per writer, or one shared by all.
    pub clients: Vec<EtcdClient>,
}

#[async_trait]
impl Backend for Etcd {
    async fn revision(&self) -> Result<i64> {
        self.clients[0].revision(b"/").await
    }

    async fn put_if(
        &self,
        writer: usize,
        key: &str,
        value: Bytes,
        expected: i64,
    ) -> Result<Outcome> {
        let client = &self.clients[writer % self.clients.len()];
        client.put_if(key.as_bytes(), value.into(), expected).await
    }

    async fn watch(&self, prefix: &str, after: i64) -> Result<Box<dyn Watch>> {
        let client = if self.clients.len() > 1 {
            EtcdClient::connect(&self.url).await?
        } else {
            self.clients[0].clone()
        };
        Ok(Box::new(client.watch(prefix.as_bytes(), after + 1).await?))
    }
}

#[async_trait]
impl Watch for EtcdWatch {
    async fn next(&mut self, out: &mut Vec<i64>) -> Result<bool> {
        EtcdWatch::next(self, out).await
    }
}
