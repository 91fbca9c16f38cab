//! Exec probes and exec hooks, the prober's `execprobe` and the handler runner's exec: the
//! command runs inside the running container (`Runtime::exec`, as CRI's ExecSync), its
//! combined output kept (the first 10 KiB) and its exit code decides.

use std::time::Duration;

use krust_runtime::Runtime;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The most output a probe or hook keeps, as the kubelet's limit.
const MAX_OUTPUT: usize = 10 * 1024;

/// Runs `command` in container `id`; `Ok((exit code, output))`, or why it could not run or
/// did not finish within `timeout`.
pub async fn run(
    runtime: &Runtime,
    id: &str,
    command: &[String],
    timeout: Duration,
) -> Result<(i32, String), String> {
    let run = async {
        let mut exec = runtime
            .exec(id, command.to_vec(), false, false)
            .await
            .map_err(|e| e.to_string())?;
        let (out, err) = tokio::join!(read(exec.stdout.take()), read(exec.stderr.take()));
        let code = exec.exit.await;
        let mut output = out;
        output.extend(err);
        output.truncate(MAX_OUTPUT);
        Ok((code, String::from_utf8_lossy(&output).into_owned()))
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "command {:?} timed out after {}s",
            command.join(" "),
            timeout.as_secs()
        )),
    }
}

async fn read(stream: Option<Box<dyn AsyncRead + Send + Unpin>>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(mut s) = stream {
        let _ = s.read_to_end(&mut buf).await;
    }
    buf
}
