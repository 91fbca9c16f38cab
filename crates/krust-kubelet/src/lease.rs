//! A node's heartbeat: its `coordination.k8s.io/v1` Lease in `kube-node-lease`, owned by the
//! Node, renewed by an update of the last copy written (one request per renewal), re-read on
//! conflict. The copy is kept without its managedFields (most of its size): an update that
//! carries none leaves the stored ones as they are.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kube::api::{Api, PostParams};

pub const NAMESPACE: &str = "kube-node-lease";
pub const DURATION_SECONDS: i32 = 40;

pub struct Heartbeat {
    api: Api<Lease>,
    node: String,
    node_uid: String,
    current: Option<Lease>,
}

impl Heartbeat {
    /// Creates the Lease of `node`, or takes an existing one over.
    pub async fn start(client: kube::Client, node: &str, node_uid: &str) -> kube::Result<Self> {
        let mut hb = Heartbeat {
            api: Api::namespaced(client, NAMESPACE),
            node: node.into(),
            node_uid: node_uid.into(),
            current: None,
        };
        let fresh = Lease {
            metadata: hb.metadata(),
            spec: Some(hb.spec()),
        };
        match hb.api.create(&PostParams::default(), &fresh).await {
            Ok(lease) => hb.current = Some(kept(lease)),
            Err(kube::Error::Api(e)) if e.code == 409 => hb.try_renew().await?,
            Err(e) => return Err(e),
        }
        Ok(hb)
    }

    /// Renews the Lease (errors are logged; the next renewal re-reads it).
    pub async fn renew(&mut self) {
        if let Err(e) = self.try_renew().await {
            tracing::warn!(node = %self.node, error = %e, "renewing the node lease");
        }
    }

    async fn try_renew(&mut self) -> kube::Result<()> {
        for attempt in 0..2 {
            let result = match self.current.take() {
                Some(mut lease) => {
                    lease.spec.get_or_insert_default().renew_time = Some(now());
                    self.api
                        .replace(&self.node, &PostParams::default(), &lease)
                        .await
                }
                None => self.read_and_write().await,
            };
            match result {
                Ok(lease) => {
                    self.current = Some(kept(lease));
                    return Ok(());
                }
                Err(kube::Error::Api(e)) if attempt == 0 && matches!(e.code, 404 | 409) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads the Lease and writes ours over it (holder, duration, owner), or creates it.
    async fn read_and_write(&self) -> kube::Result<Lease> {
        let pp = PostParams::default();
        match self.api.get_opt(&self.node).await? {
            Some(mut lease) => {
                lease.metadata.owner_references = self.metadata().owner_references;
                let s = lease.spec.get_or_insert_default();
                let ours = self.spec();
                s.holder_identity = ours.holder_identity;
                s.lease_duration_seconds = ours.lease_duration_seconds;
                s.renew_time = ours.renew_time;
                self.api.replace(&self.node, &pp, &lease).await
            }
            None => {
                let lease = Lease {
                    metadata: self.metadata(),
                    spec: Some(self.spec()),
                };
                self.api.create(&pp, &lease).await
            }
        }
    }

    fn metadata(&self) -> ObjectMeta {
        let owner = OwnerReference {
            api_version: "v1".into(),
            kind: "Node".into(),
            name: self.node.clone(),
            uid: self.node_uid.clone(),
            ..Default::default()
        };
        ObjectMeta {
            name: Some(self.node.clone()),
            namespace: Some(NAMESPACE.into()),
            owner_references: (!self.node_uid.is_empty()).then(|| vec![owner]),
            ..Default::default()
        }
    }

    fn spec(&self) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.node.clone()),
            lease_duration_seconds: Some(DURATION_SECONDS),
            renew_time: Some(now()),
            ..Default::default()
        }
    }
}

/// The copy of a Lease kept for the next renewal.
fn kept(mut lease: Lease) -> Lease {
    lease.metadata.managed_fields = None;
    lease
}

fn now() -> MicroTime {
    MicroTime(jiff::Timestamp::now())
}
