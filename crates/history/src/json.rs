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

use crate::error::{Error, Location, Result};
use crate::op::{Field, Layout, Op, OpType, Process};
use crate::value::{Name, Value};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt::{self, Write as _};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

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
    op.for_each_field(|k, v| {
        if !first {
            out.push(',');
        }
        first = false;
        write_value(out, &k);
        out.push(':');
        write_value(out, v);
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

/// Streams ops to a JSONL file, one per line, buffering up to a chunk and flushing whole lines
/// only: a process killed between flushes leaves a file whose every complete line is an op.
pub struct JsonlWriter<W: Write> {
    out: W,
    buf: String,
    chunk_bytes: usize,
    written: u64,
}

impl<W: Write> JsonlWriter<W> {
    /// A writer that flushes whenever `chunk_bytes` are buffered (and on [`flush`](Self::flush)).
    pub fn new(out: W, chunk_bytes: usize) -> JsonlWriter<W> {
        JsonlWriter {
            out,
            buf: String::with_capacity(chunk_bytes + 4096),
            chunk_bytes,
            written: 0,
        }
    }

    /// Appends one op.
    pub fn write(&mut self, op: &Op) -> io::Result<()> {
        write_op(&mut self.buf, op);
        self.buf.push('\n');
        self.written += 1;
        if self.buf.len() >= self.chunk_bytes {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes out everything buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.out.write_all(self.buf.as_bytes())?;
            self.buf.clear();
        }
        self.out.flush()
    }

    /// Ops written so far.
    pub fn count(&self) -> u64 {
        self.written
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.out)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Decodes a JSON string per the conventions above.
fn decode_str<E: de::Error>(s: &str) -> Result<Value, E> {
    let Some(rest) = s.strip_prefix('~') else {
        return Ok(Value::Keyword(Name::new(s)));
    };
    let mut chars = rest.chars();
    let tag = chars.next();
    let body = chars.as_str();
    Ok(match tag {
        Some('s') => Value::Str(Name::new(body)),
        Some('k') => Value::Keyword(Name::new(body)),
        Some('y') => Value::Symbol(Name::new(body)),
        Some('c') => {
            let mut cs = body.chars();
            match (cs.next(), cs.next()) {
                (Some(c), None) => Value::Char(c),
                _ => {
                    return Err(E::custom(format!(
                        "\"~c\" needs one character, got {body:?}"
                    )))
                }
            }
        }
        Some('n') => {
            if !is_integer_text(body) {
                return Err(E::custom(format!(
                    "\"~n\" needs integer digits, got {body:?}"
                )));
            }
            Value::BigInt(Name::new(body))
        }
        Some('m') => {
            if body.parse::<f64>().is_err() {
                return Err(E::custom(format!("\"~m\" needs a decimal, got {body:?}")));
            }
            Value::BigDec(Name::new(body))
        }
        Some('f') => Value::Float(match body {
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            "nan" => f64::NAN,
            _ => {
                return Err(E::custom(format!(
                    "\"~f\" needs inf, -inf or nan, got {body:?}"
                )))
            }
        }),
        _ => {
            return Err(E::custom(format!(
                "unknown escape in string {s:?}: a string starting with ~ must be ~s (string), \
                 ~k (keyword), ~y (symbol), ~c (char), ~n (big integer), ~m (big decimal) or ~f"
            )))
        }
    })
}

fn is_integer_text(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    /// Reads a value from JSON in the encoding this module documents.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl serde::Serialize for Value {
    /// Serialises through the JSON encoding (as a raw JSON fragment re-parsed by serde_json
    /// would be slow; this walks the value directly).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Nil => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Keyword(k) if !k.starts_with('~') => s.serialize_str(k),
            Value::Vector(xs) => {
                let mut seq = s.serialize_seq(Some(xs.len()))?;
                for x in xs {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            Value::Map(m)
                if m.iter()
                    .all(|(k, _)| matches!(k, Value::Keyword(_) | Value::Str(_))) =>
            {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            other => {
                // The remaining encodings are strings or small wrapper objects: build them as
                // text and hand serde a parsed JSON value.
                let text = value_to_json(other);
                let j: serde_json::Value =
                    serde_json::from_str(&text).map_err(serde::ser::Error::custom)?;
                j.serialize(s)
            }
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::from(u))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        decode_str(s)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(x) = seq.next_element_seed(ValueSeed)? {
            v.push(x);
        }
        Ok(Value::Vector(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(Value, Value)> = Vec::new();
        while let Some(key) = map.next_key::<KeyText>()? {
            let k = key.0;
            if k.starts_with("~") && entries.is_empty() {
                match k.as_str() {
                    "~list" | "~set" | "~map" => {
                        let inner: Value = map.next_value_seed(ValueSeed)?;
                        if let Some(extra) = map.next_key::<KeyText>()? {
                            return Err(de::Error::custom(format!(
                                "{k} object has an extra key {:?}",
                                extra.0
                            )));
                        }
                        return wrapper(&k, inner);
                    }
                    "~tag" => return read_tagged(map),
                    _ => {}
                }
            }
            let key = decode_str(&k)?;
            let v = map.next_value_seed(ValueSeed)?;
            entries.push((key, v));
        }
        Ok(Value::Map(entries))
    }
}

fn wrapper<E: de::Error>(k: &str, inner: Value) -> Result<Value, E> {
    let Value::Vector(items) = inner else {
        return Err(E::custom(format!("{k} needs an array")));
    };
    Ok(match k {
        "~list" => Value::List(items),
        "~set" => Value::Set(items),
        _ => {
            let mut m = Vec::with_capacity(items.len());
            for it in items {
                match it {
                    Value::Vector(mut kv) if kv.len() == 2 => {
                        let v = kv.pop().unwrap_or_default();
                        let k = kv.pop().unwrap_or_default();
                        m.push((k, v));
                    }
                    _ => return Err(E::custom("~map entries must be [key, value] pairs")),
                }
            }
            Value::Map(m)
        }
    })
}

fn read_tagged<'de, A: MapAccess<'de>>(mut map: A) -> Result<Value, A::Error> {
    let tag: String = map.next_value()?;
    match map.next_key::<KeyText>()? {
        Some(k) if k.0 == "~val" => {}
        _ => {
            return Err(de::Error::custom(
                "~tag object needs \"~val\" after \"~tag\"",
            ))
        }
    }
    let v = map.next_value_seed(ValueSeed)?;
    if map.next_key::<KeyText>()?.is_some() {
        return Err(de::Error::custom("~tag object has extra keys"));
    }
    Ok(Value::Tagged(Box::new((Name::new(tag), v))))
}

/// A map key as text (borrowed when possible).
struct KeyText(smol_str::SmolStr);

impl<'de> serde::Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyText, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E>(self, s: &str) -> Result<KeyText, E> {
                Ok(KeyText(Name::new(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Field-aware op reader: `visit_map` over an op object.
struct OpVisitor;

fn field_err<E: de::Error>(field: Field, msg: impl fmt::Display) -> E {
    E::custom(format!("\u{1}{}\u{1}{msg}", field.name()))
}

impl<'de> Visitor<'de> for OpVisitor {
    type Value = Op;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an op object {\"type\": .., \"process\": .., \"f\": .., \"value\": ..}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Op, A::Error> {
        let mut op = Op::new(
            OpType::Invoke,
            Process::Other(Value::Nil),
            Value::Nil,
            Value::Nil,
        );
        op.time = None;
        op.layout = Layout::EMPTY;
        let mut have_type = false;
        let mut have_index = false;
        while let Some(key) = map.next_key::<KeyText>()? {
            let field = Field::by_name(&key.0);
            match field {
                Some(f) if op.layout.has(f) => {
                    return Err(field_err(f, "appears twice"));
                }
                Some(f) => {
                    op.layout.push(f);
                }
                None => {
                    op.layout.push(Field::Extra);
                }
            }
            match field {
                Some(Field::Index) => {
                    let v: Value = map.next_value_seed(ValueSeed)?;
                    op.index = match v {
                        Value::Int(i) if i >= 0 => i as u64,
                        other => {
                            return Err(field_err(
                                Field::Index,
                                format_args!("expected a non-negative integer, got {other}"),
                            ))
                        }
                    };
                    have_index = true;
                }
                Some(Field::Time) => {
                    let v: Value = map.next_value_seed(ValueSeed)?;
                    op.time = match v {
                        Value::Int(t) => Some(t),
                        other => {
                            return Err(field_err(
                                Field::Time,
                                format_args!("expected an integer (nanoseconds), got {other}"),
                            ))
                        }
                    };
                }
                Some(Field::Type) => {
                    let v: Value = map.next_value_seed(ValueSeed)?;
                    op.ty = v.as_name().and_then(OpType::parse).ok_or_else(|| {
                        field_err(
                            Field::Type,
                            format_args!("expected invoke, ok, fail or info, got {v}"),
                        )
                    })?;
                    have_type = true;
                }
                Some(Field::Process) => {
                    let v: Value = map.next_value_seed(ValueSeed)?;
                    op.process = Process::from_value(v);
                }
                Some(Field::F) => op.f = map.next_value_seed(ValueSeed)?,
                Some(Field::Value) => op.value = map.next_value_seed(ValueSeed)?,
                Some(Field::Error) => op.error = Some(map.next_value_seed(ValueSeed)?),
                Some(Field::Extra) | None => {
                    let k = decode_str::<A::Error>(&key.0)?;
                    let v = map.next_value_seed(ValueSeed)?;
                    op.extra.push((k, v));
                }
            }
        }
        if !have_type {
            return Err(field_err(Field::Type, "missing (every op needs a type)"));
        }
        if !have_index {
            op.index = u64::MAX; // assigned by the reader
        }
        Ok(op)
    }
}

struct OpSeed;

impl<'de> DeserializeSeed<'de> for OpSeed {
    type Value = Op;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Op, D::Error> {
        d.deserialize_map(OpVisitor)
    }
}

/// Turns a serde_json error into ours, pulling out the field marker set by `field_err`.
fn convert_error(e: serde_json::Error, path: Option<&Path>, line_offset: u64) -> Error {
    let text = e.to_string();
    // serde_json appends " at line L column C"; keep the message only.
    let msg = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    let (field, msg) = match msg.strip_prefix('\u{1}') {
        Some(rest) => match rest.split_once('\u{1}') {
            Some((f, m)) => (Some(f), m),
            None => (None, rest),
        },
        None => (None, msg),
    };
    Error::parse(
        Location {
            path: path.map(Path::to_path_buf),
            line: line_offset + e.line() as u64,
            column: e.column() as u64,
        },
        field,
        msg,
    )
}

/// Parses one op from a JSON object.
pub fn parse_op(text: &str) -> Result<Op> {
    let mut de = serde_json::Deserializer::from_str(text);
    let op = OpSeed
        .deserialize(&mut de)
        .and_then(|op| de.end().map(|_| op))
        .map_err(|e| convert_error(e, None, 0))?;
    Ok(op)
}

/// Parses a value from JSON text.
pub fn parse_value(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| convert_error(e, None, 0))
}

/// What a JSONL read found besides the ops.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// The last line was cut short (no newline, not valid JSON), as a killed writer leaves it;
    /// it was dropped. Holds its 1-based line number.
    pub truncated_line: Option<u64>,
}

/// Reads JSONL ops from bytes. Blank lines are skipped. A last line without a newline that does
/// not parse is a torn write and is dropped (see [`ReadReport`]); any other bad line is an error
/// naming the line, column and field. Missing indices are assigned from the position.
pub fn read_jsonl_bytes(bytes: &[u8], path: Option<&Path>) -> Result<(Vec<Op>, ReadReport)> {
    let mut ops = Vec::with_capacity(bytes.len() / 100 + 1);
    let mut report = ReadReport::default();
    let mut line_no = 0u64;
    let mut rest = bytes;
    while !rest.is_empty() {
        line_no += 1;
        let (line, next, had_newline) = match memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..], true),
            None => (rest, &rest[rest.len()..], false),
        };
        rest = next;
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let mut de = serde_json::Deserializer::from_slice(line);
        match OpSeed
            .deserialize(&mut de)
            .and_then(|op| de.end().map(|_| op))
        {
            Ok(mut op) => {
                if op.index == u64::MAX {
                    op.index = ops.len() as u64;
                }
                ops.push(op);
            }
            Err(e) if !had_newline && (e.is_eof() || e.is_syntax()) => {
                report.truncated_line = Some(line_no);
            }
            Err(e) => return Err(convert_error(e, path, line_no - 1)),
        }
    }
    Ok((ops, report))
}

/// Reads a JSON array of op objects (`[{..}, {..}]`, as elle-cli's histories are written).
pub fn read_json_array_bytes(bytes: &[u8], path: Option<&Path>) -> Result<Vec<Op>> {
    struct Ops;
    impl<'de> Visitor<'de> for Ops {
        type Value = Vec<Op>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of op objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Op>, A::Error> {
            let mut ops = Vec::new();
            while let Some(mut op) = seq.next_element_seed(OpSeed)? {
                if op.index == u64::MAX {
                    op.index = ops.len() as u64;
                }
                ops.push(op);
            }
            Ok(ops)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.deserialize_seq(Ops)
        .and_then(|ops| de.end().map(|_| ops))
        .map_err(|e| convert_error(e, path, 0))
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Reads a JSONL file.
pub fn read_jsonl_file(path: &Path) -> Result<(Vec<Op>, ReadReport)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    read_jsonl_bytes(&bytes, Some(path))
}

/// Iterates the ops of a JSONL stream one line at a time, for inputs too big to hold (the
/// report renderer, converters). Stops at a torn last line like [`read_jsonl_bytes`].
pub struct JsonlReader<R: BufRead> {
    input: R,
    path: Option<PathBuf>,
    line: Vec<u8>,
    line_no: u64,
    count: u64,
    /// Set when a torn last line was dropped.
    pub report: ReadReport,
}

impl<R: BufRead> JsonlReader<R> {
    /// Wraps a buffered reader; `path` names the file in errors.
    pub fn new(input: R, path: Option<PathBuf>) -> JsonlReader<R> {
        JsonlReader {
            input,
            path,
            line: Vec::with_capacity(256),
            line_no: 0,
            count: 0,
            report: ReadReport::default(),
        }
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<Op>;

    fn next(&mut self) -> Option<Result<Op>> {
        loop {
            self.line.clear();
            match self.input.read_until(b'\n', &mut self.line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    let p = self.path.clone().unwrap_or_default();
                    return Some(Err(Error::io(p, e)));
                }
            }
            self.line_no += 1;
            let had_newline = self.line.last() == Some(&b'\n');
            if self.line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let mut de = serde_json::Deserializer::from_slice(&self.line);
            return match OpSeed
                .deserialize(&mut de)
                .and_then(|op| de.end().map(|_| op))
            {
                Ok(mut op) => {
                    if op.index == u64::MAX {
                        op.index = self.count;
                    }
                    self.count += 1;
                    Some(Ok(op))
                }
                Err(e) if !had_newline && (e.is_eof() || e.is_syntax()) => {
                    self.report.truncated_line = Some(self.line_no);
                    None
                }
                Err(e) => Some(Err(convert_error(
                    e,
                    self.path.as_deref(),
                    self.line_no - 1,
                ))),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector;

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
        let mut w = JsonlWriter::new(Vec::new(), 10);
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
