//! The monitor's one thread once the container runs (conmon's main loop): `poll` over the
//! container's output (stdout and stderr pipes, or the terminal master), the attach socket
//! and its clients, the container's stdin when input waits, and a pidfd of the container's
//! process. Output goes to the CRI log and the attached clients; children are reaped (the
//! monitor is their subreaper) until the container's process is among them.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, PidfdFlags, WaitOptions};

use super::attach::Attach;
use super::log::CriLog;

/// One output stream of the container.
pub struct Stream {
    file: File,
    name: &'static str,
    kind: u8,
}

impl Stream {
    /// `name` is the CRI log's stream name, `stdout` or `stderr`.
    pub fn new(fd: OwnedFd, name: &'static str) -> Stream {
        let kind = if name == "stderr" {
            crate::attach::STDERR
        } else {
            crate::attach::STDOUT
        };
        Stream {
            file: File::from(fd),
            name,
            kind,
        }
    }
}

/// Output written just before the exit is still in the pipes: it is read for at most this
/// long after the exit (a process that escaped the container's pid namespace cannot hold
/// them forever).
const DRAIN: Duration = Duration::from_secs(2);

/// Runs until the container's process `pid` has exited and its output is read; its exit
/// code, `128 + n` when signal n killed it.
pub fn run(pid: u32, mut streams: Vec<Stream>, log: &CriLog, attach: &mut Attach) -> i32 {
    let pidfd = Pid::from_raw(pid as i32)
        .and_then(|p| rustix::process::pidfd_open(p, PidfdFlags::NONBLOCK).ok());
    let mut exit = None;
    let mut drained_by = None;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let code = reap(pid);
        exit = exit.or(code);
        let timeout = match exit {
            Some(code) => {
                let by = *drained_by.get_or_insert_with(|| Instant::now() + DRAIN);
                let left = by.saturating_duration_since(Instant::now());
                if streams.is_empty() || left.is_zero() {
                    return code;
                }
                Some(left)
            }
            // Without a pidfd (never on this kernel) the exit is looked for ten times a second.
            None if pidfd.is_none() => Some(Duration::from_millis(100)),
            None => None,
        };

        let input = PollFlags::IN;
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(streams.len() + 4);
        for stream in &streams {
            fds.push(PollFd::new(&stream.file, input));
        }
        let listener = attach.listener().map(|fd| {
            fds.push(PollFd::from_borrowed_fd(fd, input));
            fds.len() - 1
        });
        let stdin = attach.stdin_waiting().map(|fd| {
            fds.push(PollFd::from_borrowed_fd(fd, PollFlags::OUT));
            fds.len() - 1
        });
        let first_client = fds.len();
        let clients: Vec<usize> = attach
            .clients()
            .into_iter()
            .map(|(index, fd)| {
                fds.push(PollFd::from_borrowed_fd(fd, input));
                index
            })
            .collect();
        if exit.is_none()
            && let Some(pidfd) = &pidfd
        {
            fds.push(PollFd::new(pidfd, input));
        }
        let timeout = timeout.and_then(|t| Timespec::try_from(t).ok());
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
        let ready: Vec<bool> = fds.iter().map(|fd| !fd.revents().is_empty()).collect();
        drop(fds);

        // Clients first, from the last (one that leaves shifts those after it).
        for (i, index) in clients.iter().enumerate().rev() {
            if ready[first_client + i] {
                attach.client_input(*index, log);
            }
        }
        if stdin.is_some_and(|i| ready[i]) {
            attach.write_stdin();
        }
        if listener.is_some_and(|i| ready[i]) {
            attach.accept();
        }
        let mut ended = Vec::new();
        for (i, stream) in streams.iter_mut().enumerate() {
            if !ready[i] {
                continue;
            }
            // One read per wake: the descriptor is readable, so it does not block.
            match stream.file.read(&mut buf) {
                Ok(0) => ended.push(i),
                Ok(n) => {
                    log.write(stream.name, &buf[..n]);
                    attach.broadcast(stream.kind, &buf[..n]);
                }
                Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => {}
                // EIO: a terminal whose other side closed.
                Err(_) => ended.push(i),
            }
        }
        for i in ended.into_iter().rev() {
            streams.remove(i);
        }
    }
}

/// Reaps the children that ended (orphans of the container's come to the monitor as subreaper); the
/// exit code of `pid` if it is among them.
/// A process's exit code, `128 + n` when signal n killed it.
pub(super) fn exit_code(status: rustix::process::WaitStatus) -> i32 {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        _ => 255,
    }
}

fn reap(pid: u32) -> Option<i32> {
    let mut code = None;
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some((reaped, status))) => {
                if reaped.as_raw_nonzero().get() as u32 == pid {
                    code = Some(exit_code(status));
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            // No child left that ended (or none at all: the container's process is gone
            // without being ours to reap, which does not happen as its subreaper).
            Ok(None) => return code,
            Err(_) => return code.or(Some(255)),
        }
    }
}
