//! One container's life under its monitor: `crun run --detach` with the stdio pipes (or the
//! console socket) held here, the log written, the process reaped, the exit recorded,
//! `crun delete`. The agent learns whether the start worked from the first line the
//! monitor writes on its stdout (`ok` or `error <message>`), and that the exit is recorded
//! from the end of that pipe (before `crun delete`, which takes a few milliseconds).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use rustix::process::WaitOptions;

use super::attach::Attach;
use super::isolate;
use super::log::CriLog;
use super::speed::{self, SealedBinary};
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
    speed::start_cgroup_grace_period();
    let sealed = SealedBinary::copy(&config.crun).ok();

    let log = Arc::new(CriLog::new(open_log(&config.log_path)));
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (stdin_r, stdin_w) = if config.stdin && !config.tty {
        let (r, w) = pipe()?;
        (Some(r), Some(File::from(w)))
    } else {
        (None, None)
    };
    let attach = Attach::new(
        crate::attach::socket_path(&config.id),
        stdin_w,
        config.stdin_once,
        log.clone(),
        config.log_path.clone(),
    );
    attach.serve();
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

    let console_path = console.as_ref().map(|c| c.path.clone());
    let (done_tx, done_rx) = mpsc::channel();
    let mut readers = 2;
    let output = Arc::new(Output {
        log,
        attach: attach.clone(),
    });
    copy_to_log(out_r, "stdout", output.clone(), done_tx.clone());
    copy_to_log(err_r, "stderr", output.clone(), done_tx.clone());
    if let Some(console) = console {
        readers += 1;
        let (output, done, stdin) = (output.clone(), done_tx.clone(), config.stdin);
        std::thread::spawn(move || {
            // The master comes once crun made the terminal; if crun fails first, the
            // monitor exits and takes this thread with it (the socket is removed then).
            if let Ok(master) = console.receive() {
                let master = File::from(master);
                output.attach.set_terminal(&master, stdin);
                copy(master.into(), "stdout", &output);
            }
            let _ = done.send(());
        });
    }
    drop(done_tx);

    let status = child.wait().map_err(|e| format!("waiting for crun: {e}"))?;
    let t2 = std::time::Instant::now();
    if !status.success() {
        let message = crun_error(dir).unwrap_or_else(|| format!("crun run failed: {status}"));
        let exit = Exit {
            exit_code: 128,
            reason: Some("StartError".into()),
            message: Some(message.clone()),
            started_at: None,
            finished_at: SystemTime::now(),
        };
        if let Some(path) = console_path {
            let _ = std::fs::remove_file(path);
        }
        attach.close();
        state::write_json(&dir.exit(), &exit).map_err(|e| e.to_string())?;
        report(&format!("error {}", message.replace('\n', " ")));
        hang_up();
        delete(&config, dir, sealed.as_ref());
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
    report("ok");
    // In the background: unmounting takes milliseconds the exit path need not wait for.
    let root = dir.0.parent().and_then(Path::parent).map(Path::to_path_buf);
    std::thread::spawn(move || root.map(|root| release_runtime_mounts(&root)));

    let exit_code = reap(pid);
    // Output written just before the exit is still in the pipes: read it all first (a
    // process that escaped the container's pid namespace cannot hold them forever).
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    for _ in 0..readers {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if done_rx.recv_timeout(left).is_err() {
            break;
        }
    }
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
    delete(&config, dir, sealed.as_ref());
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

/// A crun command with the runtime's state root and a JSON error log.
fn crun(config: &MonitorConfig, dir: &ContainerDir, sealed: Option<&SealedBinary>) -> Command {
    let mut command = match sealed {
        Some(sealed) => Command::new(sealed.path()),
        None => Command::new(&config.crun),
    };
    command.arg0("crun");
    command.arg("--root").arg(&config.crun_root);
    command
        .arg("--log")
        .arg(dir.crun_log())
        .args(["--log-format", "json"]);
    command
}

/// `crun delete --force`: crun's state and the container's cgroup go.
fn delete(config: &MonitorConfig, dir: &ContainerDir, sealed: Option<&SealedBinary>) {
    let _ = crun(config, dir, sealed)
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

/// Reaps children (crun's orphans come to us as subreaper) until the container's process
/// is among them; its exit code, `128 + n` when signal n killed it.
fn reap(pid: u32) -> i32 {
    loop {
        match rustix::process::wait(WaitOptions::empty()) {
            Ok(Some((reaped, status))) if reaped.as_raw_nonzero().get() as u32 == pid => {
                return match (status.exit_status(), status.terminating_signal()) {
                    (Some(code), _) => code,
                    (None, Some(signal)) => 128 + signal,
                    _ => 255,
                };
            }
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return 255,
        }
    }
}

/// The monitor's copy of the host's mounts keeps other pods' namespaces and roots alive
/// while it runs; once crun has started the container it needs none of the runtime's own.
fn release_runtime_mounts(root: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| Path::new(point).starts_with(root))
        .collect();
    points.reverse();
    for point in points {
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

/// Where the container's output goes: the log and the attached clients.
struct Output {
    log: Arc<CriLog>,
    attach: Arc<Attach>,
}

fn copy_to_log(fd: OwnedFd, stream: &'static str, output: Arc<Output>, done: mpsc::Sender<()>) {
    std::thread::spawn(move || {
        copy(fd, stream, &output);
        let _ = done.send(());
    });
}

/// Copies a stream into the log and to attached clients until its end (EOF, or EIO from a
/// terminal whose other side closed).
fn copy(fd: OwnedFd, stream: &str, output: &Output) {
    let kind = if stream == "stderr" {
        crate::attach::STDERR
    } else {
        crate::attach::STDOUT
    };
    let mut file = File::from(fd);
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                output.log.write(stream, &buf[..n]);
                output.attach.broadcast(kind, &buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
