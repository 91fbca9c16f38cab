//! What a real node reports about its host, read from `/proc`, `/etc` and `statvfs`, as the
//! kubelet's cadvisor-backed `MachineInfo` and `nodeInfo` are: CPUs, memory, the data
//! filesystem's size, kernel, OS image, machine and boot ids, and the host's address.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::Path;

/// The host's facts at registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    pub cpus: usize,
    pub memory_bytes: u64,
    /// Size of the filesystem holding the node's data dir (ephemeral-storage).
    pub storage_bytes: u64,
    pub kernel: String,
    pub os_image: String,
    pub machine_id: String,
    pub boot_id: String,
}

impl Host {
    /// Reads the facts; `data_dir` is where container roots and logs live.
    pub fn read(data_dir: &Path) -> Host {
        let first_line = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        Host {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes: meminfo_total(&first_line_all("/proc/meminfo")).unwrap_or(0),
            storage_bytes: rustix::fs::statvfs(data_dir)
                .map(|s| s.f_blocks * s.f_frsize)
                .unwrap_or(0),
            kernel: first_line("/proc/sys/kernel/osrelease"),
            os_image: os_image(&first_line_all("/etc/os-release")),
            machine_id: first_line("/etc/machine-id"),
            boot_id: first_line("/proc/sys/kernel/random/boot_id"),
        }
    }
}

fn first_line_all(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn meminfo_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `PRETTY_NAME` of `/etc/os-release`, as the kubelet reports `osImage`.
pub fn os_image(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

/// The address other hosts reach this one at: the source address of the default route
/// (found by connecting a UDP socket, which sends nothing), else loopback.
pub fn primary_ip() -> IpAddr {
    let probe = || -> std::io::Result<IpAddr> {
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9))?;
        Ok(socket.local_addr()?.ip())
    };
    probe().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The host's name, as the kubelet names its Node (lowercased).
pub fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_read_from_meminfo_in_bytes() {
        let meminfo = "MemTotal:       24567892 kB\nMemFree:  1 kB\n";
        assert_eq!(meminfo_total(meminfo), Some(24567892 * 1024));
    }

    #[test]
    fn the_os_image_is_the_pretty_name() {
        let release = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(os_image(release), "Debian GNU/Linux 12 (bookworm)");
    }

    #[test]
    fn the_host_has_cpus_memory_and_a_kernel() {
        let host = Host::read(Path::new("/"));
        assert!(host.cpus >= 1 && host.memory_bytes > 0 && host.storage_bytes > 0);
        assert!(!host.kernel.is_empty());
    }
}
