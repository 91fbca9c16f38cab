//! Stopping a container as the kubelet's `killContainer` asks CRI to: the stop signal
//! (the image's STOPSIGNAL, else SIGTERM), then SIGKILL once the grace period is over.

use std::time::Duration;

use rustix::process::{Pid, Signal};

use crate::Error;
use crate::error::Result;
use crate::runtime::Runtime;
use crate::spec::ContainerState;

impl Runtime {
    /// Sends the stop signal, waits up to `grace` for the exit, then kills. Returns once the
    /// exit is recorded; stopping a container that is not running does nothing.
    pub async fn stop_container(&self, id: &str, grace: Duration) -> Result<()> {
        let record = self.record(id)?;
        let signal = match &record.spec.stop_signal {
            Some(name) => parse_signal(name)
                .ok_or_else(|| Error::Other(format!("unknown stop signal {name:?}")))?,
            None => Signal::TERM,
        };
        if !matches!(
            self.container_status(id).await?.state,
            ContainerState::Running { .. }
        ) {
            return Ok(());
        }
        self.kill(id, signal).await;
        if self.wait_exit(id, grace).await {
            return Ok(());
        }
        self.kill(id, Signal::KILL).await;
        if self.wait_exit(id, Duration::from_secs(10)).await {
            Ok(())
        } else {
            Err(Error::Other(format!(
                "container {id} did not exit after SIGKILL"
            )))
        }
    }

    /// Signals the container's first process, while it runs (its pid cannot be reused
    /// before its monitor reaps it, which records the exit).
    pub(crate) async fn kill(&self, id: &str, signal: Signal) {
        if let Ok(status) = self.container_status(id).await
            && let ContainerState::Running { pid, .. } = status.state
            && let Some(pid) = Pid::from_raw(pid as i32)
        {
            let _ = rustix::process::kill_process(pid, signal);
        }
    }

    /// Waits up to `timeout` for the container to be seen exited.
    pub(crate) async fn wait_exit(&self, id: &str, timeout: Duration) -> bool {
        let mut exits = self.exits();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.container_status(id).await.map(|s| s.state) {
                Ok(ContainerState::Running { .. }) => {}
                _ => return true,
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            // The exit event wakes this at once; the short sleep covers a missed one.
            let slice = (deadline - now).min(Duration::from_millis(100));
            let _ = tokio::time::timeout(slice, exits.recv()).await;
        }
    }
}

/// `SIGTERM`, `TERM`, `sigterm` or `15`.
pub(crate) fn parse_signal(name: &str) -> Option<Signal> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let signal = match bare {
        "HUP" | "1" => Signal::HUP,
        "INT" | "2" => Signal::INT,
        "QUIT" | "3" => Signal::QUIT,
        "ILL" | "4" => Signal::ILL,
        "TRAP" | "5" => Signal::TRAP,
        "ABRT" | "IOT" | "6" => Signal::ABORT,
        "BUS" | "7" => Signal::BUS,
        "FPE" | "8" => Signal::FPE,
        "KILL" | "9" => Signal::KILL,
        "USR1" | "10" => Signal::USR1,
        "SEGV" | "11" => Signal::SEGV,
        "USR2" | "12" => Signal::USR2,
        "PIPE" | "13" => Signal::PIPE,
        "ALRM" | "14" => Signal::ALARM,
        "TERM" | "15" => Signal::TERM,
        "STKFLT" | "16" => Signal::STKFLT,
        "CHLD" | "17" => Signal::CHILD,
        "CONT" | "18" => Signal::CONT,
        "STOP" | "19" => Signal::STOP,
        "TSTP" | "20" => Signal::TSTP,
        "TTIN" | "21" => Signal::TTIN,
        "TTOU" | "22" => Signal::TTOU,
        "URG" | "23" => Signal::URG,
        "XCPU" | "24" => Signal::XCPU,
        "XFSZ" | "25" => Signal::XFSZ,
        "VTALRM" | "26" => Signal::VTALARM,
        "PROF" | "27" => Signal::PROF,
        "WINCH" | "28" => Signal::WINCH,
        "IO" | "POLL" | "29" => Signal::IO,
        "PWR" | "30" => Signal::POWER,
        "SYS" | "31" => Signal::SYS,
        _ => return None,
    };
    Some(signal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_signals_are_named_with_or_without_sig_or_by_number() {
        assert_eq!(parse_signal("SIGQUIT"), Some(Signal::QUIT));
        assert_eq!(parse_signal("term"), Some(Signal::TERM));
        assert_eq!(parse_signal("9"), Some(Signal::KILL));
        assert_eq!(parse_signal("SIGRTMIN"), None);
    }
}
