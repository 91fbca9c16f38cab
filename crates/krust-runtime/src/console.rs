//! The OCI console socket (runc's `--console-socket`, as conmon and containerd's shim
//! receive it): a `terminal: true` process makes its terminal inside the container (on the
//! container's own `/dev/pts`) and sends the master with SCM_RIGHTS on a Unix socket: to
//! its monitor on a socket pair, or, for an exec, to the agent, which listens on a socket
//! the exec's monitor connects to.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

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

    /// Waits for the exec's process to connect and send its terminal's master.
    pub fn receive(&self) -> io::Result<OwnedFd> {
        let (stream, _) = self.listener.accept()?;
        receive_terminal(&stream)
    }
}

/// Receives a terminal master sent on `stream`.
pub fn receive_terminal(stream: &impl AsFd) -> io::Result<OwnedFd> {
    let mut byte = [0u8; 64];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    rustix::net::recvmsg(
        stream,
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

/// Sends a terminal master on `stream`.
pub fn send_terminal(stream: &impl AsFd, master: &impl AsFd) -> io::Result<()> {
    let fds = [master.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(
        stream,
        &[io::IoSlice::new(b"t")],
        &mut control,
        SendFlags::empty(),
    )?;
    Ok(())
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
