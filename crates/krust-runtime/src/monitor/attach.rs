//! The monitor's side of attach (`kubectl attach`, `kubectl run -i`): it holds the
//! container's stdin (a pipe, or the terminal master), serves the attach socket, copies
//! the container's output to every attached client besides the log, and reopens the log
//! when asked (CRI's `ReopenContainerLog`). Everything here runs on the monitor's one
//! thread, driven by `pump.rs`: a thread per client or stream would cost each monitor a
//! stack and an allocator heap of its own (`krust-bench pods`, memory per pod).

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::log::CriLog;
use crate::attach::{self, CLOSE_STDIN, LOG_REOPENED, REOPEN_LOG, RESIZE, STDIN};

/// The container's stdin and its attached clients.
pub struct Attach {
    listener: Option<UnixListener>,
    clients: Vec<Client>,
    log_path: PathBuf,
    /// Where the container's input goes (non-blocking, so that a container that does not
    /// read never stalls its output), and what it has not taken yet.
    stdin: Option<File>,
    pending: Vec<u8>,
    close_when_written: bool,
    terminal: Option<File>,
    stdin_once: bool,
    path: PathBuf,
}

/// An attached client: its socket, the part of a frame read so far, and whether it may
/// still send (one whose input ended still gets the output).
struct Client {
    stream: UnixStream,
    input: Vec<u8>,
    reading: bool,
}

impl Attach {
    pub fn new(path: PathBuf, stdin: Option<File>, stdin_once: bool, log_path: PathBuf) -> Attach {
        let mut attach = Attach {
            listener: None,
            clients: Vec::new(),
            log_path,
            stdin: None,
            pending: Vec::new(),
            close_when_written: false,
            terminal: None,
            stdin_once,
            path,
        };
        attach.set_stdin(stdin);
        attach
    }

    fn set_stdin(&mut self, stdin: Option<File>) {
        if let Some(file) = &stdin {
            let _ = rustix::io::ioctl_fionbio(file, true);
        }
        self.stdin = stdin;
    }

    /// The terminal master, once the container's process sent it: the container's input goes there.
    pub fn set_terminal(&mut self, master: &File, stdin: bool) {
        self.terminal = master.try_clone().ok();
        if stdin {
            self.set_stdin(master.try_clone().ok());
        }
    }

    /// Binds the attach socket (after the start: a client that comes first retries).
    pub fn bind(&mut self) {
        let _ = std::fs::create_dir_all(self.path.parent().unwrap_or(Path::new("/")));
        let _ = std::fs::remove_file(&self.path);
        self.listener = UnixListener::bind(&self.path).ok();
        if let Some(listener) = &self.listener {
            let _ = listener.set_nonblocking(true);
        }
    }

    /// The listening socket, to poll for clients.
    pub fn listener(&self) -> Option<BorrowedFd<'_>> {
        self.listener.as_ref().map(|l| l.as_fd())
    }

    /// The container's input, to poll for room, while some is waiting.
    pub fn stdin_waiting(&self) -> Option<BorrowedFd<'_>> {
        match &self.stdin {
            Some(stdin) if !self.pending.is_empty() => Some(stdin.as_fd()),
            _ => None,
        }
    }

    /// The clients that may send, by index, to poll for input; none while earlier input
    /// waits for the container (so a container that does not read slows its clients
    /// down, as a pipe does).
    pub fn clients(&self) -> Vec<(usize, BorrowedFd<'_>)> {
        if !self.pending.is_empty() {
            return Vec::new();
        }
        let reading = self.clients.iter().enumerate().filter(|(_, c)| c.reading);
        reading.map(|(i, c)| (i, c.stream.as_fd())).collect()
    }

    /// Accepts the clients waiting on the socket.
    pub fn accept(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        while let Ok((stream, _)) = listener.accept() {
            // A client that does not read for a second is dropped rather than stalling
            // the container's output.
            if stream
                .set_write_timeout(Some(Duration::from_secs(1)))
                .is_ok()
            {
                self.clients.push(Client {
                    stream,
                    input: Vec::new(),
                    reading: true,
                });
            }
        }
    }

    /// Reads what client `index` (of `clients()`) sent and acts on its whole frames; a
    /// broken client is forgotten, so clients are handled from the last to the first.
    pub fn client_input(&mut self, index: usize, log: &CriLog) {
        let mut buf = [0u8; 8192];
        let read = match self.clients.get_mut(index) {
            Some(client) => client.stream.read(&mut buf),
            None => return,
        };
        let n = match read {
            Ok(0) => {
                let client = &mut self.clients[index];
                client.reading = false;
                client.input = Vec::new();
                return;
            }
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => {
                return;
            }
            Err(_) => {
                self.clients.remove(index);
                return;
            }
        };
        let mut input = std::mem::take(&mut self.clients[index].input);
        input.extend_from_slice(&buf[..n]);
        let mut rest = &input[..];
        while let Some((kind, data, next)) = split_frame(rest) {
            self.frame(index, kind, data, log);
            rest = next;
        }
        let left = rest.to_vec();
        if let Some(client) = self.clients.get_mut(index) {
            client.input = left;
        }
    }

    fn frame(&mut self, index: usize, kind: u8, data: &[u8], log: &CriLog) {
        match kind {
            STDIN if self.stdin.is_some() => {
                self.pending.extend_from_slice(data);
                self.write_stdin();
            }
            RESIZE if data.len() == 4 => {
                let width = u16::from_be_bytes([data[0], data[1]]);
                let height = u16::from_be_bytes([data[2], data[3]]);
                if let Some(terminal) = &self.terminal {
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
            CLOSE_STDIN if self.stdin_once => {
                self.close_when_written = true;
                self.write_stdin();
            }
            REOPEN_LOG => {
                let answer = match log.reopen(&self.log_path) {
                    Ok(()) => Vec::new(),
                    Err(e) => e.to_string().into_bytes(),
                };
                if let Some(client) = self.clients.get_mut(index) {
                    let _ = client
                        .stream
                        .write_all(&attach::frame(LOG_REOPENED, &answer));
                }
            }
            _ => {}
        }
    }

    /// Writes waiting input as far as the container takes it; closes its stdin once all
    /// is written if the end of input was asked for.
    pub fn write_stdin(&mut self) {
        let Some(stdin) = self.stdin.as_mut() else {
            self.pending = Vec::new();
            return;
        };
        while !self.pending.is_empty() {
            match stdin.write(&self.pending) {
                Ok(0) => return,
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                // The container closed its input: what is left goes nowhere.
                Err(_) => self.pending.clear(),
            }
        }
        self.pending = Vec::new();
        if self.close_when_written {
            self.close_stdin();
        }
    }

    fn close_stdin(&mut self) {
        if self.terminal.is_some() {
            // A terminal's input ends with ^D, not with closing the master.
            if let Some(terminal) = self.stdin.as_mut() {
                let _ = terminal.write_all(&[4]);
            }
        }
        self.stdin = None;
        self.close_when_written = false;
    }

    /// Sends output to every client, forgetting those gone.
    pub fn broadcast(&mut self, kind: u8, data: &[u8]) {
        if self.clients.is_empty() {
            return;
        }
        let frame = attach::frame(kind, data);
        self.clients
            .retain_mut(|client| client.stream.write_all(&frame).is_ok());
    }

    /// The container ended: clients see the end of its output, the socket goes.
    pub fn close(&mut self) {
        for client in self.clients.drain(..) {
            let _ = client.stream.shutdown(std::net::Shutdown::Both);
        }
        self.listener = None;
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The first whole frame of `bytes` (kind, data) and what follows it.
fn split_frame(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let head = bytes.get(..5)?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let data = bytes.get(5..5 + len)?;
    Some((head[0], data, &bytes[5 + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_whole_and_leave_a_partial_one() {
        let mut bytes = attach::frame(STDIN, b"hi");
        bytes.extend(attach::frame(RESIZE, &[0, 80, 0, 24]));
        bytes.extend(&attach::frame(STDIN, b"later")[..4]);
        let (kind, data, rest) = split_frame(&bytes).unwrap();
        assert_eq!((kind, data), (STDIN, &b"hi"[..]));
        let (kind, data, rest) = split_frame(rest).unwrap();
        assert_eq!((kind, data), (RESIZE, &[0, 80, 0, 24][..]));
        assert_eq!(split_frame(rest), None);
        assert_eq!(rest.len(), 4);
    }
}
