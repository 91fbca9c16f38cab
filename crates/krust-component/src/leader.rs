//! Leader election through a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection`
//! does it, so that of several processes running the same controllers (several servers on
//! one store) only one acts at a time.
//!
//! ```ignore
//! leader::lead(client.clone(), "krust-controller-manager", hostname, stopped, || {
//!     krust_controllers::run_all(client.clone())
//! })
//! .await?;
//! ```
//!
//! A candidate campaigns until it holds the Lease (creating it, or taking it over once it has
//! not been renewed for its duration), then runs `work` while renewing every 2 s, each write
//! guarded by the Lease's `resourceVersion`. If it cannot renew for the renew deadline
//! (10 s, shorter than the 15 s duration others wait for), or finds another holder, it drops
//! `work` and campaigns again. Expiry is judged by when a candidate *saw* the Lease change, on
//! its own clock (as client-go does), so clock skew between machines does not matter.
//!
//! `work` is cancelled by dropping its future: what it spawns itself must stop with it. When
//! `stop` completes (the process is asked to stop), `work` is dropped and a held Lease is
//! released, as client-go's `ReleaseOnCancel` (which kube-scheduler sets) does, so that the
//! next process to start need not wait for it to expire.

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Timings of an election.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the Lease lives.
    pub namespace: String,
    /// How long a Lease holds without renewal (`leaseDurationSeconds`).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before giving up; must be shorter than
    /// `lease_duration`.
    pub renew_deadline: Duration,
    /// How often the leader renews, and candidates retry.
    pub retry_period: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            namespace: "kube-system".into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Runs `work` whenever this process holds the Lease `lease` in `kube-system`, under the
/// default timings, until `stop` completes. Returns what `work` returns if it ends, and Ok
/// once stopped; the Lease is released either way.
pub async fn lead<F, Fut>(
    client: Client,
    lease: &str,
    identity: String,
    stop: impl Future<Output = ()>,
    work: F,
) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    lead_with(client, lease, identity, &Config::default(), stop, work).await
}

/// [`lead`] with explicit timings.
pub async fn lead_with<F, Fut>(
    client: Client,
    lease: &str,
    identity: String,
    config: &Config,
    stop: impl Future<Output = ()>,
    work: F,
) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    anyhow::ensure!(
        config.renew_deadline < config.lease_duration,
        "the renew deadline must be shorter than the lease duration"
    );
    let mut elector = Elector {
        api: Api::namespaced(client, &config.namespace),
        name: lease.to_string(),
        identity,
        config: config.clone(),
        observed: None,
    };
    tokio::pin!(stop);
    loop {
        let since = tokio::select! {
            since = elector.acquire() => since,
            () = &mut stop => return Ok(()),
        };
        tracing::info!(lease, identity = %elector.identity, "became leader");
        let lost = {
            let work = work();
            tokio::pin!(work);
            tokio::select! {
                result = &mut work => Err(result),
                lost = elector.keep(since) => Ok(lost),
                () = &mut stop => Err(Ok(())),
            }
        };
        match lost {
            Ok(why) => tracing::warn!(lease, identity = %elector.identity, why, "lost leadership"),
            Err(result) => {
                elector.release().await;
                return result;
            }
        }
    }
}

struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    config: Config,
    /// The Lease record last seen (its resourceVersion) and when it was first seen.
    observed: Option<(String, Instant)>,
}

fn now() -> MicroTime {
    MicroTime(Timestamp::now())
}

enum Attempt {
    /// This process holds the Lease.
    Held,
    /// Another holder has it, not expired.
    Taken(String),
    /// The API could not be asked, or a write lost a race.
    Failed(String),
}

impl Elector {
    /// Campaigns until this process holds the Lease; returns when the winning attempt began
    /// (others cannot have seen the Lease renewed before then).
    async fn acquire(&mut self) -> Instant {
        loop {
            let started = Instant::now();
            match self.try_acquire_or_renew().await {
                Attempt::Held => return started,
                Attempt::Taken(holder) => tracing::debug!(%holder, "lease held by another"),
                Attempt::Failed(why) => tracing::debug!(why, "lease not acquired"),
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Renews until leadership is lost; returns why. `renewed`: when the last successful
    /// write began.
    async fn keep(&mut self, mut renewed: Instant) -> String {
        loop {
            let deadline = renewed + self.config.renew_deadline;
            tokio::time::sleep_until((Instant::now() + self.config.retry_period).min(deadline))
                .await;
            let started = Instant::now();
            let left = deadline.saturating_duration_since(started);
            if left.is_zero() {
                return "no renewal before the deadline".to_string();
            }
            match tokio::time::timeout(left, self.try_acquire_or_renew()).await {
                Ok(Attempt::Held) => renewed = started,
                Ok(Attempt::Taken(holder)) => return format!("the lease is held by {holder}"),
                Ok(Attempt::Failed(why)) if Instant::now() < deadline => {
                    tracing::warn!(why, "renewing the lease failed; retrying")
                }
                Ok(Attempt::Failed(why)) => {
                    return format!("no renewal before the deadline: {why}");
                }
                Err(_) => return "no renewal before the deadline".to_string(),
            }
        }
    }

    /// One round of client-go's `tryAcquireOrRenew`.
    async fn try_acquire_or_renew(&mut self) -> Attempt {
        let duration = i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let current = match self.api.get_opt(&self.name).await {
            Ok(current) => current,
            Err(e) => return Attempt::Failed(e.to_string()),
        };
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(duration),
                    acquire_time: Some(now()),
                    renew_time: Some(now()),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.observe(&created);
                    Attempt::Held
                }
                Err(e) => Attempt::Failed(e.to_string()),
            };
        };
        self.observe(&lease);
        let spec = lease.spec.get_or_insert_with(Default::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let ours = holder == self.identity;
        if !holder.is_empty() && !ours {
            let held_for = spec
                .lease_duration_seconds
                .map_or(self.config.lease_duration, |s| {
                    Duration::from_secs(s.max(0) as u64)
                });
            let seen = self
                .observed
                .as_ref()
                .map_or_else(Instant::now, |(_, at)| *at);
            if seen + held_for > Instant::now() {
                return Attempt::Taken(holder);
            }
        }
        if !ours {
            spec.acquire_time = Some(now());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(self.identity.clone());
        spec.lease_duration_seconds = Some(duration);
        spec.renew_time = Some(now());
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(updated) => {
                self.observe(&updated);
                Attempt::Held
            }
            Err(e) => Attempt::Failed(e.to_string()),
        }
    }

    /// Notes when a new version of the Lease was first seen.
    fn observe(&mut self, lease: &Lease) {
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        if self.observed.as_ref().is_none_or(|(seen, _)| *seen != rv) {
            self.observed = Some((rv, Instant::now()));
        }
    }

    /// Gives the Lease up, so that another candidate need not wait for it to expire.
    async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now());
        if let Err(error) = self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            tracing::warn!(%error, "releasing the lease failed");
        }
    }
}
