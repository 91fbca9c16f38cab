//! Resource quantities (apimachinery's `resource.Quantity`) as integers: CPU in millicores,
//! everything else in units, both rounded up as `MilliValue` and `Value` do. The scheduler
//! and the kubelet read requests and limits through these.

/// The quantity × 1000, rounded up (`Quantity.MilliValue`); `None` if it does not parse.
pub fn milli_value(q: &str) -> Option<i64> {
    scaled(q, 1000)
}

/// The quantity in units, rounded up (`Quantity.Value`); `None` if it does not parse.
pub fn value(q: &str) -> Option<i64> {
    scaled(q, 1)
}

/// `q × scale`, rounded towards positive infinity, saturating at the `i64` range.
pub fn scaled(q: &str, scale: i128) -> Option<i64> {
    let q = q.trim();
    let (negative, rest) = match q.as_bytes().first()? {
        b'-' => (true, &q[1..]),
        b'+' => (false, &q[1..]),
        _ => (false, q),
    };
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(digits_end);
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    // Keep the mantissa within i128: digits past 30 do not change an i64 result.
    let mut mantissa: i128 = 0;
    let mut frac_len: u32 = 0;
    let mut overflow_exp: i32 = 0;
    for (i, c) in int_part.bytes().enumerate() {
        if i >= 30 {
            overflow_exp += 1;
            continue;
        }
        mantissa = mantissa * 10 + i128::from(c - b'0');
    }
    for c in frac_part.bytes() {
        if frac_len >= 18 {
            // Round up the dropped digits: one more unit in the last kept place.
            if c != b'0' {
                mantissa += 1;
                break;
            }
            continue;
        }
        mantissa = mantissa * 10 + i128::from(c - b'0');
        frac_len += 1;
    }
    let (binary_shift, decimal_exp) = suffix_scale(suffix)?;
    let exp10 = decimal_exp + overflow_exp - frac_len as i32;
    let mut num = mantissa.checked_mul(scale)?;
    if binary_shift > 0 {
        num = num.checked_mul(1i128 << binary_shift).unwrap_or(i128::MAX);
    }
    let result = if exp10 >= 0 {
        num.checked_mul(10i128.checked_pow(exp10 as u32).unwrap_or(i128::MAX))
            .unwrap_or(i128::MAX)
    } else {
        match 10i128.checked_pow((-exp10) as u32) {
            Some(den) => {
                let (d, r) = (num / den, num % den);
                if r != 0 && !negative { d + 1 } else { d }
            }
            None => i128::from(num != 0 && !negative),
        }
    };
    let result = if negative { -result } else { result };
    Some(result.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// The suffix as (power of two, power of ten).
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

    fn milli(q: &str) -> i64 {
        milli_value(q).unwrap_or(0)
    }

    fn units(q: &str) -> i64 {
        value(q).unwrap_or(0)
    }

    #[test]
    fn cpu_quantities_read_as_millicores_rounded_up() {
        assert_eq!(milli("100m"), 100);
        assert_eq!(milli("1"), 1000);
        assert_eq!(milli("1.5"), 1500);
        assert_eq!(milli("0.0001"), 1);
        assert_eq!(milli("250000u"), 250);
        assert_eq!(milli("1k"), 1_000_000);
        assert_eq!(milli("2e3"), 2_000_000);
        assert_eq!(milli("bogus"), 0);
    }

    #[test]
    fn memory_quantities_read_as_bytes_rounded_up() {
        assert_eq!(units("128Mi"), 128 << 20);
        assert_eq!(units("1Gi"), 1 << 30);
        assert_eq!(units("1G"), 1_000_000_000);
        assert_eq!(units("1.5Ki"), 1536);
        assert_eq!(units("100m"), 1);
        assert_eq!(units("110"), 110);
        assert_eq!(units("1E"), 1_000_000_000_000_000_000);
        assert_eq!(units("100Ei"), i64::MAX);
        assert_eq!(value("bogus"), None);
    }
}
