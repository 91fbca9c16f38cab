//! One container's life under its monitor: `crun run --detach` with the stdio pipes (or the
//! console socket) held here, the log written, the process reaped, the exit recorded,
//! `crun delete`. The agent learns whether the start worked from the first line the
//! monitor writes on its stdout (`ok` or `error <message>`), and that the exit is recorded
//! from the end of that pipe (before `crun delete`, which takes a few milliseconds).

use std::fs::File;
use std::io::{BufRead, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use super::attach::Attach;
use super::isolate;
use super::log::CriLog;
use super::pump::{self, Stream};
use super::speed::SealedBinary;
use crate::console::ConsoleSocket;
use crate::state::{self, ContainerDir, Exit, MonitorConfig, ProcessId, Started};

/// Runs the container of `dir`; the monitor's exit code.
pub fn run(dir: &Path) -> i32 {
    let dir = ContainerDir(dir.to_path_buf());
    match supervise(&dir) {
        Ok(()) => 0,
        Err(message) => {
            report(&format!("error {}", message.replace('\n', " ")));
            hang_up();
            1
        }
    }
}

/// Tells the agent (if it still listens: a broken pipe is no error) how the start went.
fn report(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Lets go of the agent's pipe: its end of file says the exit is recorded.
fn hang_up() {
    if let Ok(null) = File::open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
    }
}

fn supervise(dir: &ContainerDir) -> Result<(), String> {
    let t0 = std::time::Instant::now();
    let exec = since_spawn();
    let config: MonitorConfig = state::read_json(&dir.monitor_config())
        .map_err(|e| e.to_string())?
        .ok_or("no monitor.json")?;
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| format!("becoming a subreaper: {e}"))?;
    let me = ProcessId::of(std::process::id()).ok_or("reading /proc/self/stat")?;
    state::write_atomic(&dir.monitor(), me.encode().as_bytes()).map_err(|e| e.to_string())?;
    isolate::private_mount_namespace().map_err(|e| format!("mount namespace: {e}"))?;
    let sealed = SealedBinary::copy(&config.crun).ok();

    let log = CriLog::new(open_log(&config.log_path));
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (stdin_r, stdin_w) = if config.stdin && !config.tty {
        let (r, w) = pipe()?;
        (Some(r), Some(File::from(w)))
    } else {
        (None, None)
    };
    let mut attach = Attach::new(
        crate::attach::socket_path(&config.id),
        stdin_w,
        config.stdin_once,
        config.log_path.clone(),
    );
    let console = if config.tty {
        Some(ConsoleSocket::new().map_err(|e| format!("console socket: {e}"))?)
    } else {
        None
    };
    let mut crun = crun(&config, dir, sealed.as_ref());
    crun.args(["run", "--detach", "--bundle"]).arg(dir.bundle());
    crun.arg("--pid-file").arg(dir.0.join("pid"));
    if let Some(console) = &console {
        crun.arg("--console-socket").arg(&console.path);
    }
    crun.arg(&config.id);
    crun.process_group(0)
        .stdin(stdin_r.map(Stdio::from).unwrap_or_else(Stdio::null))
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::from(err_w));
    let t1 = std::time::Instant::now();
    let mut child = crun
        .spawn()
        .map_err(|e| format!("running {}: {e}", config.crun.display()))?;
    drop(crun); // our copies of the write ends: the readers see EOF when the container's go
    // A session of our own, away from the agent's terminal and its signals. It costs
    // milliseconds here (the kernel makes a scheduler autogroup per session), so it is
    // done while crun works; crun has a process group of its own meanwhile.
    let _ = rustix::process::setsid();

    let status = child.wait().map_err(|e| format!("waiting for crun: {e}"))?;
    let t2 = std::time::Instant::now();
    // The sealed copy is crun's size in memory (shared memory, in no process's PSS): it
    // speeds the start only; `crun delete` runs the file.
    drop(sealed);
    if !status.success() {
        let message = crun_error(dir).unwrap_or_else(|| format!("crun run failed: {status}"));
        let exit = Exit {
            exit_code: 128,
            reason: Some("StartError".into()),
            message: Some(message.clone()),
            started_at: None,
            finished_at: SystemTime::now(),
        };
        drop(console);
        attach.close();
        state::write_json(&dir.exit(), &exit).map_err(|e| e.to_string())?;
        report(&format!("error {}", message.replace('\n', " ")));
        hang_up();
        delete(&config, dir);
        return Ok(());
    }
    let started_at = SystemTime::now();
    let pid: u32 = std::fs::read_to_string(dir.0.join("pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .ok_or("crun wrote no pid file")?;
    state::write_json(&dir.started(), &Started { pid, started_at }).map_err(|e| e.to_string())?;
    // Where the start's time went, for whoever reads monitor.log (the latency test does).
    eprintln!(
        "start: monitor exec {} us, setup {} us, crun run {} us, then {} us",
        exec.as_micros(),
        (t1 - t0).as_micros(),
        (t2 - t1).as_micros(),
        t2.elapsed().as_micros(),
    );
    let mut streams = vec![Stream::new(out_r, "stdout"), Stream::new(err_r, "stderr")];
    // crun sent the terminal master before it returned (the socket queued it).
    if let Some(master) = console.and_then(|c| c.receive_sent().ok()) {
        let master = File::from(master);
        attach.set_terminal(&master, config.stdin);
        streams.push(Stream::new(master.into(), "stdout"));
    }
    report("ok");
    attach.bind();
    if let Some(root) = dir.0.parent().and_then(Path::parent) {
        release_runtime_mounts(root);
    }

    let exit_code = pump::run(pid, streams, &log, &mut attach);
    attach.close();
    let reason = (crate::cgroup::oom_kills(&config.cgroup) > 0).then(|| "OOMKilled".to_string());
    let exit = Exit {
        exit_code,
        reason,
        message: None,
        started_at: Some(started_at),
        finished_at: SystemTime::now(),
    };
    state::write_json(&dir.exit(), &exit).map_err(|e| e.to_string())?;
    hang_up();
    delete(&config, dir);
    Ok(())
}

/// How long ago the agent spawned this monitor (it says when in `KRUST_SPAWNED_AT`).
fn since_spawn() -> Duration {
    let spawned = std::env::var("KRUST_SPAWNED_AT")
        .ok()
        .and_then(|n| n.parse::<u64>().ok());
    let now = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    spawned
        .map(|n| now.saturating_sub(Duration::from_nanos(n)))
        .unwrap_or_default()
}

/// A crun command with the runtime's state root, a JSON error log and no environment.
fn crun(config: &MonitorConfig, dir: &ContainerDir, sealed: Option<&SealedBinary>) -> Command {
    let mut command = match sealed {
        Some(sealed) => Command::new(sealed.path()),
        None => Command::new(&config.crun),
    };
    command.arg0("crun").env_clear();
    command.arg("--root").arg(&config.crun_root);
    command
        .arg("--log")
        .arg(dir.crun_log())
        .args(["--log-format", "json"]);
    command
}

/// `crun delete --force`: crun's state and the container's cgroup go.
fn delete(config: &MonitorConfig, dir: &ContainerDir) {
    let _ = crun(config, dir, None)
        .args(["delete", "--force", &config.id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The last error crun logged.
fn crun_error(dir: &ContainerDir) -> Option<String> {
    let text = std::fs::read_to_string(dir.crun_log()).ok()?;
    text.lines().rev().find_map(|line| {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        value["msg"].as_str().map(str::to_string)
    })
}

/// The monitor's copy of the host's mounts keeps other pods' namespaces and roots alive
/// while it runs; once crun has started the container it needs none of the runtime's own.
///
/// The table is read a line at a time: with many pods it is hundreds of KiB, and a buffer
/// that size, freed just before the monitor sleeps, would stay resident in every monitor.
fn release_runtime_mounts(root: &Path) {
    let Ok(info) = File::open("/proc/self/mountinfo") else {
        return;
    };
    let mut info = std::io::BufReader::with_capacity(4096, info);
    let mut line = String::new();
    let mut points = Vec::new();
    while matches!(info.read_line(&mut line), Ok(n) if n > 0) {
        if let Some(point) = line.split(' ').nth(4)
            && Path::new(point).starts_with(root)
        {
            points.push(PathBuf::from(point));
        }
        line.clear();
    }
    for point in points.iter().rev() {
        let _ = rustix::mount::unmount(point, rustix::mount::UnmountFlags::DETACH);
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

fn open_log(path: &Path) -> Option<File> {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ok()
}
