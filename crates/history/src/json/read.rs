//! Reading JSON and JSONL histories (the encoding is described in the parent module).

use super::{parse, value_to_json};
use crate::error::{Error, Location, Result};
use crate::op::Op;
use crate::value::{Name, Value};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Decodes a JSON string per the conventions of the parent module.
pub(crate) fn decode_text(s: &str) -> Result<Value, String> {
    decode_str::<serde_json::Error>(s).map_err(|e| e.to_string())
}

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

/// Parses one op from a JSON object.
pub fn parse_op(text: &str) -> Result<Op> {
    match parse_line(text) {
        Ok(Some(op)) => Ok(op),
        Ok(None) => Err(parse::to_error(
            parse::PErr {
                pos: 0,
                field: None,
                msg: "expected an op object, found nothing".into(),
            },
            text,
            1,
            None,
        )),
        Err(e) => Err(parse::to_error(e, text, 1, None)),
    }
}

/// Parses a value from JSON text.
pub fn parse_value(text: &str) -> Result<Value> {
    let mut p = parse::Parser::new(text);
    let v = p.value(0).map_err(|e| parse::to_error(e, text, 1, None))?;
    if !p.at_end() {
        let e = parse::PErr {
            pos: p.pos,
            field: None,
            msg: "trailing characters after the value".into(),
        };
        return Err(parse::to_error(e, text, 1, None));
    }
    Ok(v)
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
    let mut report = ReadReport::default();
    // Validate UTF-8 once for the whole input, so that each line parses as a &str (serde_json
    // then skips its own per-string check). Invalid bytes in a last line without a newline are
    // a torn write; anywhere else they are an error naming the line.
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = e.valid_up_to();
            let line_start = bytes[..good]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let line_no = bytes[..good].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            if !bytes[good..].contains(&b'\n') {
                report.truncated_line = Some(line_no);
                // Everything before the torn line is valid UTF-8.
                let head = std::str::from_utf8(&bytes[..line_start]).unwrap_or_default();
                let (ops, _) = read_jsonl_str(head, path)?;
                return Ok((ops, report));
            }
            let column = String::from_utf8_lossy(&bytes[line_start..good])
                .chars()
                .count() as u64
                + 1;
            return Err(Error::parse(
                Location {
                    path: path.map(Path::to_path_buf),
                    line: line_no,
                    column,
                },
                None,
                "invalid UTF-8",
            ));
        }
    };
    let (ops, r) = read_jsonl_str(text, path)?;
    report.truncated_line = r.truncated_line;
    Ok((ops, report))
}

fn read_jsonl_str(text: &str, path: Option<&Path>) -> Result<(Vec<Op>, ReadReport)> {
    // A big input is read in pieces on every core when each piece reads cleanly; else (an
    // error, a torn last line) in one pass, which names the right line.
    if let Some((threads, pieces)) = crate::chunked::plan(text.len()) {
        if let Some(ops) = read_jsonl_pieces(text, path, threads, pieces) {
            return Ok((ops, ReadReport::default()));
        }
    }
    read_jsonl_lines(text, path, true)
}

/// Reads JSONL in about `pieces` pieces on `threads` threads; None unless every piece reads
/// cleanly (then the caller reads it in one pass).
fn read_jsonl_pieces(
    text: &str,
    path: Option<&Path>,
    threads: usize,
    pieces: usize,
) -> Option<Vec<Op>> {
    // Pieces end right after a `\n`, a character boundary: each is a &str of its own.
    let piece = |r: std::ops::Range<usize>| match read_jsonl_lines(&text[r], path, false) {
        Ok((ops, report)) if report.truncated_line.is_none() => Some(ops),
        _ => None,
    };
    let mut ops = crate::chunked::read_pieces(text.as_bytes(), threads, pieces, piece)?;
    crate::chunked::number_unindexed(&mut ops);
    Some(ops)
}

/// Reads JSONL lines in one pass; `number` gives ops without an index their position (else
/// they keep `u64::MAX`).
fn read_jsonl_lines(
    text: &str,
    path: Option<&Path>,
    number: bool,
) -> Result<(Vec<Op>, ReadReport)> {
    let mut ops = Vec::with_capacity(text.len() / 100 + 1);
    let mut report = ReadReport::default();
    let mut line_no = 0u64;
    let mut rest = text;
    let mut scratch = Vec::new();
    while !rest.is_empty() {
        line_no += 1;
        let (line, next, had_newline) = match memchr(b'\n', rest.as_bytes()) {
            Some(i) => (&rest[..i], &rest[i + 1..], true),
            None => (rest, &rest[rest.len()..], false),
        };
        rest = next;
        match parse_line_with(line, &mut scratch) {
            Ok(None) => {}
            Ok(Some(mut op)) => {
                if number && op.index == u64::MAX {
                    op.index = ops.len() as u64;
                }
                ops.push(op);
            }
            // A last line cut short by a killed writer: the parser ran out of input.
            Err(e) if !had_newline && e.pos >= line.trim_end().len() => {
                report.truncated_line = Some(line_no);
            }
            Err(e) => return Err(parse::to_error(e, line, line_no, path)),
        }
    }
    Ok((ops, report))
}

/// One JSONL line: None when blank.
fn parse_line(line: &str) -> Result<Option<Op>, parse::PErr> {
    parse_line_with(line, &mut Vec::new())
}

/// [`parse_line`] with a reusable element stack.
fn parse_line_with(line: &str, scratch: &mut Vec<Value>) -> Result<Option<Op>, parse::PErr> {
    let mut p = parse::Parser::with_scratch(line, std::mem::take(scratch));
    let r = parse_op_line(&mut p);
    *scratch = p.into_scratch();
    r
}

fn parse_op_line(p: &mut parse::Parser<'_>) -> Result<Option<Op>, parse::PErr> {
    if p.at_end() {
        return Ok(None);
    }
    let op = p.op()?;
    if !p.at_end() {
        return Err(parse::PErr {
            pos: p.pos,
            field: None,
            msg: "trailing characters after the op".into(),
        });
    }
    Ok(Some(op))
}

/// Reads a JSON array of op objects (`[{..}, {..}]`, as elle-cli's histories are written).
pub fn read_json_array_bytes(bytes: &[u8], path: Option<&Path>) -> Result<Vec<Op>> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        Error::parse(
            Location {
                path: path.map(Path::to_path_buf),
                line,
                column: String::from_utf8_lossy(&good[start..]).chars().count() as u64 + 1,
            },
            None,
            "invalid UTF-8",
        )
    })?;
    let mut p = parse::Parser::new(text);
    let err = |e| parse::to_error(e, text, 1, path);
    p.expect(b'[', "[ (an array of op objects)").map_err(err)?;
    let mut ops = Vec::new();
    p.ws();
    if p.peek() == Some(b']') {
        p.pos += 1;
    } else {
        loop {
            let mut op = p.op().map_err(err)?;
            if op.index == u64::MAX {
                op.index = ops.len() as u64;
            }
            ops.push(op);
            p.ws();
            match p.peek() {
                Some(b',') => p.pos += 1,
                Some(b']') => {
                    p.pos += 1;
                    break;
                }
                _ => {
                    let e = parse::PErr {
                        pos: p.pos,
                        field: None,
                        msg: "expected , or ] after an op".into(),
                    };
                    return Err(err(e));
                }
            }
        }
    }
    if !p.at_end() {
        let e = parse::PErr {
            pos: p.pos,
            field: None,
            msg: "trailing characters after the array".into(),
        };
        return Err(err(e));
    }
    Ok(ops)
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
            let line = match std::str::from_utf8(&self.line) {
                Ok(l) => l,
                Err(_) if !had_newline => {
                    self.report.truncated_line = Some(self.line_no);
                    return None;
                }
                Err(e) => {
                    let col = String::from_utf8_lossy(&self.line[..e.valid_up_to()])
                        .chars()
                        .count() as u64;
                    let loc = Location {
                        path: self.path.clone(),
                        line: self.line_no,
                        column: col + 1,
                    };
                    return Some(Err(Error::parse(loc, None, "invalid UTF-8")));
                }
            };
            return match parse_line(line) {
                Ok(None) => continue,
                Ok(Some(mut op)) => {
                    if op.index == u64::MAX {
                        op.index = self.count;
                    }
                    self.count += 1;
                    Some(Ok(op))
                }
                Err(e) if !had_newline && e.pos >= line.trim_end().len() => {
                    self.report.truncated_line = Some(self.line_no);
                    None
                }
                Err(e) => Some(Err(parse::to_error(
                    e,
                    line,
                    self.line_no,
                    self.path.as_deref(),
                ))),
            };
        }
    }
}

#[cfg(test)]
mod piece_tests {
    use super::*;

    fn lines(n: usize) -> String {
        let mut s = String::new();
        for i in 0..n {
            match i % 3 {
                0 => s += &format!("{{\"index\":{i},\"type\":\"invoke\",\"process\":{},\"f\":\"txn\",\"value\":[[\"append\",{},{i}],[\"r\",3,null]]}}\n", i % 7, i % 5),
                1 => s += &format!("{{\"type\":\"ok\",\"process\":{},\"f\":\"read\",\"value\":{{\"~set\":[1,\"~ss {i}\"]}}}}\n\n", i % 7),
                _ => s += &format!("{{\"type\":\"fail\",\"process\":{},\"f\":\"write\",\"value\":{{\"k\":\"v\\nw\"}},\"error\":[\"timeout\"]}}\n", i % 7),
            }
        }
        s
    }

    #[test]
    fn pieces_read_what_one_pass_reads() {
        let text = lines(300);
        let (one, _) = read_jsonl_lines(&text, None, true).unwrap();
        assert_eq!(one.len(), 300);
        for pieces in [1, 2, 3, 7, 50, 600] {
            assert_eq!(
                read_jsonl_pieces(&text, None, 3, pieces).as_ref(),
                Some(&one),
                "{pieces}"
            );
        }
    }

    #[test]
    fn an_error_or_a_torn_last_line_falls_back_to_one_pass() {
        let bad = format!(
            "{}{{\"type\":\"ok\",\"process\":1,\n{}",
            lines(20),
            lines(20)
        );
        for pieces in 1..40 {
            assert_eq!(read_jsonl_pieces(&bad, None, 2, pieces), None, "{pieces}");
        }
        let torn = format!("{}{{\"type\":\"ok\",\"pro", lines(20));
        assert_eq!(read_jsonl_pieces(&torn, None, 2, 5), None);
        let (ops, report) = read_jsonl_str(&torn, None).unwrap();
        assert_eq!((ops.len(), report.truncated_line), (20, Some(28))); // 27 lines before it
    }
}
