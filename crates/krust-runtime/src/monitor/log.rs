//! The CRI container log format, as containerd's CRI plugin and conmon write it: one record
//! per line, `<RFC 3339 time, nanoseconds, UTC> <stdout|stderr> <F|P> <text>`, where `P`
//! marks a piece of a line (output that did not end with a newline when it was read) and
//! `F` the end of one.

use std::fs::File;
use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// A log file shared by the stdout and stderr readers.
pub struct CriLog {
    file: Mutex<Option<File>>,
}

impl CriLog {
    pub fn new(file: Option<File>) -> CriLog {
        CriLog {
            file: Mutex::new(file),
        }
    }

    /// Opens the log file again (kubelet rotated it: the old one was renamed).
    pub fn reopen(&self, path: &std::path::Path) -> std::io::Result<()> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
        Ok(())
    }

    /// Writes what one read of `stream` returned.
    pub fn write(&self, stream: &str, data: &[u8]) {
        let records = records(SystemTime::now(), stream, data);
        if let Some(file) = self.file.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            let _ = file.write_all(&records);
        }
    }
}

/// The records of one read: every line ended in it is `F`, the rest `P`.
pub fn records(time: SystemTime, stream: &str, data: &[u8]) -> Vec<u8> {
    let stamp = timestamp(time);
    let mut out = Vec::with_capacity(data.len() + 48);
    let mut rest = data;
    while !rest.is_empty() {
        let (line, tag, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(n) => (&rest[..n], "F", &rest[n + 1..]),
            None => (rest, "P", &rest[rest.len()..]),
        };
        out.extend_from_slice(format!("{stamp} {stream} {tag} ").as_bytes());
        out.extend_from_slice(line);
        out.push(b'\n');
        rest = next;
    }
    out
}

/// RFC 3339 in UTC with nanoseconds: `2026-12-06T11:22:33.123456789Z`.
pub fn timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60,
        since.subsec_nanos()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_with_nanoseconds() {
        let t = UNIX_EPOCH + Duration::new(1_796_556_153, 123_456_789);
        assert_eq!(timestamp(t), "2026-12-06T11:22:33.123456789Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&timestamp(leap)[..10], "2000-02-29");
    }

    #[test]
    fn ended_lines_are_full_and_the_rest_partial() {
        let t = UNIX_EPOCH;
        let out = String::from_utf8(records(t, "stdout", b"one\ntwo\nthr")).unwrap();
        let stamp = timestamp(t);
        assert_eq!(
            out,
            format!("{stamp} stdout F one\n{stamp} stdout F two\n{stamp} stdout P thr\n")
        );
        let empty = String::from_utf8(records(t, "stderr", b"\n")).unwrap();
        assert_eq!(empty, format!("{stamp} stderr F \n"));
    }
}
