//! One container's life under its monitor: its process started (`launch::run`) with the
//! stdio pipes (or a terminal) held here, the log written, the process reaped, the exit
//! recorded, the cgroup removed. The agent learns whether the start worked from the first
//! line the monitor writes on its stdout (`ok` or `error <message>`), and that the exit is
//! recorded from the end of that pipe.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use super::attach::Attach;
use super::log::CriLog;
use super::pump::{self, Stream};
use crate::launch::{self, Stdio3};
use crate::state::{self, ContainerDir, Exit, MonitorConfig, ProcessId, Started};

/// Runs the container of `dir`; the monitor's exit code.
pub fn run(dir: &Path) -> i32 {
    monitor(dir, since_spawn())
}

/// A spare monitor (`crate::spare`): it waits for its instructions on stdin, one line
/// `<unix nanos> <container dir>`, then runs that container with its stderr in the
/// container's `monitor.log`. End of file first (the runtime gone) ends it.
pub fn spare() -> i32 {
    let Some(line) = instructions() else {
        return 0;
    };
    let Some((at, dir)) = line.split_once(' ') else {
        return 2;
    };
    let dir = Path::new(dir);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("monitor.log"));
    if let Ok(log) = log {
        let _ = rustix::stdio::dup2_stderr(&log);
    }
    if let Ok(null) = File::open("/dev/null") {
        let _ = rustix::stdio::dup2_stdin(&null);
    }
    monitor(dir, since(at.parse().ok()))
}

/// The one line a spare monitor waits for on its stdin, without its newline; `None` at end
/// of file. Read a few bytes at a time into a small buffer (no 8 KiB reader kept resident).
fn instructions() -> Option<String> {
    let mut line = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    loop {
        match rustix::io::read(rustix::stdio::stdin(), &mut chunk) {
            Ok(0) => return None,
            Ok(n) => line.extend_from_slice(&chunk[..n]),
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
        if let Some(end) = line.iter().position(|b| *b == b'\n') {
            line.truncate(end);
            return String::from_utf8(line).ok();
        }
    }
}

/// Runs the container of `dir`; `exec` is how long the monitor took to begin since the
/// agent asked.
fn monitor(dir: &Path, exec: Duration) -> i32 {
    let dir = ContainerDir(dir.to_path_buf());
    match supervise(&dir, exec) {
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

fn supervise(dir: &ContainerDir, exec: Duration) -> Result<(), String> {
    let t0 = std::time::Instant::now();
    let config: MonitorConfig = state::read_json(&dir.monitor_config())
        .map_err(|e| e.to_string())?
        .ok_or("no monitor.json")?;
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| format!("becoming a subreaper: {e}"))?;
    let me = ProcessId::of(std::process::id()).ok_or("reading /proc/self/stat")?;
    state::write_atomic(&dir.monitor(), me.encode().as_bytes()).map_err(|e| e.to_string())?;

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
    // With a terminal, the container's process makes it and sends its master here.
    let (ours, theirs) = if config.tty {
        let (ours, theirs) = UnixStream::pair().map_err(|e| format!("console socket: {e}"))?;
        (Some(ours), Some(OwnedFd::from(theirs)))
    } else {
        (None, None)
    };
    // (With a terminal the process replaces these with it.)
    let stdio = Stdio3 {
        stdin: stdin_r.map(Stdio::from).unwrap_or_else(Stdio::null),
        stdout: Stdio::from(out_w),
        stderr: Stdio::from(err_w),
    };
    let t1 = std::time::Instant::now();
    let started = launch::read_config(&dir.bundle())
        .and_then(|spec| launch::run(&dir.bundle(), spec, stdio, theirs));
    let t2 = std::time::Instant::now();
    let pid = match started {
        Ok(pid) => pid,
        Err(failure) => {
            let message = failure.to_string();
            let exit = Exit {
                exit_code: 128,
                reason: Some("StartError".into()),
                message: Some(message.clone()),
                started_at: None,
                finished_at: SystemTime::now(),
            };
            attach.close();
            state::write_json(&dir.exit(), &exit).map_err(|e| e.to_string())?;
            report(&format!("error {}", message.replace('\n', " ")));
            hang_up();
            delete(&config);
            return Ok(());
        }
    };
    let started_at = SystemTime::now();
    state::write_json(&dir.started(), &Started { pid, started_at }).map_err(|e| e.to_string())?;
    // Where the start's time went, for whoever reads monitor.log (the latency test does).
    eprintln!(
        "start: monitor exec {} us, setup {} us, launch {} us, then {} us",
        exec.as_micros(),
        (t1 - t0).as_micros(),
        (t2 - t1).as_micros(),
        t2.elapsed().as_micros(),
    );
    let mut streams = vec![Stream::new(out_r, "stdout"), Stream::new(err_r, "stderr")];
    // The process sent its terminal's master before it ran (the socket queued it).
    if let Some(master) = ours.and_then(|s| crate::console::receive_terminal(&s).ok()) {
        let master = File::from(master);
        attach.set_terminal(&master, config.stdin);
        streams.push(Stream::new(master.into(), "stdout"));
    }
    report("ok");
    // A session of our own, away from the agent's terminal and its signals (once the agent
    // has its answer: the kernel makes a scheduler autogroup per session, which takes a
    // while).
    let _ = rustix::process::setsid();
    attach.bind();

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
    delete(&config);
    Ok(())
}

/// How long ago the agent spawned this monitor (it says when in `KRUST_SPAWNED_AT`).
fn since_spawn() -> Duration {
    since(
        std::env::var("KRUST_SPAWNED_AT")
            .ok()
            .and_then(|n| n.parse().ok()),
    )
}

/// How long ago `unix_nanos` was (zero if unknown).
fn since(unix_nanos: Option<u64>) -> Duration {
    let now = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    unix_nanos
        .map(|n| now.saturating_sub(Duration::from_nanos(n)))
        .unwrap_or_default()
}

/// What is left of the container once its first process is gone: any process of its that
/// escaped it (without a PID namespace of its own), and its cgroup.
fn delete(config: &MonitorConfig) {
    crate::cgroup::kill_all(&config.cgroup);
    let _ = crate::cgroup::remove(&config.cgroup);
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
