//! Container logs as the kubelet serves them (`pkg/kubelet/kuberuntime/logs`): CRI-format
//! log files (`<RFC3339Nano time> <stdout|stderr> <P|F> <text>` per line, `P` for a partial
//! line whose rest follows) turned back into the text the container wrote, with the
//! `tailLines`, `sinceSeconds`/`sinceTime`, `timestamps`, `limitBytes` and `follow` options.

use super::streams::StreamError;
use bytes::Bytes;
use jiff::Timestamp;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

/// How often a followed file is read again for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// How often a follow with nothing new asks whether the container still runs.
const RUNNING_CHECK: Duration = Duration::from_secs(1);

/// Asks whether the container still runs (a follow ends once it stopped and its log is read).
pub type StillRunning = Box<dyn Fn() -> futures::future::BoxFuture<'static, bool> + Send + Sync>;

/// The options of `GET /containerLogs/...` (the fields of `PodLogOptions` the kubelet reads).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogOptions {
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    pub tail_lines: Option<usize>,
    pub since: Option<Timestamp>,
    pub limit_bytes: Option<u64>,
}

impl LogOptions {
    /// From the query, as the kubelet validates it (negative numbers are refused).
    pub fn parse(query: &HashMap<String, Vec<String>>) -> Result<Self, StreamError> {
        let one = |k: &str| query.get(k).and_then(|v| v.first()).map(String::as_str);
        let flag = |k: &str| super::routes::flag(query, k);
        let num = |k: &str| -> Result<Option<i64>, StreamError> {
            one(k)
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| StreamError::bad_request(format!("invalid {k}: {v:?}")))
                })
                .transpose()
        };
        let positive = |k: &str, v: Option<i64>| -> Result<Option<i64>, StreamError> {
            match v {
                Some(n) if n < 0 => Err(StreamError::bad_request(format!(
                    "{k}: Invalid value: {n}: must be greater than or equal to 0"
                ))),
                other => Ok(other),
            }
        };
        let since_seconds = num("sinceSeconds")?;
        let since_time = one("sinceTime")
            .map(|t| {
                t.parse::<Timestamp>()
                    .map_err(|_| StreamError::bad_request(format!("invalid sinceTime: {t:?}")))
            })
            .transpose()?;
        if since_seconds.is_some() && since_time.is_some() {
            return Err(StreamError::bad_request(
                "at most one of `sinceTime` or `sinceSeconds` may be specified",
            ));
        }
        let since = match (since_seconds, since_time) {
            (Some(s), _) if s < 1 => {
                return Err(StreamError::bad_request(
                    "sinceSeconds: Invalid value: must be greater than 0",
                ));
            }
            (Some(s), _) => Some(Timestamp::now() - jiff::SignedDuration::from_secs(s)),
            (None, t) => t,
        };
        let previous = flag("previous");
        Ok(LogOptions {
            // A previous attempt has ended: its log is read, not followed.
            follow: flag("follow") && !previous,
            previous,
            timestamps: flag("timestamps"),
            tail_lines: positive("tailLines", num("tailLines")?)?.map(|n| n as usize),
            since,
            limit_bytes: positive("limitBytes", num("limitBytes")?)?.map(|n| n as u64),
        })
    }
}

/// One line of a CRI log file.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub time: Timestamp,
    pub stream: &'a str,
    pub partial: bool,
    pub text: &'a [u8],
}

/// Parses one line (without its newline).
pub fn parse_line(line: &[u8]) -> Option<Entry<'_>> {
    let mut parts = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let stream = std::str::from_utf8(parts.next()?).ok()?;
    let tag = parts.next()?;
    let text = parts.next().unwrap_or(b"");
    Some(Entry {
        time,
        stream,
        partial: tag.first() == Some(&b'P'),
        text,
    })
}

/// The text of one entry as written to the client: the line (with its newline unless
/// partial), after the time in RFC 3339 with nine fractional digits when asked for.
pub fn format_entry(e: &Entry<'_>, timestamps: bool, out: &mut Vec<u8>) {
    if timestamps {
        out.extend_from_slice(
            e.time
                .strftime("%Y-%m-%dT%H:%M:%S.%9fZ")
                .to_string()
                .as_bytes(),
        );
        out.push(b' ');
    }
    out.extend_from_slice(e.text);
    if !e.partial {
        out.push(b'\n');
    }
}

/// Formats the complete lines of `data` that pass the time filter; a trailing line without
/// its newline is left for later.
fn format_lines(data: &[u8], opts: &LogOptions, out: &mut Vec<u8>) {
    for line in data.split_inclusive(|b| *b == b'\n') {
        let Some(line) = line.strip_suffix(b"\n") else {
            continue;
        };
        let Some(entry) = parse_line(line) else {
            continue;
        };
        if opts.since.is_some_and(|s| entry.time < s) {
            continue;
        }
        format_entry(&entry, opts.timestamps, out);
    }
}

/// Where the last `n` lines of `data` start (lines of the file, partial ones counted, as the
/// kubelet's tail does).
pub fn tail_start(data: &[u8], n: usize) -> usize {
    if n == 0 {
        return data.len();
    }
    let end = if data.ends_with(b"\n") {
        data.len() - 1
    } else {
        data.len()
    };
    let mut seen = 0;
    for i in (0..end).rev() {
        if data[i] == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    0
}

/// The whole answer for a file's content (no follow): tail, time filter, timestamps, limit.
pub fn render(data: &[u8], opts: &LogOptions) -> Vec<u8> {
    let start = opts.tail_lines.map_or(0, |n| tail_start(data, n));
    let mut out = Vec::new();
    format_lines(&data[start..], opts, &mut out);
    if let Some(limit) = opts.limit_bytes {
        out.truncate(limit as usize);
    }
    out
}

/// Streams the log at `path` into chunks: what is there, then (with `follow`) what is
/// appended, until the receiver goes away, `limitBytes` is reached, or the container stopped
/// (`running` answers false) and nothing more was written.
pub fn stream(path: PathBuf, opts: LogOptions, running: StillRunning) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let Ok(mut file) = tokio::fs::File::open(&path).await else {
            return;
        };
        let mut data = Vec::new();
        if file.read_to_end(&mut data).await.is_err() {
            return;
        }
        let complete = data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let mut sent = 0u64;
        let mut out = render(&data[..complete], &opts);
        let mut pending = data[complete..].to_vec();
        let mut pos = data.len() as u64;
        loop {
            if let Some(limit) = opts.limit_bytes {
                out.truncate((limit - sent) as usize);
            }
            if !out.is_empty() {
                sent += out.len() as u64;
                if tx
                    .send(Bytes::from(std::mem::take(&mut out)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if !opts.follow || opts.limit_bytes.is_some_and(|l| sent >= l) {
                return;
            }
            // Follow: read what was appended (a truncated file is read from its start).
            let mut more = Vec::new();
            let mut checked = tokio::time::Instant::now();
            loop {
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(FOLLOW_POLL).await;
                if checked.elapsed() >= RUNNING_CHECK {
                    let stopped = !running().await;
                    let len = tokio::fs::metadata(&path).await.map_or(pos, |m| m.len());
                    if stopped && len == pos {
                        return;
                    }
                    checked = tokio::time::Instant::now();
                }
                let len = match tokio::fs::metadata(&path).await {
                    Ok(m) => m.len(),
                    Err(_) => continue,
                };
                if len < pos {
                    pos = 0;
                    pending.clear();
                }
                if len == pos {
                    continue;
                }
                if file.seek(std::io::SeekFrom::Start(pos)).await.is_err()
                    || file.read_to_end(&mut more).await.is_err()
                {
                    return;
                }
                pos += more.len() as u64;
                break;
            }
            pending.extend_from_slice(&more);
            let complete = pending
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            let rest = pending.split_off(complete);
            format_lines(&pending, &opts, &mut out);
            pending = rest;
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &[u8] = b"2026-12-06T11:22:33.123456789Z stdout F one\n\
        2026-12-06T11:22:34.5Z stderr F two\n\
        2026-12-06T11:22:35Z stdout P thr\n\
        2026-12-06T11:22:35.000000001Z stdout F ee\n\
        2026-12-06T11:22:36Z stdout F four\n";

    fn opts() -> LogOptions {
        LogOptions::default()
    }

    #[test]
    fn lines_come_back_as_written_with_partial_lines_joined() {
        assert_eq!(render(LOG, &opts()), b"one\ntwo\nthree\nfour\n");
    }

    #[test]
    fn timestamps_have_nine_fractional_digits() {
        let o = LogOptions {
            timestamps: true,
            tail_lines: Some(3),
            ..opts()
        };
        assert_eq!(
            String::from_utf8(render(LOG, &o)).unwrap(),
            "2026-12-06T11:22:35.000000000Z thr2026-12-06T11:22:35.000000001Z ee\n\
             2026-12-06T11:22:36.000000000Z four\n"
        );
    }

    #[test]
    fn tail_counts_lines_of_the_file() {
        let o = |n| LogOptions {
            tail_lines: Some(n),
            ..opts()
        };
        assert_eq!(render(LOG, &o(1)), b"four\n");
        assert_eq!(render(LOG, &o(2)), b"ee\nfour\n");
        assert_eq!(render(LOG, &o(0)), b"");
        assert_eq!(render(LOG, &o(99)), render(LOG, &opts()));
    }

    #[test]
    fn since_drops_older_lines_and_limit_cuts_bytes() {
        let o = LogOptions {
            since: Some("2026-12-06T11:22:34.5Z".parse().unwrap()),
            ..opts()
        };
        assert_eq!(render(LOG, &o), b"two\nthree\nfour\n");
        let o = LogOptions {
            limit_bytes: Some(6),
            ..opts()
        };
        assert_eq!(render(LOG, &o), b"one\ntw");
    }

    #[test]
    fn the_query_is_read_as_the_kubelet_reads_it() {
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, Vec<String>> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
                .collect()
        };
        let o = LogOptions::parse(&q(&[("follow", "true"), ("tailLines", "2")])).unwrap();
        assert!(o.follow && o.tail_lines == Some(2));
        let o = LogOptions::parse(&q(&[("follow", "true"), ("previous", "True")])).unwrap();
        assert!(o.previous && !o.follow);
        assert!(LogOptions::parse(&q(&[("tailLines", "-1")])).is_err());
        assert!(
            LogOptions::parse(&q(&[
                ("sinceSeconds", "5"),
                ("sinceTime", "2026-01-01T00:00:00Z")
            ]))
            .is_err()
        );
        let o = LogOptions::parse(&q(&[("sinceSeconds", "60")])).unwrap();
        assert!(o.since.unwrap() < Timestamp::now());
    }

    #[tokio::test]
    async fn follow_sends_appended_lines_and_ends_once_the_container_stopped() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, &LOG[..LOG.len() - 3]).unwrap(); // "…stdout F fo", unfinished
        let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let r = running.clone();
        let mut rx = stream(
            path.clone(),
            LogOptions {
                follow: true,
                tail_lines: Some(1),
                ..opts()
            },
            Box::new(move || {
                let r = r.clone();
                Box::pin(async move { r.load(std::sync::atomic::Ordering::SeqCst) })
            }),
        );
        assert_eq!(&rx.recv().await.unwrap()[..], b"ee\n");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"ur\n2026-12-06T11:22:37Z stdout F five\n")
            .unwrap();
        let mut got = Vec::new();
        while got.len() < b"four\nfive\n".len() {
            got.extend_from_slice(&rx.recv().await.unwrap());
        }
        assert_eq!(got, b"four\nfive\n");
        // Once the container stopped, the follow ends.
        running.store(false, std::sync::atomic::Ordering::SeqCst);
        let end = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(end, Ok(None));
    }
}
