//! A JSON parser specialised for histories: it reads straight into [`Value`] and [`Op`] with the
//! encoding of the parent module, about twice as fast as going through serde, and reports
//! errors with the op field they occurred in.
//!
//! Input is a `&str` (UTF-8 validated once by the caller). Nesting is bounded by
//! [`MAX_DEPTH`], so the recursive descent cannot overflow the stack.

use crate::error::{Error, Location};
use crate::op::{Field, Layout, Op, OpType, Process};
use crate::value::{Name, Value};
use std::path::Path;

/// How deeply values may nest.
pub const MAX_DEPTH: usize = 512;

/// A parse failure at a byte offset, possibly inside an op field.
#[derive(Debug)]
pub(crate) struct PErr {
    pub pos: usize,
    pub field: Option<Field>,
    pub msg: String,
}

type R<T> = Result<T, PErr>;

pub(crate) struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pub pos: usize,
    /// The elements of the arrays being read, innermost last: an array takes its own off the
    /// top when it closes, into a vector of exactly their number (no spare capacity held).
    vals: Vec<Value>,
}

impl<'a> Parser<'a> {
    pub fn new(s: &'a str) -> Parser<'a> {
        Parser::with_scratch(s, Vec::new())
    }

    /// A parser that uses `vals` (emptied) as its element stack, to reuse its allocation.
    pub fn with_scratch(s: &'a str, mut vals: Vec<Value>) -> Parser<'a> {
        vals.clear();
        Parser {
            s,
            b: s.as_bytes(),
            pos: 0,
            vals,
        }
    }

    /// The element stack, for the next [`Parser::with_scratch`].
    pub fn into_scratch(self) -> Vec<Value> {
        self.vals
    }

    fn err<T>(&self, msg: impl Into<String>) -> R<T> {
        Err(PErr {
            pos: self.pos,
            field: None,
            msg: msg.into(),
        })
    }

    pub fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    pub fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    pub fn at_end(&mut self) -> bool {
        self.ws();
        self.pos >= self.b.len()
    }

    pub fn expect(&mut self, c: u8, what: &str) -> R<()> {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(format!("expected {what}, found {}", self.found()))
        }
    }

    fn found(&self) -> String {
        match self.s.get(self.pos..).and_then(|r| r.chars().next()) {
            None => "end of input".into(),
            Some(c) => format!("{c:?}"),
        }
    }

    /// A JSON string's contents, unescaped (borrowed when it has no escapes).
    fn string(&mut self) -> R<std::borrow::Cow<'a, str>> {
        self.expect(b'"', "a string")?;
        let start = self.pos;
        loop {
            match self.b.get(self.pos) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    let s = &self.s[start..self.pos];
                    self.pos += 1;
                    return Ok(std::borrow::Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => return self.err("control character in string"),
                Some(_) => self.pos += 1,
            }
        }
        let mut out = String::from(&self.s[start..self.pos]);
        loop {
            match self.b.get(self.pos) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(std::borrow::Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(&c) if c < 0x20 => return self.err("control character in string"),
                Some(_) => {
                    let run = self.pos;
                    while let Some(&c) = self.b.get(self.pos) {
                        if c == b'"' || c == b'\\' || c < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    out.push_str(&self.s[run..self.pos]);
                }
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> R<()> {
        let c = self.peek();
        self.pos += 1;
        match c {
            Some(b'"') => out.push('"'),
            Some(b'\\') => out.push('\\'),
            Some(b'/') => out.push('/'),
            Some(b'b') => out.push('\u{8}'),
            Some(b'f') => out.push('\u{c}'),
            Some(b'n') => out.push('\n'),
            Some(b'r') => out.push('\r'),
            Some(b't') => out.push('\t'),
            Some(b'u') => {
                let hi = self.hex4()?;
                let ch = if (0xd800..0xdc00).contains(&hi) {
                    if self.b.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return self.err("unpaired surrogate in \\u escape");
                    }
                    self.pos += 2;
                    let lo = self.hex4()?;
                    if !(0xdc00..0xe000).contains(&lo) {
                        return self.err("invalid low surrogate in \\u escape");
                    }
                    char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))
                } else {
                    char::from_u32(hi)
                };
                match ch {
                    Some(ch) => out.push(ch),
                    None => return self.err("invalid \\u escape"),
                }
            }
            _ => {
                self.pos -= 1;
                return self.err(format!("invalid escape \\{}", self.found()));
            }
        }
        Ok(())
    }

    fn hex4(&mut self) -> R<u32> {
        let Some(h) = self.s.get(self.pos..self.pos + 4) else {
            return self.err("expected 4 hex digits");
        };
        match u32::from_str_radix(h, 16) {
            Ok(v) if h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                self.pos += 4;
                Ok(v)
            }
            _ => self.err("expected 4 hex digits"),
        }
    }

    fn number(&mut self) -> R<Value> {
        let start = self.pos;
        let mut float = false;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let int_len = self.pos - digits;
        if int_len == 0 || (int_len > 1 && self.b[digits] == b'0') {
            self.pos = start;
            return self.err(format!("invalid number at {}", self.found()));
        }
        if self.peek() == Some(b'.') {
            float = true;
            self.pos += 1;
            let f = self.pos;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            if self.pos == f {
                return self.err("expected digits after the decimal point");
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            float = true;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let e = self.pos;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            if self.pos == e {
                return self.err("expected digits in the exponent");
            }
        }
        let text = &self.s[start..self.pos];
        if float {
            return match text.parse::<f64>() {
                Ok(f) => Ok(Value::Float(f)),
                Err(_) => self.err(format!("invalid number {text}")),
            };
        }
        Ok(match text.parse::<i64>() {
            Ok(i) => Value::Int(i),
            // Beyond 64 bits: keep every digit.
            Err(_) => Value::BigInt(Name::new(text)),
        })
    }

    fn literal(&mut self, word: &str, v: Value) -> R<Value> {
        if self.s[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(v)
        } else {
            self.err(format!("expected a JSON value, found {}", self.found()))
        }
    }

    /// Any value.
    pub fn value(&mut self, depth: usize) -> R<Value> {
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => Ok(Value::Vector(self.array(depth + 1)?)),
            Some(b'"') => {
                let at = self.pos;
                let s = self.string()?;
                super::read::decode_text(&s).map_err(|msg| PErr {
                    pos: at,
                    field: None,
                    msg,
                })
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Nil),
            _ => self.err(format!("expected a JSON value, found {}", self.found())),
        }
    }

    fn check_depth(&self, depth: usize) -> R<()> {
        if depth > MAX_DEPTH {
            return self.err(format!("values nest deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> R<Vec<Value>> {
        self.check_depth(depth)?;
        self.expect(b'[', "[")?;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Vec::new());
        }
        let mark = self.vals.len();
        loop {
            let v = match self.value(depth) {
                Ok(v) => v,
                Err(e) => {
                    self.vals.truncate(mark);
                    return Err(e);
                }
            };
            self.vals.push(v);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(self.vals.split_off(mark));
                }
                _ => {
                    self.vals.truncate(mark);
                    return self.err(format!(
                        "expected , or ] in an array, found {}",
                        self.found()
                    ));
                }
            }
        }
    }

    /// After `{`: true when the object is empty (and consumed).
    fn object_start(&mut self) -> R<bool> {
        self.expect(b'{', "{")?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// After a value in an object: true when the object ended.
    fn object_next(&mut self) -> R<bool> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b'}') => {
                self.pos += 1;
                Ok(true)
            }
            _ => self.err(format!(
                "expected , or }} in an object, found {}",
                self.found()
            )),
        }
    }

    fn key(&mut self) -> R<std::borrow::Cow<'a, str>> {
        self.ws();
        let k = self.string()?;
        self.expect(b':', ":")?;
        Ok(k)
    }

    fn object(&mut self, depth: usize) -> R<Value> {
        self.check_depth(depth)?;
        if self.object_start()? {
            return Ok(Value::Map(Vec::new()));
        }
        let mut entries = Vec::new();
        loop {
            let at = self.pos;
            let k = self.key()?;
            if entries.is_empty() {
                if let Some(v) = self.wrapper(&k, depth, at)? {
                    return Ok(v);
                }
            }
            let key = super::read::decode_text(&k).map_err(|msg| PErr {
                pos: at,
                field: None,
                msg,
            })?;
            let v = self.value(depth)?;
            entries.push((key, v));
            if self.object_next()? {
                return Ok(Value::Map(entries));
            }
        }
    }

    /// The `{"~list": ..}`, `{"~set": ..}`, `{"~map": ..}`, `{"~tag": .., "~val": ..}` forms.
    fn wrapper(&mut self, k: &str, depth: usize, at: usize) -> R<Option<Value>> {
        let v = match k {
            "~list" => Value::List(self.array(depth + 1)?),
            "~set" => Value::Set(self.array(depth + 1)?),
            "~map" => {
                let pairs = self.array(depth + 1)?;
                let mut m = Vec::with_capacity(pairs.len());
                for p in pairs {
                    match p {
                        Value::Vector(mut kv) if kv.len() == 2 => {
                            let v = kv.pop().unwrap_or_default();
                            let k = kv.pop().unwrap_or_default();
                            m.push((k, v));
                        }
                        _ => {
                            return Err(PErr {
                                pos: at,
                                field: None,
                                msg: "~map entries must be [key, value] pairs".into(),
                            })
                        }
                    }
                }
                Value::Map(m)
            }
            "~tag" => {
                let tag = self.string()?;
                if self.object_next()? {
                    return self.err("~tag object needs \"~val\" after \"~tag\"");
                }
                if self.key()? != "~val" {
                    return self.err("~tag object needs \"~val\" after \"~tag\"");
                }
                let v = self.value(depth)?;
                Value::Tagged(Box::new((Name::new(&tag), v)))
            }
            _ => return Ok(None),
        };
        if !self.object_next()? {
            return self.err(format!("{k} object has extra keys"));
        }
        Ok(Some(v))
    }

    /// One op object.
    pub fn op(&mut self) -> R<Op> {
        let mut op = Op::new(
            OpType::Invoke,
            Process::Other(Value::Nil),
            Value::Nil,
            Value::Nil,
        );
        op.time = None;
        op.layout = Layout::EMPTY;
        let mut seen = 0u16;
        self.ws();
        let start = self.pos;
        if self.peek() != Some(b'{') {
            return self.err(format!(
                "expected an op object {{\"type\": .., \"process\": ..}}, found {}",
                self.found()
            ));
        }
        if !self.object_start()? {
            loop {
                let at = self.pos;
                let k = self.key()?;
                let field = Field::by_name(&k);
                match field {
                    Some(f) if seen & (1 << f as u16) != 0 => {
                        return Err(PErr {
                            pos: at,
                            field: Some(f),
                            msg: "appears twice".into(),
                        })
                    }
                    Some(f) => {
                        seen |= 1 << f as u16;
                        op.layout.push(f);
                    }
                    None => {
                        op.layout.push(Field::Extra);
                    }
                }
                let vpos = {
                    self.ws();
                    self.pos
                };
                let in_field = |mut e: PErr| {
                    if e.field.is_none() {
                        e.field = field;
                    }
                    e
                };
                let v = self.value(1).map_err(in_field)?;
                let bad = |msg: String| PErr {
                    pos: vpos,
                    field,
                    msg,
                };
                match field {
                    Some(Field::Index) => match v {
                        Value::Int(i) if i >= 0 => op.index = i as u64,
                        other => {
                            return Err(bad(format!(
                                "expected a non-negative integer, got {other}"
                            )))
                        }
                    },
                    Some(Field::Time) => match v {
                        Value::Int(t) => op.time = Some(t),
                        other => {
                            return Err(bad(format!(
                                "expected an integer (nanoseconds), got {other}"
                            )))
                        }
                    },
                    Some(Field::Type) => {
                        op.ty = v.as_name().and_then(OpType::parse).ok_or_else(|| {
                            bad(format!("expected invoke, ok, fail or info, got {v}"))
                        })?
                    }
                    Some(Field::Process) => op.process = Process::from_value(v),
                    Some(Field::F) => op.f = v,
                    Some(Field::Value) => op.value = v,
                    Some(Field::Error) => op.error = Some(v),
                    Some(Field::Extra) | None => {
                        let key = super::read::decode_text(&k).map_err(|msg| PErr {
                            pos: at,
                            field: None,
                            msg,
                        })?;
                        op.extra.push((key, v));
                    }
                }
                if self.object_next()? {
                    break;
                }
            }
        }
        if seen & (1 << Field::Type as u16) == 0 {
            return Err(PErr {
                pos: start,
                field: Some(Field::Type),
                msg: "missing (every op needs a type)".into(),
            });
        }
        if seen & (1 << Field::Index as u16) == 0 {
            op.index = u64::MAX; // assigned by the reader
        }
        Ok(op)
    }
}

/// Turns a parse failure into an error naming the file, line and column. `text` is the whole
/// input the offset refers to; `first_line` the line number of its first line.
pub(crate) fn to_error(e: PErr, text: &str, first_line: u64, path: Option<&Path>) -> Error {
    let pos = e.pos.min(text.len());
    let before = &text.as_bytes()[..pos];
    let line = first_line + before.iter().filter(|&&b| b == b'\n').count() as u64;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = text
        .get(line_start..pos)
        .map_or(pos - line_start, |s| s.chars().count()) as u64
        + 1;
    Error::parse(
        Location {
            path: path.map(Path::to_path_buf),
            line,
            column,
        },
        e.field.map(Field::name),
        e.msg,
    )
}
