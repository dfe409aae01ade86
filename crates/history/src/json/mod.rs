//! JSON and JSONL: rift's own history format (`history.jsonl`, one op per line).
//!
//! # How EDN values map to JSON
//! Jepsen's data is richer than JSON, so a few conventions keep every value exact:
//!
//! | EDN | JSON |
//! |---|---|
//! | `nil`, `true`, `42`, `1.5` | `null`, `true`, `42`, `1.5` (floats always carry `.` or `e`) |
//! | keyword `:read` | `"read"`: a plain JSON string is a keyword |
//! | string `"hi"` | `"~shi"` |
//! | symbol, char, `1N`, `1.5M` | `"~yfoo"`, `"~cx"`, `"~n1"`, `"~m1.5"` |
//! | `##Inf`, `##-Inf`, `##NaN` | `"~finf"`, `"~f-inf"`, `"~fnan"` |
//! | keyword whose name starts with `~` | `"~k~name"` |
//! | vector `[1 2]` | `[1, 2]` |
//! | list, set | `{"~list": [..]}`, `{"~set": [..]}` |
//! | map with keyword or string keys | a JSON object, keys encoded like strings above |
//! | map with other keys | `{"~map": [[k, v], ...]}` |
//! | tagged `#tag v` | `{"~tag": "tag", "~val": v}` |
//!
//! Keywords are plain strings because Jepsen's names (`:f`, `:type`, micro-op kinds) are
//! keywords, and histories written by other tools (elle-cli's JSON, hand-written files) use
//! plain strings for them. An op line is the op's EDN map in this encoding:
//! `{"index":0,"time":12,"type":"invoke","process":0,"f":"read","value":null}`.

mod parse;
mod read;

pub use read::*;

use crate::op::{Entry, Op, Process};
use crate::value::Value;
use std::fmt::Write as _;

// ---------------------------------------------------------------------------------------------
// Writing

/// Appends a value as JSON.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => write_float(out, *f),
        Value::BigInt(s) => write_tagged_str(out, 'n', s),
        Value::BigDec(s) => write_tagged_str(out, 'm', s),
        Value::Str(s) => write_tagged_str(out, 's', s),
        Value::Symbol(s) => write_tagged_str(out, 'y', s),
        Value::Char(c) => {
            let mut b = [0u8; 4];
            write_tagged_str(out, 'c', c.encode_utf8(&mut b))
        }
        Value::Keyword(k) => write_keyword(out, k),
        Value::Vector(xs) => write_array(out, xs),
        Value::List(xs) => {
            out.push_str("{\"~list\":");
            write_array(out, xs);
            out.push('}');
        }
        Value::Set(xs) => {
            out.push_str("{\"~set\":");
            write_array(out, xs);
            out.push('}');
        }
        Value::Map(m) => {
            if m.iter()
                .all(|(k, _)| matches!(k, Value::Keyword(_) | Value::Str(_)))
            {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_value(out, k);
                    out.push(':');
                    write_value(out, v);
                }
                out.push('}');
            } else {
                out.push_str("{\"~map\":[");
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('[');
                    write_value(out, k);
                    out.push(',');
                    write_value(out, v);
                    out.push(']');
                }
                out.push_str("]}");
            }
        }
        Value::Tagged(t) => {
            out.push_str("{\"~tag\":");
            write_json_str(out, &t.0);
            out.push_str(",\"~val\":");
            write_value(out, &t.1);
            out.push('}');
        }
    }
}

fn write_array(out: &mut String, xs: &[Value]) {
    out.push('[');
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(out, x);
    }
    out.push(']');
}

fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("\"~fnan\"");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "\"~finf\"" } else { "\"~f-inf\"" });
    } else {
        let start = out.len();
        let _ = write!(out, "{f:?}");
        // `{:?}` prints `1.0`, `1e20`, `1.5e-7`: always a float to a JSON reader.
        debug_assert!(out[start..].contains(['.', 'e', 'E']) || out[start..].contains("inf"));
    }
}

fn write_keyword(out: &mut String, k: &str) {
    if k.starts_with('~') {
        write_tagged_str(out, 'k', k);
    } else {
        write_json_str(out, k);
    }
}

fn write_tagged_str(out: &mut String, tag: char, s: &str) {
    out.push('"');
    out.push('~');
    out.push(tag);
    escape_into(out, s);
    out.push('"');
}

/// Appends a JSON string literal.
pub fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    escape_into(out, s);
    out.push('"');
}

fn escape_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Appends an op as one JSON object (no newline), fields in the op's layout order.
pub fn write_op(out: &mut String, op: &Op) {
    out.push('{');
    let mut first = true;
    op.for_each_entry(|e| {
        if !first {
            out.push(',');
        }
        first = false;
        if let Entry::Extra(k, v) = e {
            write_value(out, k);
            out.push(':');
            write_value(out, v);
            return;
        }
        out.push('"');
        out.push_str(e.name().unwrap_or_default());
        out.push_str("\":");
        match e {
            Entry::Index(i) => {
                let _ = write!(out, "{i}");
            }
            Entry::Time(t) => {
                let _ = write!(out, "{t}");
            }
            Entry::Type(t) => {
                out.push('"');
                out.push_str(t.as_str());
                out.push('"');
            }
            Entry::Process(Process::Client(p)) => {
                let _ = write!(out, "{p}");
            }
            Entry::Process(Process::Nemesis) => out.push_str("\"nemesis\""),
            Entry::Process(Process::Other(v)) | Entry::F(v) | Entry::Value(v) | Entry::Error(v) => {
                write_value(out, v)
            }
            Entry::Extra(..) => {}
        }
    });
    out.push('}');
}

/// The JSON text of an op.
pub fn op_to_json(op: &Op) -> String {
    let mut s = String::with_capacity(128);
    write_op(&mut s, op);
    s
}

/// The JSON text of a value.
pub fn value_to_json(v: &Value) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

/// Streams ops to a JSONL file: [`OpWriter::jsonl`](crate::writer::OpWriter::jsonl).
pub type JsonlWriter<W> = crate::writer::OpWriter<W>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector;
    use std::path::Path;

    fn roundtrip(v: Value) {
        let text = value_to_json(&v);
        let back = parse_value(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(back, v, "{text}");
        assert_eq!(value_to_json(&back), text);
    }

    #[test]
    fn values_roundtrip() {
        roundtrip(Value::Nil);
        roundtrip(Value::Int(-3));
        roundtrip(Value::Float(1.0));
        roundtrip(Value::Float(1e300));
        roundtrip(Value::Float(f64::INFINITY));
        roundtrip(Value::Float(f64::NAN));
        roundtrip(Value::BigInt("123456789012345678901234567890".into()));
        roundtrip(Value::BigDec("1.50".into()));
        roundtrip(Value::str("hello \"world\"\n\u{1}"));
        roundtrip(Value::str("~tilde"));
        roundtrip(Value::kw("~odd"));
        roundtrip(Value::kw("read"));
        roundtrip(Value::Symbol("clojure.core/+".into()));
        roundtrip(Value::Char('é'));
        roundtrip(Value::List(vec![1.into(), Value::kw("a")]));
        roundtrip(Value::Set(vec![1.into(), 2.into()]));
        roundtrip(Value::Map(vec![
            (1.into(), 2.into()),
            (Value::kw("x"), Value::Nil),
        ]));
        roundtrip(Value::Map(vec![(Value::str("~set"), 2.into())]));
        roundtrip(Value::Tagged(Box::new(("inst".into(), Value::str("2020")))));
        roundtrip(vector![Value::kw("append"), 1, 2]);
    }

    #[test]
    fn op_line_is_plain() {
        let mut op = Op::invoke(0, "read", Value::Nil);
        op.index = 7;
        op.time = Some(12);
        assert_eq!(
            op_to_json(&op),
            r#"{"index":7,"time":12,"type":"invoke","process":0,"f":"read","value":null}"#
        );
        let back = parse_op(&op_to_json(&op)).unwrap();
        assert_eq!(back, op);
    }

    #[test]
    fn errors_name_line_column_field() {
        let text = b"{\"type\":\"invoke\",\"process\":0}\n{\"type\":\"bogus\",\"process\":0}\n";
        let e = read_jsonl_bytes(text, Some(Path::new("h.jsonl"))).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("h.jsonl:2:"), "{s}");
        assert!(
            s.contains("field type: expected invoke, ok, fail or info"),
            "{s}"
        );
        let e = read_jsonl_bytes(b"{\"process\":0}\n", None).unwrap_err();
        assert!(e.to_string().contains("field type: missing"), "{e}");
        let e = read_jsonl_bytes(b"{\"type\":\"ok\",\"time\":1.5}\n", None).unwrap_err();
        assert!(e.to_string().contains("field time"), "{e}");
    }

    #[test]
    fn torn_last_line_is_dropped() {
        let text = b"{\"type\":\"invoke\",\"process\":0}\n{\"type\":\"ok\",\"proc";
        let (ops, report) = read_jsonl_bytes(text, None).unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(report.truncated_line, Some(2));
        let mut r = JsonlReader::new(&text[..], None);
        assert!(r.next().unwrap().is_ok());
        assert!(r.next().is_none());
        assert_eq!(r.report.truncated_line, Some(2));
    }

    #[test]
    fn writer_flushes_whole_lines() {
        let mut w = JsonlWriter::jsonl(Vec::new(), 10);
        w.write(&Op::invoke(0, "read", Value::Nil)).unwrap();
        let out = w.into_inner().unwrap();
        assert!(out.ends_with(b"\n"));
        let (ops, _) = read_jsonl_bytes(&out, None).unwrap();
        assert_eq!(ops.len(), 1);
    }

    #[test]
    fn json_array_reads() {
        let ops = read_json_array_bytes(
            br#"[{"index":0,"type":"invoke","process":0,"value":[["append",1,2]]}]"#,
            None,
        )
        .unwrap();
        assert_eq!(
            ops[0].value,
            Value::Vector(vec![vector![Value::kw("append"), 1, 2]])
        );
    }
}
