//! EDN (Clojure reader) numbers: `42`, `-7`, `1N`, `0x1F`, `017` (octal), `2r101`, `1.5`,
//! `1e-3`, `1.50M`, and ratios `1/3`.
//!
//! Ratios have no [`Value`] variant: a ratio is reduced the way Clojure reduces it (`2/4` is
//! `1/2`, `4/2` is `2`) and kept as `Value::Tagged(("ratio", Str("1/2")))`, which the writer
//! prints back as `1/2`.

use crate::value::{Name, Value};

/// The tag under which ratios are kept.
pub const RATIO_TAG: &str = "ratio";

/// Parses a numeric token (it starts with a digit, or a sign and a digit).
pub(crate) fn parse_number(tok: &[u8]) -> Result<Value, String> {
    let text = || String::from_utf8_lossy(tok).into_owned();
    let (neg, body) = match tok[0] {
        b'-' => (true, &tok[1..]),
        b'+' => (false, &tok[1..]),
        _ => (false, tok),
    };
    if body.iter().all(u8::is_ascii_digit) {
        return decimal_int(neg, body, false).ok_or_else(|| format!("invalid number `{}`", text()));
    }
    let last = body[body.len() - 1];
    if last == b'N' && body[..body.len() - 1].iter().all(u8::is_ascii_alphanumeric) {
        return int_forms(neg, &body[..body.len() - 1], true)
            .ok_or_else(|| format!("invalid number `{}`", text()));
    }
    if let Some(v) = int_forms(neg, body, false) {
        return Ok(v);
    }
    if let Some(slash) = body.iter().position(|&b| b == b'/') {
        return ratio(neg, &body[..slash], &body[slash + 1..])
            .ok_or_else(|| format!("invalid ratio `{}`", text()));
    }
    float(neg, body, last == b'M').ok_or_else(|| format!("invalid number `{}`", text()))
}

/// Decimal, hex, octal and radix integers.
fn int_forms(neg: bool, body: &[u8], big: bool) -> Option<Value> {
    if body.is_empty() {
        return None;
    }
    if body.iter().all(u8::is_ascii_digit) {
        return decimal_int(neg, body, big);
    }
    if let Some(hex) = body
        .strip_prefix(b"0x")
        .or_else(|| body.strip_prefix(b"0X"))
    {
        return radix_int(neg, hex, 16, big);
    }
    let r = body.iter().position(|&b| b == b'r' || b == b'R')?;
    let radix: u32 = std::str::from_utf8(&body[..r]).ok()?.parse().ok()?;
    if !(2..=36).contains(&radix) || body[0] == b'0' {
        return None;
    }
    radix_int(neg, &body[r + 1..], radix, big)
}

/// Decimal digits (a leading 0 makes them octal, as in Clojure).
fn decimal_int(neg: bool, digits: &[u8], big: bool) -> Option<Value> {
    if digits.len() > 1 && digits[0] == b'0' {
        return radix_int(neg, &digits[1..], 8, big);
    }
    let mut n: u64 = 0;
    let mut overflow = false;
    for &d in digits {
        match n
            .checked_mul(10)
            .and_then(|n| n.checked_add((d - b'0') as u64))
        {
            Some(m) => n = m,
            None => {
                overflow = true;
                break;
            }
        }
    }
    if overflow {
        // Beyond u64: keep the digits.
        let mut s = String::with_capacity(digits.len() + 1);
        if neg {
            s.push('-');
        }
        s.push_str(std::str::from_utf8(digits).ok()?);
        return Some(Value::BigInt(Name::new(s)));
    }
    Some(int_value(neg, n as u128, big))
}

fn radix_int(neg: bool, digits: &[u8], radix: u32, big: bool) -> Option<Value> {
    if digits.is_empty() {
        return None;
    }
    let mut n: u128 = 0;
    for &d in digits {
        let v = (d as char).to_digit(radix)?;
        n = n.checked_mul(radix as u128)?.checked_add(v as u128)?;
    }
    Some(int_value(neg, n, big))
}

fn int_value(neg: bool, n: u128, big: bool) -> Value {
    let signed: Option<i64> = if neg {
        if n <= i64::MAX as u128 + 1 {
            Some((n as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(n).ok()
    };
    match signed {
        Some(i) if !big => Value::Int(i),
        _ => {
            let s = if neg && n != 0 {
                format!("-{n}")
            } else {
                n.to_string()
            };
            Value::BigInt(Name::new(s))
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `n/d`: reduced; an integer when the denominator reduces to 1.
fn ratio(neg: bool, num: &[u8], den: &[u8]) -> Option<Value> {
    let digits = |s: &[u8]| -> Option<u64> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    let (n, d) = (digits(num)?, digits(den)?);
    if d == 0 {
        return None;
    }
    let g = gcd(n, d).max(1);
    let (n, d) = (n / g, d / g);
    if d == 1 {
        return Some(int_value(neg, n as u128, false));
    }
    let sign = if neg && n != 0 { "-" } else { "" };
    let text = format!("{sign}{n}/{d}");
    Some(Value::Tagged(Box::new((
        Name::new(RATIO_TAG),
        Value::Str(Name::new(text)),
    ))))
}

/// True when `s` is a ratio exactly as the reader produces it (reduced, denominator above 1),
/// so that printing it bare reads back to the same value.
pub(crate) fn is_canonical_ratio(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let Some((n, d)) = body.split_once('/') else {
        return false;
    };
    let plain = |x: &str| {
        !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()) && (x == "0" || !x.starts_with('0'))
    };
    if !plain(n) || !plain(d) {
        return false;
    }
    match (n.parse::<u64>(), d.parse::<u64>()) {
        (Ok(n), Ok(d)) => d > 1 && n > 0 && gcd(n, d) == 1,
        _ => false,
    }
}

/// `[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?M?` (the sign is already stripped).
fn float(neg: bool, body: &[u8], big: bool) -> Option<Value> {
    let num = if big { &body[..body.len() - 1] } else { body };
    let mut i = 0;
    while i < num.len() && num[i].is_ascii_digit() {
        i += 1;
    }
    if i == 0 {
        return None;
    }
    if i < num.len() && num[i] == b'.' {
        i += 1;
        while i < num.len() && num[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < num.len() && (num[i] == b'e' || num[i] == b'E') {
        i += 1;
        if i < num.len() && (num[i] == b'+' || num[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < num.len() && num[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != num.len() {
        return None;
    }
    let text = std::str::from_utf8(num).ok()?;
    if big {
        let s = if neg {
            format!("-{text}")
        } else {
            text.to_string()
        };
        return Some(Value::BigDec(Name::new(s)));
    }
    let f: f64 = text.parse().ok()?;
    Some(Value::Float(if neg { -f } else { f }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Value {
        parse_number(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn ratio_value(s: &str) -> Value {
        Value::Tagged(Box::new((Name::new(RATIO_TAG), Value::str(s))))
    }

    #[test]
    fn integers() {
        assert!(matches!(n("42"), Value::Int(42)));
        assert!(matches!(n("-7"), Value::Int(-7)));
        assert!(matches!(n("+7"), Value::Int(7)));
        assert!(matches!(n("-9223372036854775808"), Value::Int(i64::MIN)));
        assert!(matches!(n("0x1F"), Value::Int(31)));
        assert!(matches!(n("-0X10"), Value::Int(-16)));
        assert!(matches!(n("017"), Value::Int(15)));
        assert!(matches!(n("2r101"), Value::Int(5)));
        assert!(matches!(n("36rZZ"), Value::Int(1295)));
        match n("9223372036854775808") {
            Value::BigInt(s) => assert_eq!(s, "9223372036854775808"),
            v => panic!("{v:?}"),
        }
        match n("-123456789012345678901234567890") {
            Value::BigInt(s) => assert_eq!(s, "-123456789012345678901234567890"),
            v => panic!("{v:?}"),
        }
        match n("1N") {
            Value::BigInt(s) => assert_eq!(s, "1"),
            v => panic!("{v:?}"),
        }
        match n("0x10N") {
            Value::BigInt(s) => assert_eq!(s, "16"),
            v => panic!("{v:?}"),
        }
        for bad in [
            "08", "0x", "1r0", "37r1", "2r2", "1a", "1.2.3", "1e", "1/0", "1/x", "1NN",
        ] {
            assert!(parse_number(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn floats_and_decimals() {
        assert!(matches!(n("1.5"), Value::Float(f) if f == 1.5));
        assert!(matches!(n("-1.5e3"), Value::Float(f) if f == -1500.0));
        assert!(matches!(n("1E-4"), Value::Float(f) if f == 1e-4));
        assert!(matches!(n("1."), Value::Float(f) if f == 1.0));
        assert!(matches!(n("-0.0"), Value::Float(f) if f == 0.0 && f.is_sign_negative()));
        match n("1.50M") {
            Value::BigDec(s) => assert_eq!(s, "1.50"),
            v => panic!("{v:?}"),
        }
        match n("-2M") {
            Value::BigDec(s) => assert_eq!(s, "-2"),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn ratios_reduce() {
        assert_eq!(n("1/3"), ratio_value("1/3"));
        assert_eq!(n("2/4"), ratio_value("1/2"));
        assert_eq!(n("-6/4"), ratio_value("-3/2"));
        assert!(matches!(n("4/2"), Value::Int(2)));
        assert!(is_canonical_ratio("-3/2"));
        assert!(!is_canonical_ratio("2/4"));
        assert!(!is_canonical_ratio("2/1"));
        assert!(!is_canonical_ratio("01/2"));
    }
}
