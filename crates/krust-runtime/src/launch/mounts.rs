//! The container's filesystem, made in its new mount namespace by its process before it
//! execs (runc's `rootfs_linux.go`): the root bind-mounted on itself, the spec's mounts
//! (targets resolved inside the root, `within.rs`), `pivot_root` with the old root
//! detached, the default device nodes and links in `/dev`, masked and read-only paths, a
//! read-only root.

use std::ffi::CString;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags};
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

use super::Failure;
use super::config::{Config, Device, Mount};
use super::within;

/// The device nodes every container gets (runc's `AllowedDevices` that are files): name,
/// major, minor.
const DEFAULT_DEVICES: &[(&str, u32, u32)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// `/dev`'s links.
const DEV_LINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
    ("pts/ptmx", "ptmx"),
    ("/proc/kcore", "core"),
];

/// Moves this thread into a new mount namespace whose mounts propagate nowhere (nor
/// receive anything): the container's, or the one the runtime's cgroup hierarchy is held in.
pub(crate) fn private_mount_namespace() -> io::Result<()> {
    #[allow(deprecated)] // unshare_unsafe's only unsafety is CLONE_FILES
    rustix::thread::unshare(rustix::thread::UnshareFlags::NEWNS)?;
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )?;
    Ok(())
}

/// Makes the container's filesystem from `root` (in a new private mount namespace) and makes it this process's root.
pub fn prepare(root: &Path, config: &Config) -> Result<(), Failure> {
    let step = |what: &str| {
        let what = what.to_string();
        move |e: io::Error| Failure::new(what, e)
    };
    rustix::mount::mount_bind_recursive(root, root)
        .map_err(|e| step("bind-mounting the root")(e.into()))?;
    let root_fd = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| step("opening the root")(e.into()))?;
    for m in &config.mounts {
        mount(&root_fd, m).map_err(step(&format!("mounting {} on {}", m.source, m.destination)))?;
    }
    drop(root_fd);
    pivot(root).map_err(step("pivot_root"))?;
    if config.mounts.iter().any(|m| m.destination == "/dev") {
        make_devices(&config.linux.devices).map_err(step("making /dev"))?;
    }
    for path in &config.linux.masked_paths {
        mask(path).map_err(step(&format!("masking {path}")))?;
    }
    for path in &config.linux.readonly_paths {
        read_only(path).map_err(step(&format!("making {path} read-only")))?;
    }
    if config.root.readonly {
        rustix::mount::mount_remount("/", MountFlags::BIND | MountFlags::RDONLY, "")
            .map_err(|e| step("making the root read-only")(e.into()))?;
    }
    Ok(())
}

/// One mount of the spec, its target inside the root.
fn mount(root: &rustix::fd::OwnedFd, m: &Mount) -> io::Result<()> {
    let options = Options::parse(&m.options);
    let bind = m.kind == "bind" || options.bind;
    let dir = !bind || std::fs::metadata(&m.source)?.is_dir();
    let target = within::ensure(root, &m.destination, dir)?;
    let path = within::fd_path(&target);
    if bind {
        if options.recursive {
            rustix::mount::mount_bind_recursive(m.source.as_str(), path.as_str())?;
        } else {
            rustix::mount::mount_bind(m.source.as_str(), path.as_str())?;
        }
    } else {
        let data = CString::new(options.data.join(","))?;
        rustix::mount::mount(
            m.source.as_str(),
            path.as_str(),
            m.kind.as_str(),
            options.flags,
            Some(data.as_c_str()),
        )?;
    }
    // What follows acts on the new mount, which the target's old descriptor is below.
    let mounted = within::open(root, &m.destination)?;
    let path = within::fd_path(&mounted);
    if bind && !options.flags.is_empty() {
        rustix::mount::mount_remount(path.as_str(), MountFlags::BIND | options.flags, "")?;
    }
    if let Some(propagation) = options.propagation {
        rustix::mount::mount_change(path.as_str(), propagation)?;
    }
    Ok(())
}

/// A mount's options: flags, propagation, and what goes to the filesystem as data.
struct Options {
    flags: MountFlags,
    bind: bool,
    recursive: bool,
    propagation: Option<MountPropagationFlags>,
    data: Vec<String>,
}

impl Options {
    fn parse(options: &[String]) -> Options {
        let mut out = Options {
            flags: MountFlags::empty(),
            bind: false,
            recursive: false,
            propagation: None,
            data: Vec::new(),
        };
        let (private, slave, shared, rec) = (
            MountPropagationFlags::PRIVATE,
            MountPropagationFlags::DOWNSTREAM,
            MountPropagationFlags::SHARED,
            MountPropagationFlags::REC,
        );
        for option in options {
            match option.as_str() {
                "ro" => out.flags |= MountFlags::RDONLY,
                "rw" => {}
                "nosuid" => out.flags |= MountFlags::NOSUID,
                "nodev" => out.flags |= MountFlags::NODEV,
                "noexec" => out.flags |= MountFlags::NOEXEC,
                "strictatime" => out.flags |= MountFlags::STRICTATIME,
                "relatime" => out.flags |= MountFlags::RELATIME,
                "noatime" => out.flags |= MountFlags::NOATIME,
                "bind" => out.bind = true,
                "rbind" => (out.bind, out.recursive) = (true, true),
                "private" => out.propagation = Some(private),
                "rprivate" => out.propagation = Some(private | rec),
                "slave" => out.propagation = Some(slave),
                "rslave" => out.propagation = Some(slave | rec),
                "shared" => out.propagation = Some(shared),
                "rshared" => out.propagation = Some(shared | rec),
                other => out.data.push(other.to_string()),
            }
        }
        out
    }
}

/// `pivot_root` into the current directory's root, the old root stacked below and detached
/// (runc's `pivot_root(".", ".")`: no directory for the old root is needed).
fn pivot(root: &Path) -> io::Result<()> {
    rustix::process::chdir(root)?;
    rustix::process::pivot_root(".", ".")?;
    rustix::mount::unmount(".", UnmountFlags::DETACH)?;
    rustix::process::chdir("/")?;
    Ok(())
}

/// The device nodes and links of `/dev` (a fresh tmpfs): the default set, then `extra`.
fn make_devices(extra: &[Device]) -> io::Result<()> {
    let defaults = DEFAULT_DEVICES.iter().map(|(name, major, minor)| Device {
        path: Path::new("/dev").join(name),
        kind: "c".into(),
        major: *major,
        minor: *minor,
        file_mode: Some(0o666),
        uid: Some(0),
        gid: Some(0),
    });
    for device in defaults.chain(extra.iter().cloned()) {
        if device.path.exists() {
            continue;
        }
        if let Some(parent) = device.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let kind = match device.kind.as_str() {
            "b" => FileType::BlockDevice,
            "p" => FileType::Fifo,
            _ => FileType::CharacterDevice,
        };
        let mode = Mode::from_raw_mode(device.file_mode.unwrap_or(0o666));
        let dev = rustix::fs::makedev(device.major, device.minor);
        rustix::fs::mknodat(rustix::fs::CWD, &device.path, kind, mode, dev)?;
        // mknod applies the umask; the mode is the spec's.
        std::fs::set_permissions(&device.path, std::fs::Permissions::from_mode(mode.bits()))?;
        let uid = device.uid.map(rustix::fs::Uid::from_raw);
        let gid = device.gid.map(rustix::fs::Gid::from_raw);
        rustix::fs::chown(&device.path, uid, gid)?;
    }
    for (target, name) in DEV_LINKS {
        match std::os::unix::fs::symlink(target, Path::new("/dev").join(name)) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Hides a path: `/dev/null` over a file, an empty read-only tmpfs over a directory.
fn mask(path: &str) -> io::Result<()> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(meta) if meta.is_dir() => Ok(rustix::mount::mount(
            "tmpfs",
            path,
            "tmpfs",
            MountFlags::RDONLY,
            None,
        )?),
        Ok(_) => Ok(rustix::mount::mount_bind("/dev/null", path)?),
    }
}

/// Makes a path read-only: bound on itself, then remounted read-only.
fn read_only(path: &str) -> io::Result<()> {
    match rustix::mount::mount_bind_recursive(path, path) {
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        other => other?,
    }
    rustix::mount::mount_remount(
        path,
        MountFlags::BIND
            | MountFlags::RDONLY
            | MountFlags::NOSUID
            | MountFlags::NODEV
            | MountFlags::NOEXEC,
        "",
    )?;
    Ok(())
}
