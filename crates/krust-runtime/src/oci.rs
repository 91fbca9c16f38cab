//! The OCI runtime spec (`config.json`) of a container, as containerd's CRI plugin builds it
//! (`opts/spec_linux.go`): the process, mounts with runc's default set, masked and
//! read-only paths, capabilities, the sandbox's namespaces joined by path plus new pid and
//! mount namespaces, the cgroup under the pod's, resources, seccomp.

use crate::capabilities::{capability_name, current_capabilities};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde_json::{Value, json};

use crate::spec::{ContainerSpec, MountKind, Resources, Sandbox};

/// Paths hidden from containers (runc's and containerd's defaults).
const MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths containers see read-only.
const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The host's device nodes under `dev` (its `pts`, `shm`, `mqueue` and `fd` aside, and the
/// console), as a privileged container gets them (containerd's `WithHostDevices`).
pub(crate) fn host_devices(dev: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let mut dirs = vec![dev.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let kind = meta.file_type();
            if kind.is_dir() {
                let name = entry.file_name();
                if !matches!(name.to_str(), Some("pts" | "shm" | "mqueue" | "fd")) {
                    dirs.push(path);
                }
                continue;
            }
            let typ = if kind.is_char_device() {
                "c"
            } else if kind.is_block_device() {
                "b"
            } else {
                continue;
            };
            if path == dev.join("console") {
                continue;
            }
            let rdev = meta.rdev();
            let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
            let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
            out.push(json!({
                "path": path, "type": typ, "major": major, "minor": minor,
                "fileMode": meta.mode() & 0o777, "uid": meta.uid(), "gid": meta.gid(),
            }));
        }
    }
    out
}

/// The `config.json` of a container of `sandbox`, its cgroup at `cgroup` (relative).
pub fn config(spec: &ContainerSpec, sandbox: &Sandbox, cgroup: &str) -> Value {
    let capabilities: Vec<String> = if spec.privileged {
        current_capabilities()
    } else {
        spec.capabilities
            .iter()
            .map(|c| capability_name(c))
            .collect()
    };
    let mut namespaces = vec![json!({"type": "mount"})];
    if let Some(pid) = &spec.pid_namespace {
        namespaces.push(json!({"type": "pid", "path": pid}));
    } else if !sandbox.spec.host_pid {
        namespaces.push(json!({"type": "pid"}));
    }
    if let Some(net) = &sandbox.netns {
        namespaces.push(json!({"type": "network", "path": net}));
    }
    if let Some(ipc) = &sandbox.ipc_ns {
        namespaces.push(json!({"type": "ipc", "path": ipc}));
    }
    namespaces.push(json!({"type": "uts", "path": sandbox.uts_ns}));
    let cwd = if spec.cwd.is_empty() {
        "/"
    } else {
        spec.cwd.as_str()
    };
    let mut config = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": spec.tty,
            "user": {
                "uid": spec.user.uid,
                "gid": spec.user.gid,
                "additionalGids": spec.user.additional_gids,
            },
            "args": spec.args,
            "env": env_with_path(&spec.env),
            "cwd": cwd,
            "capabilities": {
                "bounding": capabilities,
                "effective": capabilities,
                "permitted": capabilities,
            },
            "noNewPrivileges": spec.no_new_privileges && !spec.privileged,
            "oomScoreAdj": 0,
        },
        "root": {"path": "rootfs", "readonly": spec.readonly_rootfs},
        "hostname": sandbox.spec.hostname,
        "mounts": mounts(spec),
        "annotations": {"io.kubernetes.cri.container-name": spec.name},
        "linux": {
            "cgroupsPath": cgroup,
            "namespaces": namespaces,
            "resources": resources(&spec.resources),
        },
    });
    let linux = &mut config["linux"];
    if spec.privileged {
        linux["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}]);
        linux["devices"] = json!(host_devices(Path::new("/dev")));
    } else {
        linux["maskedPaths"] = json!(MASKED);
        linux["readonlyPaths"] = json!(READONLY);
        if spec.seccomp_runtime_default {
            linux["seccomp"] = crate::seccomp::runtime_default();
        }
    }
    config
}

/// A process without `PATH` gets the usual one, as containerd gives it.
fn env_with_path(env: &[String]) -> Vec<String> {
    let mut env = env.to_vec();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(
            0,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        );
    }
    env
}

fn mounts(spec: &ContainerSpec) -> Vec<Value> {
    let sys_options = if spec.privileged {
        json!(["nosuid", "noexec", "nodev"])
    } else {
        json!(["nosuid", "noexec", "nodev", "ro"])
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
    ];
    mounts.push(
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                       "options": sys_options}),
    );
    for m in &spec.mounts {
        let mut options = vec![];
        if m.readonly {
            options.push("ro");
        }
        match &m.kind {
            MountKind::Bind { source } => {
                options.extend(["rbind", "rprivate"]);
                mounts.push(json!({"destination": m.destination, "type": "bind",
                                   "source": source, "options": options}));
            }
            MountKind::Tmpfs { size_bytes } => {
                let mut options: Vec<String> = options.iter().map(|o| o.to_string()).collect();
                options.extend(["nosuid".into(), "nodev".into()]);
                if let Some(size) = size_bytes {
                    options.push(format!("size={size}"));
                }
                mounts.push(json!({"destination": m.destination, "type": "tmpfs",
                                   "source": "tmpfs", "options": options}));
            }
        }
    }
    mounts
}

/// `linux.resources`: the limits and, but for privileged containers, the device rules
/// (all denied but the usual character devices).
fn resources(r: &Resources) -> Value {
    let mut out = json!({
        "devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
            {"allow": true, "type": "c", "major": 136, "access": "rwm"},
        ],
    });
    let mut cpu = serde_json::Map::new();
    if let Some(v) = r.cpu_shares {
        cpu.insert("shares".into(), json!(v));
    }
    if let Some(v) = r.cpu_quota {
        cpu.insert("quota".into(), json!(v));
    }
    if let Some(v) = r.cpu_period {
        cpu.insert("period".into(), json!(v));
    }
    if !cpu.is_empty() {
        out["cpu"] = Value::Object(cpu);
    }
    if let Some(v) = r.memory_limit {
        out["memory"] = json!({"limit": v});
    }
    if let Some(v) = r.pids_limit {
        out["pids"] = json!({"limit": v});
    }
    out
}

#[cfg(test)]
#[path = "oci_tests.rs"]
mod tests;
