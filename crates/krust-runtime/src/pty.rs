//! A pseudo-terminal master as Tokio reader and writer halves (what containerd's shim and
//! conmon copy to and from for `kubectl exec -t`), and its window size. Reading ends with
//! EOF once the terminal's other side is closed (Linux says EIO).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One half of a terminal master (both halves share the descriptor).
#[derive(Clone)]
pub struct PtyHalf(Arc<AsyncFd<File>>);

/// The reader and writer of a terminal master.
pub fn split(master: OwnedFd) -> io::Result<(PtyHalf, PtyHalf)> {
    rustix::io::ioctl_fionbio(&master, true)?;
    // Deprecated for descriptors that may be closed while registered; this one is owned
    // by the AsyncFd, which is the safe case (`register` became `unsafe` for all cases).
    #[allow(deprecated)]
    let fd = Arc::new(AsyncFd::new(File::from(master))?);
    Ok((PtyHalf(fd.clone()), PtyHalf(fd)))
}

impl PtyHalf {
    /// Sets the terminal's size in characters.
    pub fn resize(&self, width: u16, height: u16) -> io::Result<()> {
        let size = rustix::termios::Winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(self.0.get_ref().as_fd(), size).map_err(io::Error::from)
    }
}

impl AsyncRead for PtyHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|fd| fd.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => {
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for PtyHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.0.poll_write_ready(cx))?;
            match guard.try_io(|fd| fd.get_ref().write(data)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
