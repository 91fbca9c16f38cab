//! The words of the kubelet's image manager (`pkg/kubelet/images/image_manager.go`) and of
//! containerd's pull errors, so that `kubectl describe` and container statuses read as they
//! do on a Kubernetes node.

use std::time::Duration;

use krust_image::Error;

/// Go's `time.Duration.String()` of `d` truncated to milliseconds: `0s`, `850ms`, `1.2s`,
/// `1m3.05s`, `2h0m0s`.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let secs = if frac == 0 {
        s.to_string()
    } else {
        format!("{s}.{}", format!("{frac:03}").trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
    }
}

/// The message of a failed pull of `reference` (normalized), as containerd words it:
/// `failed to pull and unpack image "R": failed to resolve reference "R": R: not found`.
pub fn pull_failed(reference: &str, err: &Error) -> String {
    let prefix = format!("failed to pull and unpack image {reference:?}");
    let resolve = format!("failed to resolve reference {reference:?}");
    match err {
        Error::NotFound(what) if what.contains("/manifests/") => {
            format!("{prefix}: {resolve}: {reference}: not found")
        }
        Error::Registry(why)
            if why.contains("401")
                || why.contains("no credentials")
                || why.contains("unauthorized") =>
        {
            format!(
                "{prefix}: {resolve}: pull access denied, repository does not exist or may require authorization: {why}"
            )
        }
        Error::Http(e) => format!("{prefix}: {resolve}: failed to do request: {e}"),
        e => format!("{prefix}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_prints_them_truncated_to_milliseconds() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_micros(850_900), "850ms"),
            (Duration::from_millis(1_200), "1.2s"),
            (Duration::from_millis(63_050), "1m3.05s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(7_200), "2h0m0s"),
        ];
        for (d, want) in cases {
            assert_eq!(go_duration(d), want);
        }
    }

    #[test]
    fn a_missing_manifest_is_worded_as_containerd_words_it() {
        let err = Error::NotFound("http://127.0.0.1:1/v2/a/manifests/1".into());
        assert_eq!(
            pull_failed("127.0.0.1:1/a:1", &err),
            r#"failed to pull and unpack image "127.0.0.1:1/a:1": failed to resolve reference "127.0.0.1:1/a:1": 127.0.0.1:1/a:1: not found"#
        );
    }
}
