//! The OCI console socket (runc's `--console-socket`, as conmon and containerd's shim
//! receive it): crun connects to a Unix socket we listen on and sends the pseudo-terminal
//! master of a `terminal: true` process with SCM_RIGHTS.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

/// Where console sockets are made: a short path, since a socket path holds at most 107
/// bytes and state directories can be deep.
const DIR: &str = "/run/krust-runtime";

/// A listening console socket, removed when dropped.
pub struct ConsoleSocket {
    pub path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    /// Listens on a new socket with a random name.
    pub fn new() -> io::Result<ConsoleSocket> {
        std::fs::create_dir_all(DIR)?;
        let path = PathBuf::from(DIR).join(format!("{}.sock", &crate::state::random_id()[..24]));
        let listener = UnixListener::bind(&path)?;
        Ok(ConsoleSocket { path, listener })
    }

    /// Waits for crun to connect and send the terminal master.
    pub fn receive(&self) -> io::Result<OwnedFd> {
        let (stream, _) = self.listener.accept()?;
        Self::terminal(stream)
    }

    /// The terminal master crun already sent (it returned: its connection is queued), or
    /// an error at once if it sent none.
    pub fn receive_sent(&self) -> io::Result<OwnedFd> {
        self.listener.set_nonblocking(true)?;
        let (stream, _) = self.listener.accept()?;
        stream.set_nonblocking(false)?;
        Self::terminal(stream)
    }

    fn terminal(stream: std::os::unix::net::UnixStream) -> io::Result<OwnedFd> {
        let mut byte = [0u8; 64];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        rustix::net::recvmsg(
            stream.as_fd(),
            &mut [io::IoSliceMut::new(&mut byte)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(mut fds) = message
                && let Some(fd) = fds.next()
            {
                return Ok(fd);
            }
        }
        Err(io::Error::other(
            "no terminal received on the console socket",
        ))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
