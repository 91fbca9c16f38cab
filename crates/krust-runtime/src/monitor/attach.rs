//! The monitor's side of attach (`kubectl attach`, `kubectl run -i`): it holds the
//! container's stdin (a pipe, or the terminal master), serves the attach socket, copies
//! the container's output to every attached client besides the log, and reopens the log
//! when asked (CRI's `ReopenContainerLog`).

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::log::CriLog;
use crate::attach::{self, CLOSE_STDIN, LOG_REOPENED, REOPEN_LOG, RESIZE, STDIN};

/// The container's stdin and its attached clients.
pub struct Attach {
    clients: Mutex<Vec<UnixStream>>,
    log: Arc<CriLog>,
    log_path: PathBuf,
    stdin: Mutex<Option<File>>,
    terminal: Mutex<Option<File>>,
    stdin_once: bool,
    path: PathBuf,
}

impl Attach {
    pub fn new(
        path: PathBuf,
        stdin: Option<File>,
        stdin_once: bool,
        log: Arc<CriLog>,
        log_path: PathBuf,
    ) -> Arc<Attach> {
        Arc::new(Attach {
            clients: Mutex::new(Vec::new()),
            log,
            log_path,
            stdin: Mutex::new(stdin),
            terminal: Mutex::new(None),
            stdin_once,
            path,
        })
    }

    /// The terminal master, once crun sent it: the container's input goes there.
    pub fn set_terminal(&self, master: &File, stdin: bool) {
        if let Ok(copy) = master.try_clone() {
            *lock(&self.terminal) = Some(copy);
        }
        if stdin && let Ok(copy) = master.try_clone() {
            *lock(&self.stdin) = Some(copy);
        }
    }

    /// Serves the attach socket until the monitor ends, from a thread of its own (binding
    /// it is off the start's path: a client that comes first retries).
    pub fn serve(self: &Arc<Self>) {
        let me = self.clone();
        std::thread::spawn(move || {
            let _ = std::fs::create_dir_all(me.path.parent().unwrap_or(Path::new("/")));
            let _ = std::fs::remove_file(&me.path);
            let Ok(listener) = UnixListener::bind(&me.path) else {
                return;
            };
            for stream in listener.incoming().flatten() {
                // A client that does not read for a second is dropped rather than
                // stalling the container's output.
                if let Ok(copy) = stream.try_clone()
                    && copy.set_write_timeout(Some(Duration::from_secs(1))).is_ok()
                {
                    lock(&me.clients).push(copy);
                }
                let me = me.clone();
                std::thread::spawn(move || me.client(stream));
            }
        });
    }

    /// One client's input.
    fn client(&self, mut stream: UnixStream) {
        while let Some((kind, data)) = attach::read_frame(&mut stream) {
            match kind {
                STDIN => {
                    if let Some(stdin) = lock(&self.stdin).as_mut() {
                        let _ = stdin.write_all(&data);
                    }
                }
                RESIZE if data.len() == 4 => {
                    let width = u16::from_be_bytes([data[0], data[1]]);
                    let height = u16::from_be_bytes([data[2], data[3]]);
                    if let Some(terminal) = lock(&self.terminal).as_ref() {
                        let size = rustix::termios::Winsize {
                            ws_row: height,
                            ws_col: width,
                            ws_xpixel: 0,
                            ws_ypixel: 0,
                        };
                        let _ = rustix::termios::tcsetwinsize(terminal.as_fd(), size);
                    }
                }
                // Sent when a client's input ends and the container has `stdinOnce`.
                CLOSE_STDIN if self.stdin_once => self.close_stdin(),
                REOPEN_LOG => {
                    let answer = match self.log.reopen(&self.log_path) {
                        Ok(()) => Vec::new(),
                        Err(e) => e.to_string().into_bytes(),
                    };
                    let _ = stream.write_all(&attach::frame(LOG_REOPENED, &answer));
                }
                _ => {}
            }
        }
    }

    fn close_stdin(&self) {
        let mut stdin = lock(&self.stdin);
        if lock(&self.terminal).is_some() {
            // A terminal's input ends with ^D, not with closing the master.
            if let Some(terminal) = stdin.as_mut() {
                let _ = terminal.write_all(&[4]);
            }
        }
        *stdin = None;
    }

    /// Sends output to every client, forgetting those gone.
    pub fn broadcast(&self, kind: u8, data: &[u8]) {
        let frame = attach::frame(kind, data);
        lock(&self.clients).retain_mut(|client| client.write_all(&frame).is_ok());
    }

    /// The container ended: clients see the end of its output, the socket goes.
    pub fn close(&self) {
        for client in lock(&self.clients).drain(..) {
            let _ = client.shutdown(std::net::Shutdown::Both);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
