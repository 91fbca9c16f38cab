//! Tests of `util.rs`: human durations and ages.

use jiff::SignedDuration;

use super::testing::{ago, now};
use super::*;

#[test]
fn human_durations_match_kubernetes() {
    let h = |s: i64| human_duration(SignedDuration::from_secs(s));
    let cases = [
        (-3, "<invalid>"),
        (-2, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (5, "5s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (599, "9m59s"),
        (600, "10m"),
        (75 * 60, "75m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 5 * 60, "3h5m"),
        (7 * 3600 + 59 * 60, "7h59m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (7 * 86400 + 23 * 3600, "7d23h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (733 * 86400, "2y3d"),
        (8 * 365 * 86400, "8y"),
    ];
    for (secs, want) in cases {
        assert_eq!(h(secs), want, "{secs}s");
    }
    // Sub-second deviations truncate toward zero, as Go's int(d.Seconds()) does.
    assert_eq!(human_duration(SignedDuration::from_millis(-1999)), "0s");
    assert_eq!(human_duration(SignedDuration::from_millis(1999)), "1s");
}

#[test]
fn ages_are_measured_from_timestamps_to_now() {
    assert_eq!(age(Some(&ago(0)), now()), "0s");
    assert_eq!(age(Some(&ago(5)), now()), "5s");
    assert_eq!(age(Some(&ago(3 * 60)), now()), "3m");
    assert_eq!(age(Some("2024-01-01T11:59:59.5Z"), now()), "0s");
    assert_eq!(age(None, now()), "<unknown>");
    assert_eq!(age(Some(""), now()), "<unknown>");
    assert_eq!(age(Some("0001-01-01T00:00:00Z"), now()), "<unknown>");
    assert_eq!(
        age(
            Some(&(now() + SignedDuration::from_secs(5)).to_string()),
            now()
        ),
        "<invalid>"
    );
}
