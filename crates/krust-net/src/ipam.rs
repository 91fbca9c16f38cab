//! Address allocation from the node's podCIDR, as CNI's `host-local` IPAM does it: the
//! network address, the gateway (`.1`) and the broadcast address are never handed out, the
//! next address is searched from the one after the last handed out (so a freed address is not
//! reused at once), and every change is written to `allocations.json` in the state directory
//! (a temporary file renamed over it) before the pod gets its address, so allocations
//! survive an agent restart. Like host-local's files, it is not synced: it must outlive the
//! agent, not the host, whose crash takes the pods' network namespaces with it (and a sync
//! cost a pod start a disk flush, ~0.5 ms here). A pod's hostPorts are kept with its
//! address: they are what the nftables table is rebuilt from.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use krust_api::cidr::Cidr;
use serde::{Deserialize, Serialize};

use crate::config::HostPort;
use crate::error::{Error, Result};

/// The file in the state directory.
const FILE: &str = "allocations.json";

/// What one pod holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Allocation {
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its hostPorts.
    #[serde(default)]
    pub host_ports: Vec<HostPort>,
}

/// The allocations of one node, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ipam {
    /// The range the addresses come from.
    #[serde(skip)]
    range: Option<Cidr>,
    /// The address handed out last.
    last: Option<Ipv4Addr>,
    /// Pod uid → what it holds.
    pods: BTreeMap<String, Allocation>,
}

impl Ipam {
    /// Reads the allocations of `state_dir` for `range` (none if the file does not exist);
    /// allocations outside `range` (the node's podCIDR changed) are dropped.
    pub fn load(state_dir: &Path, range: Cidr) -> Result<Ipam> {
        let path = state_dir.join(FILE);
        let mut ipam: Ipam = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::State {
                path: path.display().to_string(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ipam::default(),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()))(e)),
        };
        ipam.pods.retain(|uid, a| {
            let keep = range.contains(a.ip);
            if !keep {
                tracing::warn!(%uid, ip = %a.ip, %range, "dropping an address outside the node's pod range");
            }
            keep
        });
        ipam.range = Some(range);
        Ok(ipam)
    }

    /// Writes the allocations to `state_dir`: a whole old or new file after any crash of the
    /// agent.
    pub fn save(&self, state_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(state_dir)
            .map_err(Error::io(format!("creating {}", state_dir.display())))?;
        let path = state_dir.join(FILE);
        let tmp: PathBuf = state_dir.join(format!("{FILE}.tmp"));
        let what = || format!("writing {}", tmp.display());
        let mut file = std::fs::File::create(&tmp).map_err(Error::io(what()))?;
        let bytes = serde_json::to_vec_pretty(self).expect("allocations serialize");
        file.write_all(&bytes).map_err(Error::io(what()))?;
        std::fs::rename(&tmp, &path).map_err(Error::io(format!("writing {}", path.display())))
    }

    /// What `uid` holds, if anything.
    pub fn get(&self, uid: &str) -> Option<&Allocation> {
        self.pods.get(uid)
    }

    /// Every pod and what it holds.
    pub fn pods(&self) -> impl Iterator<Item = (&String, &Allocation)> {
        self.pods.iter()
    }

    /// Gives `uid` an address (the one it has, if any) and `host_ports` (replacing those it
    /// had). Fails, changing nothing, when a hostPort is another pod's or no address is free.
    pub fn allocate(&mut self, uid: &str, host_ports: &[HostPort]) -> Result<Ipv4Addr> {
        for wanted in host_ports {
            let taken = self
                .pods
                .iter()
                .filter(|(other, _)| *other != uid)
                .find(|(_, a)| a.host_ports.iter().any(|held| held.overlaps(wanted)));
            if let Some((owner, _)) = taken {
                return Err(Error::HostPortTaken {
                    port: wanted.host_port,
                    protocol: wanted.protocol.as_str(),
                    owner: owner.clone(),
                });
            }
        }
        let ip = match self.pods.get(uid) {
            Some(held) => held.ip,
            None => {
                let ip = self.next_free()?;
                self.last = Some(ip);
                ip
            }
        };
        self.pods.insert(
            uid.to_string(),
            Allocation {
                ip,
                host_ports: host_ports.to_vec(),
            },
        );
        Ok(ip)
    }

    /// Frees what `uid` holds; what it held, if anything.
    pub fn release(&mut self, uid: &str) -> Option<Allocation> {
        self.pods.remove(uid)
    }

    /// Forgets every allocation.
    pub fn clear(&mut self) {
        self.pods.clear();
        self.last = None;
    }

    /// The first free address after the last one handed out, wrapping around.
    fn next_free(&self) -> Result<Ipv4Addr> {
        let range = self.range.expect("a loaded range");
        // Usable: from .2 (after the gateway) to the one before broadcast.
        let first = 2u64;
        let end = range.size().saturating_sub(1); // broadcast, excluded
        if end <= first {
            return Err(Error::Exhausted(range));
        }
        let count = end - first;
        let start = match self.last.filter(|ip| range.contains(*ip)) {
            Some(ip) => u64::from(u32::from(ip) - u32::from(range.network())) + 1,
            None => first,
        }
        .clamp(first, end - 1);
        let used: std::collections::HashSet<Ipv4Addr> = self.pods.values().map(|a| a.ip).collect();
        (0..count)
            .map(|i| first + (start - first + i) % count)
            .map(|n| range.nth(n as u32))
            .find(|ip| !used.contains(ip))
            .ok_or(Error::Exhausted(range))
    }
}

#[cfg(test)]
#[path = "ipam_tests.rs"]
mod tests;
