//! The EDN printer, byte-compatible with Clojure's `pr` for the data Jepsen histories hold.

use super::number::{is_canonical_ratio, RATIO_TAG};
use crate::op::Op;
use crate::value::Value;
use std::fmt::Write as _;

/// Appends a value as EDN text, the way Clojure's `pr` prints it.
///
/// Two cases have no faithful EDN text and are written as documented in the module essay:
/// keywords and symbols whose text is not a readable name become strings, and tags whose text
/// is not a symbol get their offending characters replaced by `_`.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::BigInt(s) => {
            out.push_str(s);
            out.push('N');
        }
        Value::Float(f) => write_float(out, *f),
        Value::BigDec(s) => {
            out.push_str(s);
            out.push('M');
        }
        Value::Str(s) => write_str(out, s),
        Value::Char(c) => write_char(out, *c),
        Value::Keyword(k) => {
            if is_readable_name(k, false) {
                out.push(':');
                out.push_str(k);
            } else {
                write_str(out, k);
            }
        }
        Value::Symbol(s) => {
            if is_readable_name(s, true) {
                out.push_str(s);
            } else {
                write_str(out, s);
            }
        }
        Value::Vector(xs) => write_seq(out, "[", "]", xs),
        Value::List(xs) => write_seq(out, "(", ")", xs),
        Value::Set(xs) => write_seq(out, "#{", "}", xs),
        Value::Map(m) => write_map(out, m),
        Value::Tagged(t) => write_tagged(out, &t.0, &t.1),
    }
}

fn write_seq(out: &mut String, open: &str, close: &str, xs: &[Value]) {
    out.push_str(open);
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_value(out, x);
    }
    out.push_str(close);
}

fn write_map(out: &mut String, m: &[(Value, Value)]) {
    out.push('{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(out, k);
        out.push(' ');
        write_value(out, v);
    }
    out.push('}');
}

fn write_tagged(out: &mut String, tag: &str, v: &Value) {
    if tag == RATIO_TAG {
        if let Value::Str(s) = v {
            if is_canonical_ratio(s) {
                out.push_str(s);
                return;
            }
        }
    }
    out.push('#');
    if is_readable_name(tag, true) && tag.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.push_str(tag);
    } else {
        // Not a symbol: keep what can be kept (documented as lossy).
        let mut first = true;
        for c in tag.chars() {
            let ok = if first {
                c.is_ascii_alphabetic()
            } else {
                name_char(c)
            };
            out.push(if ok { c } else { '_' });
            first = false;
        }
        if tag.is_empty() {
            out.push('_');
        }
    }
    // Clojure prints records as `#ns.Rec{...}` and objects as `#object[...]`; other tagged
    // literals with a space: `#inst "..."`, `#error {...}`.
    let glued = matches!(v, Value::Vector(_)) || (matches!(v, Value::Map(_)) && tag.contains('.'));
    if !glued {
        out.push(' ');
    }
    write_value(out, v);
}

/// Clojure's string printing: `"` `\` newline tab return formfeed backspace are escaped,
/// everything else is written as is.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\t' => "\\t",
            b'\r' => "\\r",
            0x0c => "\\f",
            0x08 => "\\b",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        out.push_str(esc);
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Clojure's character printing, with `\uXXXX` for controls and whitespace that `\c` would not
/// read back.
fn write_char(out: &mut String, c: char) {
    out.push('\\');
    match c {
        '\n' => out.push_str("newline"),
        ' ' => out.push_str("space"),
        '\t' => out.push_str("tab"),
        '\u{8}' => out.push_str("backspace"),
        '\u{c}' => out.push_str("formfeed"),
        '\r' => out.push_str("return"),
        c if (c.is_control() || c.is_whitespace()) && (c as u32) <= 0xffff => {
            let _ = write!(out, "u{:04x}", c as u32);
        }
        c => out.push(c),
    }
}

/// Writes a double as Java's `Double.toString` does: `1.0`, `0.001`, `1.0E-4`, `1.2345678E7`,
/// `-0.0`; and `##Inf`, `##-Inf`, `##NaN`.
pub(crate) fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("##NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "##Inf" } else { "##-Inf" });
        return;
    }
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    if f < 0.0 {
        out.push('-');
    }
    let abs = f.abs();
    // Shortest round-trip digits and the decimal exponent of the first one.
    let mut sci = format!("{abs:e}");
    if !sci.contains('.') {
        // Java picks the closest two-digit decimal when one digit would do (4.9E-324).
        sci = format!("{abs:.1e}");
    }
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(|c| *c != '.').collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if (1e-3..1e7).contains(&abs) {
        let point = exp + 1;
        if point <= 0 {
            out.push_str("0.");
            for _ in 0..-point {
                out.push('0');
            }
            out.push_str(&digits);
        } else if point as usize >= digits.len() {
            out.push_str(&digits);
            for _ in 0..(point as usize - digits.len()) {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        let _ = write!(out, "E{exp}");
    }
}

/// Characters allowed in keyword and symbol names (besides the first-character rules).
fn name_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || "*+!-_'?<>=.&%$|/#:".contains(c)
    } else {
        c.is_alphanumeric()
    }
}

/// True when `:name` (or the bare symbol) reads back as the same keyword (symbol).
pub(crate) fn is_readable_name(s: &str, symbol: bool) -> bool {
    // `::x` is an auto-resolved keyword, read back as the keyword ":x".
    let body = if symbol {
        s
    } else {
        s.strip_prefix(':').unwrap_or(s)
    };
    let Some(first) = body.chars().next() else {
        return false;
    };
    if !body.chars().all(name_char) || matches!(first, '#' | '\'' | ':') {
        return false;
    }
    if body.ends_with(':') || body.contains("::") {
        return false;
    }
    if body != "/" && (body.starts_with('/') || body.ends_with('/')) {
        return false;
    }
    if symbol {
        let second = body.chars().nth(1);
        let numeric = first.is_ascii_digit()
            || ((first == '+' || first == '-') && second.is_some_and(|c| c.is_ascii_digit()));
        if numeric || matches!(body, "nil" | "true" | "false") {
            return false;
        }
    }
    true
}

/// Appends an op as one EDN map (no newline), fields in the op's layout order; a record op
/// (`layout.record`) is written as `#jepsen.history.Op{...}`.
pub fn write_op(out: &mut String, op: &Op) {
    use crate::op::{Entry, Process};
    use std::fmt::Write as _;
    if op.layout.record {
        out.push_str("#jepsen.history.Op");
    }
    out.push('{');
    let mut first = true;
    op.for_each_entry(|e| {
        if !first {
            out.push_str(", ");
        }
        first = false;
        if let Entry::Extra(k, v) = e {
            write_value(out, k);
            out.push(' ');
            write_value(out, v);
            return;
        }
        out.push(':');
        out.push_str(e.name().unwrap_or_default());
        out.push(' ');
        match e {
            Entry::Index(i) => {
                let _ = write!(out, "{i}");
            }
            Entry::Time(t) => {
                let _ = write!(out, "{t}");
            }
            Entry::Type(t) => {
                out.push(':');
                out.push_str(t.as_str());
            }
            Entry::Process(Process::Client(p)) => {
                let _ = write!(out, "{p}");
            }
            Entry::Process(Process::Nemesis) => out.push_str(":nemesis"),
            Entry::Process(Process::Other(v)) | Entry::F(v) | Entry::Value(v) | Entry::Error(v) => {
                write_value(out, v)
            }
            Entry::Extra(..) => {}
        }
    });
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Name;

    fn edn(v: &Value) -> String {
        let mut s = String::new();
        write_value(&mut s, v);
        s
    }

    #[test]
    fn floats_print_like_java() {
        let cases = [
            (1.0, "1.0"),
            (0.001, "0.001"),
            (1.0e-4, "1.0E-4"),
            (1.2345678e7, "1.2345678E7"),
            (1.0e7, "1.0E7"),
            (9999999.0, "9999999.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (123.456, "123.456"),
            (-2.5, "-2.5"),
            (1e300, "1.0E300"),
            (5e-324, "4.9E-324"),
            (0.5, "0.5"),
            (100.0, "100.0"),
            (1e23, "1.0E23"),
            (2e-3, "0.002"),
            (f64::INFINITY, "##Inf"),
            (f64::NEG_INFINITY, "##-Inf"),
            (f64::NAN, "##NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(edn(&Value::Float(f)), want, "{f:e}");
        }
    }

    #[test]
    fn collections_and_scalars() {
        let m = Value::Map(vec![
            (Value::kw("a"), 1.into()),
            (Value::kw("b"), Value::Set(vec![1.into(), 2.into()])),
        ]);
        assert_eq!(edn(&m), "{:a 1, :b #{1 2}}");
        assert_eq!(edn(&Value::List(vec![1.into(), Value::Nil])), "(1 nil)");
        assert_eq!(edn(&Value::BigInt("1".into())), "1N");
        assert_eq!(edn(&Value::BigDec("1.5".into())), "1.5M");
        assert_eq!(
            edn(&Value::str("a\"b\\c\nd\te\u{1}")),
            "\"a\\\"b\\\\c\\nd\\te\u{1}\""
        );
        assert_eq!(edn(&Value::Char('a')), "\\a");
        assert_eq!(edn(&Value::Char('\n')), "\\newline");
        assert_eq!(edn(&Value::Char('\u{0}')), "\\u0000");
        assert_eq!(
            edn(&Value::Symbol("clojure.core/+".into())),
            "clojure.core/+"
        );
        let inst = Value::Tagged(Box::new((
            Name::new("inst"),
            Value::str("2020-01-01T00:00:00.000-00:00"),
        )));
        assert_eq!(edn(&inst), "#inst \"2020-01-01T00:00:00.000-00:00\"");
        let obj = Value::Tagged(Box::new((
            Name::new("object"),
            Value::Vector(vec![Value::Symbol("x".into())]),
        )));
        assert_eq!(edn(&obj), "#object[x]");
        let rec = Value::Tagged(Box::new((Name::new("a.B"), Value::Map(vec![]))));
        assert_eq!(edn(&rec), "#a.B{}");
        let ratio = Value::Tagged(Box::new((Name::new("ratio"), Value::str("1/3"))));
        assert_eq!(edn(&ratio), "1/3");
    }

    #[test]
    fn unreadable_names_become_strings() {
        assert_eq!(edn(&Value::kw("read")), ":read");
        assert_eq!(edn(&Value::kw("jepsen/op")), ":jepsen/op");
        assert_eq!(edn(&Value::kw("x 0 0 y")), "\"x 0 0 y\"");
        assert_eq!(edn(&Value::kw("")), "\"\"");
        assert_eq!(edn(&Value::Symbol("nil".into())), "\"nil\"");
        assert_eq!(edn(&Value::Symbol("1x".into())), "\"1x\"");
        assert_eq!(edn(&Value::kw(":auto")), "::auto");
        let bad_tag = Value::Tagged(Box::new((Name::new("my tag"), Value::Int(1))));
        assert_eq!(edn(&bad_tag), "#my_tag 1");
    }
}
