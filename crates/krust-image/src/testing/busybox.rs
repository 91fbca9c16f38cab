//! An offline test image: the static busybox of Debian's `busybox-static` package
//! (`/usr/bin/busybox`; `scripts/test.sh` installs it) as `/bin/busybox` with its applets as
//! symlinks, `/etc/passwd` and `/etc/group` (root, nobody), and a config as `docker build`
//! writes one (`Cmd ["sh"]`, `PATH` in `Env` unless told otherwise). No registry, no docker.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::image::Image;
use super::{Entry, tar_of};
use crate::digest::Digest;

/// Where the host's static busybox is (Debian's `busybox-static`).
pub const HOST_BUSYBOX: &str = "/usr/bin/busybox";

/// The applets linked in `/bin`.
pub const APPLETS: &[&str] = &[
    "sh",
    "ash",
    "ls",
    "cat",
    "echo",
    "sleep",
    "wget",
    "nc",
    "httpd",
    "hostname",
    "env",
    "id",
    "true",
    "false",
    "ps",
    "kill",
    "mkdir",
    "rm",
    "rmdir",
    "cp",
    "mv",
    "ln",
    "touch",
    "grep",
    "sed",
    "awk",
    "head",
    "tail",
    "wc",
    "date",
    "test",
    "[",
    "printf",
    "pwd",
    "uname",
    "whoami",
    "sort",
    "tr",
    "cut",
    "seq",
    "yes",
    "timeout",
    "ip",
    "ifconfig",
    "ping",
    "nslookup",
    "mount",
    "umount",
    "df",
    "du",
    "find",
    "xargs",
    "chmod",
    "chown",
    "readlink",
    "stat",
    "sync",
    "tee",
    "vi",
    "which",
    "dd",
    "free",
    "top",
    "uptime",
    "nproc",
    "stty",
    "tty",
    "base64",
    "md5sum",
    "sha256sum",
    "basename",
    "dirname",
    "expr",
    "netstat",
    "nohup",
    "trap",
    "usleep",
    "mkfifo",
    "more",
    "less",
    "tar",
    "gzip",
    "gunzip",
    "zcat",
];

/// The `PATH` of the default config (as Docker's default).
pub const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the busybox image's config says, and files added in a second layer.
#[derive(Clone, Debug)]
pub struct BusyboxImage {
    /// `Entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// `Cmd`; `["sh"]` by default.
    pub cmd: Option<Vec<String>>,
    /// `User`.
    pub user: Option<String>,
    /// `WorkingDir`.
    pub working_dir: Option<String>,
    /// `StopSignal` (`SIGQUIT`…).
    pub stop_signal: Option<String>,
    /// `Env`; [`PATH`] by default.
    pub env: Vec<String>,
    /// Files (path, content, mode) of a second layer above busybox's, when not empty.
    pub files: Vec<(String, Vec<u8>, u32)>,
}

impl Default for BusyboxImage {
    fn default() -> Self {
        Self {
            entrypoint: None,
            cmd: Some(vec!["sh".into()]),
            user: None,
            working_dir: None,
            stop_signal: None,
            env: vec![PATH.into()],
            files: Vec::new(),
        }
    }
}

impl BusyboxImage {
    /// The image in memory.
    pub fn image(&self) -> Image {
        let mut layers = vec![busybox_layer()];
        if !self.files.is_empty() {
            layers.push(files_layer(&self.files));
        }
        let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::of(l)).collect();
        let mut config = serde_json::Map::new();
        config.insert("Env".into(), json!(self.env));
        let fields = [
            ("Entrypoint", json!(self.entrypoint)),
            ("Cmd", json!(self.cmd)),
            ("User", json!(self.user)),
            ("WorkingDir", json!(self.working_dir)),
            ("StopSignal", json!(self.stop_signal)),
        ];
        for (k, v) in fields {
            if !v.is_null() {
                config.insert(k.into(), v);
            }
        }
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        Image {
            layers,
            config: serde_json::to_vec(&config).unwrap(),
        }
    }

    /// Writes the image as a `docker save` archive tagged `name` into `dir`; returns its path.
    pub fn archive(&self, dir: &Path, name: &str) -> PathBuf {
        let file: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = dir.join(format!("{file}.tar"));
        self.image().write_docker_archive(&path, &[name]);
        path
    }
}

/// Writes the default busybox image (`Cmd ["sh"]`, `PATH`) as a `docker save` archive tagged
/// `name` (e.g. `krust.test/busybox:1`) into `dir`; returns the archive's path.
///
/// Panics when the host has no static busybox: `apt-get install -y busybox-static`.
pub fn busybox_archive(dir: &Path, name: &str) -> PathBuf {
    BusyboxImage::default().archive(dir, name)
}

/// The busybox layer: `/bin/busybox`, applet links, `/etc/passwd`, `/etc/group`, the usual
/// empty directories. The same bytes every time (mtime 0), so one diff id.
pub fn busybox_layer() -> Vec<u8> {
    let busybox = std::fs::read(HOST_BUSYBOX).unwrap_or_else(|e| {
        panic!("{HOST_BUSYBOX}: {e} (install it: apt-get install -y busybox-static)")
    });
    let links: Vec<String> = APPLETS.iter().map(|a| format!("bin/{a}")).collect();
    let mut entries = Vec::new();
    for dir in [
        "bin", "dev", "etc", "home", "proc", "root", "sys", "usr", "usr/bin", "var", "var/www",
    ] {
        entries.push(Entry::Dir(dir));
    }
    entries.push(Entry::DirMode("tmp", 0o1777));
    entries.push(Entry::Executable("bin/busybox", &busybox));
    entries.extend(links.iter().map(|l| Entry::Symlink(l, "busybox")));
    entries.push(Entry::Symlink("usr/bin/env", "/bin/busybox"));
    entries.push(Entry::File(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
    ));
    entries.push(Entry::File("etc/group", b"root:x:0:\nnobody:x:65534:\n"));
    tar_of(&entries)
}

fn files_layer(files: &[(String, Vec<u8>, u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    let header = |mode: u32, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(size);
        h
    };
    for (path, data, mode) in files {
        let path = path.trim_start_matches('/');
        let parents: Vec<&str> = path.match_indices('/').map(|(i, _)| &path[..i]).collect();
        for dir in parents {
            if dirs.insert(dir.to_owned()) {
                let mut h = header(0o755, 0);
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, dir, &[][..]).unwrap();
            }
        }
        let mut h = header(*mode, data.len() as u64);
        b.append_data(&mut h, path, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}
