//! An nftables table the node owns, kept as a [`Ruleset`]: written whole the first time (and
//! after a failed write, or once someone removed it), then only by difference to what the
//! kernel holds, each write one `nft -f` transaction in the host's network namespace. The
//! service proxy and the NetworkPolicy enforcer write theirs through it.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::cmd;
use crate::error::Result;
use crate::netns::run_in;
use crate::proxy::Ruleset;

/// What a write did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Synced {
    /// Whether the whole table was written (the first sync, or after a failed partial one).
    pub full: bool,
    /// Lines of the transaction (0: nothing had changed).
    pub lines: usize,
}

/// One table; clones share it. Dropping it leaves the table in the kernel.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    name: String,
    host_netns: Option<PathBuf>,
    /// What the kernel holds, as last written; `None` until the first full write.
    applied: Arc<Mutex<Option<Ruleset>>>,
    /// Held by the thread that runs `nft`, so that a write whose caller was cancelled (the
    /// agent stopping) ends before [`Table::delete`] removes the table.
    kernel: Arc<std::sync::Mutex<()>>,
}

impl Table {
    /// The table `name` (`ip` family) in `host_netns` (`None`: this process's namespace).
    pub(crate) fn new(name: String, host_netns: Option<PathBuf>) -> Table {
        Table {
            name,
            host_netns,
            applied: Arc::new(Mutex::new(None)),
            kernel: Default::default(),
        }
    }

    /// Makes the kernel's table `new`: only what changed since the last write, the whole
    /// table the first time or after a failure. After a write by difference, `then(old,
    /// new)` gives work to do on the writing thread once the transaction is in (the proxy
    /// forgets the UDP flows of endpoints that went).
    pub(crate) async fn write<F>(
        &self,
        new: Ruleset,
        then: impl FnOnce(&Ruleset, &Ruleset) -> F,
    ) -> Result<Synced>
    where
        F: FnOnce() + Send + 'static,
    {
        let mut applied = self.applied.lock().await;
        let (script, full) = match applied.as_ref() {
            Some(old) => (old.diff(&new), false),
            None => (new.full(), true),
        };
        if script.is_empty() {
            return Ok(Synced::default());
        }
        let lines = script.lines().count();
        let mut result = match applied.as_ref() {
            Some(old) => self.run(script, then(old, &new)).await,
            None => self.run(script, || {}).await,
        };
        if let (Err(e), false) = (&result, full) {
            tracing::warn!(table = %self.name, error = %e, "a partial write failed; writing the whole table");
            result = self.run(new.full(), || {}).await;
        }
        match result {
            Ok(()) => {
                *applied = Some(new);
                Ok(Synced { full, lines })
            }
            Err(e) => {
                *applied = None;
                Err(e)
            }
        }
    }

    /// Whether the table is still in the kernel; when someone removed it (`nft flush
    /// ruleset`), the next write writes it whole.
    pub(crate) async fn check(&self) -> Result<bool> {
        let listed = run_in(self.host_netns.clone(), cmd::nft_list_tables).await?;
        let present = listed
            .lines()
            .any(|l| l.trim() == format!("table ip {}", self.name));
        if !present {
            *self.applied.lock().await = None;
        }
        Ok(present)
    }

    /// Removes the table from the kernel, once a write in progress is done.
    pub(crate) async fn delete(&self) -> Result<()> {
        let mut applied = self.applied.lock().await;
        let kernel = self.kernel.clone();
        let name = self.name.clone();
        run_in(self.host_netns.clone(), move || {
            let _kernel = kernel.lock().unwrap_or_else(|e| e.into_inner());
            cmd::nft(&Ruleset::delete(&name))
        })
        .await?;
        *applied = None;
        Ok(())
    }

    /// Runs one transaction in the host's namespace, then `then`, holding the kernel lock.
    async fn run(&self, script: String, then: impl FnOnce() + Send + 'static) -> Result<()> {
        let kernel = self.kernel.clone();
        run_in(self.host_netns.clone(), move || {
            let _kernel = kernel.lock().unwrap_or_else(|e| e.into_inner());
            cmd::nft(&script)?;
            then();
            Ok(())
        })
        .await
    }
}

/// Removes the table `name` (whether it exists or not), with no [`Table`] at hand (`krust
/// killall`).
pub(crate) async fn delete(name: &str, host_netns: Option<PathBuf>) -> Result<()> {
    let name = name.to_string();
    run_in(host_netns, move || cmd::nft(&Ruleset::delete(&name))).await
}
