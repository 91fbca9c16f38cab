//! Resource quantities (apimachinery's `resource.Quantity`) as integers, as the kubelet reads
//! them: `MilliValue` for CPU, `Value` for memory and storage, both rounded up.
//!
//! A small parser of its own: krust-scheduler has the same arithmetic in a private module,
//! and the kubelet should not depend on the scheduler for it.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// The quantity × 1000, rounded up (`Quantity.MilliValue`); `None` if it does not parse.
pub fn milli_value(q: &Quantity) -> Option<i64> {
    scaled(&q.0, 1000)
}

/// The quantity in units, rounded up (`Quantity.Value`); `None` if it does not parse.
pub fn value(q: &Quantity) -> Option<i64> {
    scaled(&q.0, 1)
}

/// `q × scale`, rounded towards positive infinity, saturating at the `i64` range.
fn scaled(q: &str, scale: i128) -> Option<i64> {
    let q = q.trim();
    let (negative, rest) = match q.as_bytes().first()? {
        b'-' => (true, &q[1..]),
        b'+' => (false, &q[1..]),
        _ => (false, q),
    };
    let end = rest
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(end);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut mantissa: i128 = 0;
    let mut exp10: i32 = 0;
    for c in int_part.bytes() {
        if mantissa > 10i128.pow(30) {
            exp10 += 1;
        } else {
            mantissa = mantissa * 10 + i128::from(c - b'0');
        }
    }
    for c in frac_part.bytes() {
        if mantissa > 10i128.pow(30) {
            if c != b'0' {
                mantissa += 1;
                break;
            }
            continue;
        }
        mantissa = mantissa * 10 + i128::from(c - b'0');
        exp10 -= 1;
    }
    let (shift, suffix_exp) = suffix_scale(suffix)?;
    exp10 += suffix_exp;
    let mut num = mantissa.saturating_mul(scale);
    num = num.saturating_mul(1i128 << shift);
    let result = if exp10 >= 0 {
        num.saturating_mul(10i128.checked_pow(exp10 as u32).unwrap_or(i128::MAX))
    } else {
        match 10i128.checked_pow(exp10.unsigned_abs()) {
            Some(den) => num / den + i128::from(num % den != 0 && !negative),
            None => i128::from(num != 0 && !negative),
        }
    };
    let result = if negative { -result } else { result };
    Some(result.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// A suffix as (power of two, power of ten).
fn suffix_scale(suffix: &str) -> Option<(u32, i32)> {
    Some(match suffix {
        "" => (0, 0),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        s if s.starts_with(['e', 'E']) => (0, s[1..].parse::<i32>().ok()?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity(s.to_string())
    }

    #[test]
    fn cpu_quantities_read_as_millicores_rounded_up() {
        assert_eq!(milli_value(&q("100m")), Some(100));
        assert_eq!(milli_value(&q("1.5")), Some(1500));
        assert_eq!(milli_value(&q("0.0001")), Some(1));
        assert_eq!(milli_value(&q("2e3")), Some(2_000_000));
        assert_eq!(milli_value(&q("bogus")), None);
    }

    #[test]
    fn memory_quantities_read_as_bytes_rounded_up() {
        assert_eq!(value(&q("128Mi")), Some(128 << 20));
        assert_eq!(value(&q("1G")), Some(1_000_000_000));
        assert_eq!(value(&q("1.5Ki")), Some(1536));
        assert_eq!(value(&q("100m")), Some(1));
        assert_eq!(value(&q("100Ei")), Some(i64::MAX));
    }
}
