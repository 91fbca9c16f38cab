//! String formats: the ones CRD schemas may use (apiextensions-apiserver drops any other
//! format before validating), and the checks of those krust implements.

use base64::Engine;
use regex::Regex;
use serde_json::Value;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

/// apiextensions-apiserver's supported formats, named without dashes (`date-time` is
/// `datetime`).
const SUPPORTED: [&str; 24] = [
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
];

/// The schema's `format` as written, if it is a supported one; else `""`.
pub(super) fn supported(s: &Value) -> &str {
    let format = s.get("format").and_then(Value::as_str).unwrap_or_default();
    if SUPPORTED.contains(&format.replace('-', "").as_str()) {
        format
    } else {
        ""
    }
}

/// Whether `text` is in `format`. Checked: `date-time`, `date`, `byte`, `uuid*`, `ipv4`,
/// `ipv6`, `cidr`; the other supported formats accept any string here.
pub(super) fn valid(format: &str, text: &str) -> bool {
    static UUID: LazyLock<[Regex; 4]> = LazyLock::new(|| {
        // Plain, version 3, 4 and 5: the third group starts with the version, the fourth
        // with the variant for 4 and 5.
        ["[0-9a-f]", "3", "4", "5"].map(|v| {
            let variant = if v == "4" || v == "5" { "[89ab]" } else { "[0-9a-f]" };
            let re = format!(
                "(?i)^[0-9a-f]{{8}}-?[0-9a-f]{{4}}-?{v}[0-9a-f]{{3}}-?{variant}[0-9a-f]{{3}}-?[0-9a-f]{{12}}$"
            );
            Regex::new(&re).expect("a valid regex")
        })
    });
    match format.replace('-', "").as_str() {
        "datetime" => date_time(text),
        "date" => date(text),
        "byte" => byte(text),
        "uuid" => UUID[0].is_match(text),
        "uuid3" => UUID[1].is_match(text),
        "uuid4" => UUID[2].is_match(text),
        "uuid5" => UUID[3].is_match(text),
        "ipv4" => text.contains('.') && ip(text),
        "ipv6" => text.contains(':') && ip(text),
        "cidr" => cidr(text),
        _ => true,
    }
}

/// RFC 3339 full-date, `2006-01-02`, a real day.
fn date(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    if !digits(0..4) || !digits(5..7) || !digits(8..10) {
        return false;
    }
    let n = |r: std::ops::Range<usize>| text[r].parse::<i16>().unwrap_or(0);
    jiff::civil::Date::new(n(0..4), n(5..7) as i8, n(8..10) as i8).is_ok()
}

/// go-openapi's `IsDateTime`: a full-date, `T` (any case), then
/// `hh:mm:ss[.frac](Z|±hh:mm)` with hours to 23 and minutes and seconds to 59.
fn date_time(text: &str) -> bool {
    static TIME: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
            .expect("a valid regex")
    });
    let lower = text.to_lowercase();
    let mut parts = lower.split('t');
    let (Some(day), Some(time)) = (parts.next(), parts.next()) else {
        return false;
    };
    if text.len() < 4 || !date(day) {
        return false;
    }
    TIME.captures(time)
        .is_some_and(|c| &c[1] <= "23" && &c[2] <= "59" && &c[3] <= "59")
}

/// Standard base64 with padding, not empty (govalidator's `IsBase64`).
fn byte(text: &str) -> bool {
    !text.is_empty()
        && text.len().is_multiple_of(4)
        && base64::engine::general_purpose::STANDARD
            .decode(text)
            .is_ok()
}

/// An IP address as Go's sloppy parser takes it: IPv4 octets may have leading zeros.
fn ip(text: &str) -> bool {
    ipv4(text) || text.parse::<Ipv6Addr>().is_ok()
}

fn ipv4(text: &str) -> bool {
    let octets: Vec<&str> = text.split('.').collect();
    let octet = |o: &&str| {
        (1..=3).contains(&o.len())
            && o.bytes().all(|c| c.is_ascii_digit())
            && o.parse::<u16>().is_ok_and(|n| n <= 255)
    };
    (octets.len() == 4 && octets.iter().all(octet)) || text.parse::<Ipv4Addr>().is_ok()
}

/// `address/prefix`, the prefix within the address's bits.
fn cidr(text: &str) -> bool {
    let Some((addr, prefix)) = text.split_once('/') else {
        return false;
    };
    let bits = if ipv4(addr) {
        32
    } else if addr.parse::<Ipv6Addr>().is_ok() {
        128
    } else {
        return false;
    };
    !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|c| c.is_ascii_digit())
        && prefix.parse::<u16>().is_ok_and(|p| p <= bits)
}
