//! The EDN value reader: byte-oriented, one pass, an explicit stack instead of recursion.
//!
//! [`Parser::read_next`] reads one complete value (or reports a closing delimiter or the end of
//! input to its caller, which is how the op reader walks maps and vectors without building them
//! as values first).

use super::number::parse_number;
use crate::error::{Error, Location, Result};
use crate::value::{Name, Value};
use std::path::Path;

/// Deepest nesting of collections, tags and discards accepted in one value.
pub const MAX_DEPTH: usize = 512;

/// What [`Parser::read_next`] found.
pub(crate) enum Next {
    /// A complete value.
    Value(Value),
    /// A closing delimiter (`]`, `)` or `}`) that closes something the caller opened.
    Close(u8),
    /// The end of the input (or of the parser's window).
    Eof,
}

/// A collection or prefix waiting for its elements.
enum Frame {
    /// `[`, `(` or `#{` (kind `b'['`, `b'('`, `b'#'`), where its elements start on the value
    /// stack, where it opened.
    Seq(u8, usize, usize),
    /// `{`: where its keys and values (alternating) start on the value stack, where it opened.
    Map(usize, usize),
    /// `#tag`: wraps the next value.
    Tag(Name, usize),
    /// `#:ns{...}`: qualifies the keys of the next map.
    Ns(Name),
    /// `#_` or `^meta`: drops the next value.
    Skip(usize),
}

/// Byte classes: 1 = whitespace (including `,`), 2 = token delimiter that is not whitespace.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let ws = b" \t\n\r\x0b\x0c,";
    let mut i = 0;
    while i < ws.len() {
        t[ws[i] as usize] = 1;
        i += 1;
    }
    let delim = b"\";@^`~()[]{}\\";
    let mut i = 0;
    while i < delim.len() {
        t[delim[i] as usize] = 2;
        i += 1;
    }
    t
};

/// True for bytes that end a token (whitespace, commas and terminating macro characters).
pub(crate) fn is_delim(b: u8) -> bool {
    CLASS[b as usize] != 0
}

/// The EDN reader over a byte window `[pos, end)` of an input (positions stay absolute so that
/// errors name the right line and column of the whole file).
pub(crate) struct Parser<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) end: usize,
    path: Option<&'a Path>,
    stack: Vec<Frame>,
    /// The elements of the open collections, innermost last: a collection takes its own off
    /// the top when it closes, into a vector of exactly their number.
    vals: Vec<Value>,
}

impl<'a> Parser<'a> {
    /// A parser over all of `bytes`; `path` names the file in errors.
    pub(crate) fn new(bytes: &'a [u8], path: Option<&'a Path>) -> Parser<'a> {
        let mut p = Parser {
            bytes,
            pos: 0,
            end: bytes.len(),
            path,
            stack: Vec::with_capacity(16),
            vals: Vec::with_capacity(64),
        };
        if bytes.starts_with(b"\xef\xbb\xbf") {
            p.pos = 3; // UTF-8 byte order mark
        }
        p
    }

    /// The 1-based line and column (in characters) of a byte position.
    pub(crate) fn location(&self, pos: usize) -> Location {
        let pos = pos.min(self.bytes.len());
        let before = &self.bytes[..pos];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count() as u64;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = 1 + before[line_start..]
            .iter()
            .filter(|&&b| (b & 0xc0) != 0x80)
            .count() as u64;
        Location {
            path: self.path.map(Path::to_path_buf),
            line,
            column,
        }
    }

    /// A parse error at a byte position.
    pub(crate) fn err(&self, pos: usize, field: Option<&str>, msg: impl Into<String>) -> Error {
        Error::parse(self.location(pos), field, msg)
    }

    /// A short description of what is at a position, for "found ..." in messages.
    pub(crate) fn found(&self, pos: usize) -> String {
        if pos >= self.end {
            return "end of input".to_string();
        }
        let mut stop = pos + 1;
        while stop < self.end && stop - pos < 24 && !is_delim(self.bytes[stop]) {
            stop += 1;
        }
        while stop < self.end && (self.bytes[stop] & 0xc0) == 0x80 {
            stop += 1; // finish a UTF-8 sequence
        }
        format!("`{}`", String::from_utf8_lossy(&self.bytes[pos..stop]))
    }

    /// The next byte, if any.
    pub(crate) fn peek(&self) -> Option<u8> {
        if self.pos < self.end {
            Some(self.bytes[self.pos])
        } else {
            None
        }
    }

    /// Skips whitespace, commas and `;` comments.
    pub(crate) fn skip_ws(&mut self) {
        while self.pos < self.end {
            let b = self.bytes[self.pos];
            if CLASS[b as usize] == 1 {
                self.pos += 1;
            } else if b == b';' || (b == b'#' && self.bytes.get(self.pos + 1) == Some(&b'!')) {
                while self.pos < self.end && self.bytes[self.pos] != b'\n' {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// Reads one complete value, or reports a closer or the end of input that the caller owns.
    pub(crate) fn read_next(&mut self) -> Result<Next> {
        let base = self.stack.len();
        let r = self.read_next_from(base);
        if r.is_err() {
            self.unwind_to(base);
        }
        r
    }

    fn read_next_from(&mut self, base: usize) -> Result<Next> {
        loop {
            self.skip_ws();
            let start = self.pos;
            let Some(c) = self.peek() else {
                if self.stack.len() > base {
                    let e = self.unclosed(self.pos);
                    self.unwind_to(base);
                    return Err(e);
                }
                return Ok(Next::Eof);
            };
            let v = match c {
                b'[' | b'(' | b'{' => {
                    self.pos += 1;
                    let frame = match c {
                        b'{' => Frame::Map(self.vals.len(), start),
                        _ => Frame::Seq(c, self.vals.len(), start),
                    };
                    self.push(frame, base)?;
                    continue;
                }
                b']' | b')' | b'}' => {
                    self.pos += 1;
                    if self.stack.len() == base {
                        return Ok(Next::Close(c));
                    }
                    self.close(c, start, base)?
                }
                b'#' => match self.dispatch(start, base)? {
                    Some(v) => v,
                    None => continue,
                },
                b'^' => {
                    self.pos += 1;
                    self.push(Frame::Skip(start), base)?;
                    continue;
                }
                b'"' => self.read_string()?,
                b'\\' => self.read_char()?,
                b':' => self.read_keyword()?,
                _ => self.read_token_value()?,
            };
            if let Some(v) = self.deliver(v, base) {
                return Ok(Next::Value(v));
            }
        }
    }

    /// Reads one value; a closer or the end of input is an error.
    pub(crate) fn read_value(&mut self, field: Option<&str>) -> Result<Value> {
        self.skip_ws();
        let start = self.pos;
        match self.read_next() {
            Ok(Next::Value(v)) => Ok(v),
            Ok(_) => Err(self.err(
                start,
                field,
                format!("expected a value, found {}", self.found(start)),
            )),
            Err(e) => Err(match (e, field) {
                (
                    Error::Parse {
                        location,
                        message,
                        field: None,
                    },
                    Some(f),
                ) => Error::parse(location, Some(f), message),
                (e, _) => e,
            }),
        }
    }

    /// Drops the frames above `base` and the elements they held.
    fn unwind_to(&mut self, base: usize) {
        let first = self.stack.get(base..).and_then(|fs| {
            fs.iter().find_map(|f| match f {
                Frame::Seq(_, mark, _) | Frame::Map(mark, _) => Some(*mark),
                _ => None,
            })
        });
        if let Some(mark) = first {
            self.vals.truncate(mark);
        }
        self.stack.truncate(base);
    }

    fn push(&mut self, frame: Frame, base: usize) -> Result<()> {
        if self.stack.len() - base >= MAX_DEPTH {
            let pos = self.pos;
            self.unwind_to(base);
            return Err(self.err(pos, None, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Hands a finished value to the innermost open frame; returns it when no frame is open.
    fn deliver(&mut self, mut v: Value, base: usize) -> Option<Value> {
        loop {
            if self.stack.len() == base {
                return Some(v);
            }
            match self.stack.last_mut() {
                Some(Frame::Seq(..) | Frame::Map(..)) => {
                    self.vals.push(v);
                    return None;
                }
                Some(Frame::Skip(_)) => {
                    self.stack.pop();
                    return None;
                }
                Some(Frame::Tag(..)) => {
                    if let Some(Frame::Tag(t, _)) = self.stack.pop() {
                        v = Value::Tagged(Box::new((t, v)));
                    }
                }
                Some(Frame::Ns(_)) => {
                    if let Some(Frame::Ns(ns)) = self.stack.pop() {
                        v = qualify(&ns, v);
                    }
                }
                None => return Some(v),
            }
        }
    }

    /// Closes the innermost frame with `c` (at `at`), producing its value.
    fn close(&mut self, c: u8, at: usize, base: usize) -> Result<Value> {
        let frame = self.stack.pop();
        let v = match (frame, c) {
            (Some(Frame::Seq(b'[', mark, _)), b']') => Value::Vector(self.vals.split_off(mark)),
            (Some(Frame::Seq(b'(', mark, _)), b')') => Value::List(self.vals.split_off(mark)),
            (Some(Frame::Seq(b'#', mark, _)), b'}') => Value::Set(self.vals.split_off(mark)),
            (Some(Frame::Map(mark, _)), b'}') if (self.vals.len() - mark).is_multiple_of(2) => {
                let mut entries = Vec::with_capacity((self.vals.len() - mark) / 2);
                let mut kvs = self.vals.drain(mark..);
                while let (Some(k), Some(v)) = (kvs.next(), kvs.next()) {
                    entries.push((k, v));
                }
                drop(kvs);
                Value::Map(entries)
            }
            (Some(Frame::Map(mark, open)), b'}') => {
                let k = self.vals.pop().unwrap_or_default();
                self.vals.truncate(mark);
                self.unwind_to(base);
                let l = self.location(open);
                return Err(self.err(
                    at,
                    None,
                    format!(
                        "expected a value for key {k} in the map opened at line {} column {}, \
                         found `}}` (a map needs an even number of forms)",
                        l.line, l.column
                    ),
                ));
            }
            (Some(frame), _) => {
                if let Frame::Seq(_, mark, _) | Frame::Map(mark, _) = frame {
                    self.vals.truncate(mark);
                }
                let msg = match &frame {
                    Frame::Seq(_, _, open) | Frame::Map(_, open) => {
                        let l = self.location(*open);
                        format!(
                            "expected `{}` to close the collection opened at line {} column {}, \
                             found `{}`",
                            closer_of(&frame) as char,
                            l.line,
                            l.column,
                            c as char
                        )
                    }
                    _ => format!(
                        "expected a value after a tag, discard or metadata, found `{}`",
                        c as char
                    ),
                };
                self.unwind_to(base);
                return Err(self.err(at, None, msg));
            }
            (None, _) => return Err(self.err(at, None, format!("unexpected `{}`", c as char))),
        };
        Ok(v)
    }

    /// The error for input ending inside an open collection.
    fn unclosed(&self, at: usize) -> Error {
        let Some(frame) = self.stack.last() else {
            return self.err(at, None, "unexpected end of input");
        };
        let (what, open) = match frame {
            Frame::Seq(_, _, o) | Frame::Map(_, o) => ("a closing delimiter", *o),
            Frame::Tag(_, o) | Frame::Skip(o) => ("a value", *o),
            Frame::Ns(_) => ("a map", at),
        };
        let l = self.location(open);
        let closer = match frame {
            Frame::Seq(..) | Frame::Map(..) => format!(" `{}`", closer_of(frame) as char),
            _ => String::new(),
        };
        self.err(
            at,
            None,
            format!(
                "expected {what}{closer} for what opened at line {} column {}, found end of input",
                l.line, l.column
            ),
        )
    }

    /// `#` forms: sets, discards, `##Inf`, namespaced maps, tags. Returns a value or None when
    /// a frame was pushed.
    fn dispatch(&mut self, start: usize, base: usize) -> Result<Option<Value>> {
        let next = self
            .bytes
            .get(self.pos + 1)
            .copied()
            .filter(|_| self.pos + 1 < self.end);
        let fail = |p: &mut Parser, msg: String| {
            p.unwind_to(base);
            Err(p.err(start, None, msg))
        };
        match next {
            Some(b'{') => {
                self.pos += 2;
                self.push(Frame::Seq(b'#', self.vals.len(), start), base)?;
                Ok(None)
            }
            Some(b'_') => {
                self.pos += 2;
                self.push(Frame::Skip(start), base)?;
                Ok(None)
            }
            Some(b'#') => {
                self.pos += 2;
                let tok = self.read_token();
                Ok(Some(Value::Float(match tok {
                    b"Inf" => f64::INFINITY,
                    b"-Inf" => f64::NEG_INFINITY,
                    b"NaN" => f64::NAN,
                    _ => {
                        return fail(
                            self,
                            format!(
                                "expected ##Inf, ##-Inf or ##NaN, found {}",
                                self.found(start)
                            ),
                        )
                    }
                })))
            }
            Some(b':') => {
                self.pos += 2;
                let tok = self.read_token();
                let ns =
                    std::str::from_utf8(tok).map_err(|_| self.err(start, None, "invalid UTF-8"))?;
                let ns = Name::new(if ns.is_empty() { ":" } else { ns });
                self.skip_ws();
                if self.peek() != Some(b'{') {
                    return fail(
                        self,
                        format!(
                            "expected `{{` after a namespaced map prefix, found {}",
                            self.found(self.pos)
                        ),
                    );
                }
                self.push(Frame::Ns(ns), base)?;
                Ok(None)
            }
            Some(b) if b.is_ascii_alphabetic() => {
                self.pos += 1;
                let tok = self.read_token();
                let tag =
                    std::str::from_utf8(tok).map_err(|_| self.err(start, None, "invalid UTF-8"))?;
                self.push(Frame::Tag(Name::new(tag), start), base)?;
                Ok(None)
            }
            _ => fail(
                self,
                format!(
                    "expected a set, tag, discard or ##Inf/##NaN after `#`, found {}",
                    self.found(start)
                ),
            ),
        }
    }

    /// The bytes of a token from the current position to the next delimiter.
    pub(crate) fn read_token(&mut self) -> &'a [u8] {
        let start = self.pos;
        let mut i = start;
        while i < self.end && !is_delim(self.bytes[i]) {
            i += 1;
        }
        self.pos = i;
        &self.bytes[start..i]
    }

    /// Numbers, `nil`, `true`, `false` and symbols.
    fn read_token_value(&mut self) -> Result<Value> {
        let start = self.pos;
        let tok = self.read_token();
        if tok.is_empty() {
            self.pos += 1;
            return Err(self.err(start, None, format!("unexpected {}", self.found(start))));
        }
        let first = tok[0];
        let numeric = first.is_ascii_digit()
            || ((first == b'+' || first == b'-') && tok.len() > 1 && tok[1].is_ascii_digit());
        if numeric {
            return parse_number(tok).map_err(|m| self.err(start, None, m));
        }
        Ok(match tok {
            b"nil" => Value::Nil,
            b"true" => Value::Bool(true),
            b"false" => Value::Bool(false),
            _ => {
                let s = std::str::from_utf8(tok)
                    .map_err(|_| self.err(start, None, "invalid UTF-8 in a symbol"))?;
                Value::Symbol(Name::new(s))
            }
        })
    }

    fn read_keyword(&mut self) -> Result<Value> {
        let start = self.pos;
        self.pos += 1;
        let tok = self.read_token();
        if tok.is_empty() {
            return Err(self.err(
                start,
                None,
                format!(
                    "expected a keyword name after `:`, found {}",
                    self.found(self.pos)
                ),
            ));
        }
        let s = std::str::from_utf8(tok)
            .map_err(|_| self.err(start, None, "invalid UTF-8 in a keyword"))?;
        Ok(Value::Keyword(Name::new(s)))
    }

    fn read_string(&mut self) -> Result<Value> {
        let start = self.pos;
        let body = start + 1;
        let mut i = body;
        while i < self.end {
            match self.bytes[i] {
                b'"' => {
                    let s = std::str::from_utf8(&self.bytes[body..i])
                        .map_err(|_| self.err(start, None, "invalid UTF-8 in a string"))?;
                    self.pos = i + 1;
                    return Ok(Value::Str(Name::new(s)));
                }
                b'\\' => return self.read_escaped_string(start),
                _ => i += 1,
            }
        }
        Err(self.err(
            start,
            None,
            "expected `\"` to close the string, found end of input",
        ))
    }

    fn read_escaped_string(&mut self, start: usize) -> Result<Value> {
        let mut out: Vec<u8> = Vec::new();
        let mut i = start + 1;
        while i < self.end {
            let b = self.bytes[i];
            match b {
                b'"' => {
                    let s = String::from_utf8(out)
                        .map_err(|_| self.err(start, None, "invalid UTF-8 in a string"))?;
                    self.pos = i + 1;
                    return Ok(Value::Str(Name::new(s)));
                }
                b'\\' => {
                    let (c, len) = self.string_escape(i)?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += len;
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        Err(self.err(
            start,
            None,
            "expected `\"` to close the string, found end of input",
        ))
    }

    /// Decodes the escape at `at` (a backslash); returns the char and the bytes it took.
    fn string_escape(&self, at: usize) -> Result<(char, usize)> {
        let Some(&e) = self.bytes.get(at + 1).filter(|_| at + 1 < self.end) else {
            return Err(self.err(
                at,
                None,
                "expected an escape after `\\`, found end of input",
            ));
        };
        Ok(match e {
            b't' => ('\t', 2),
            b'r' => ('\r', 2),
            b'n' => ('\n', 2),
            b'\\' => ('\\', 2),
            b'"' => ('"', 2),
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'u' => {
                let (c, len) = self.unicode_escape(at + 2)?;
                (c, 2 + len)
            }
            b'0'..=b'7' => {
                let mut n = 0u32;
                let mut len = 0;
                while len < 3
                    && at + 1 + len < self.end
                    && (b'0'..=b'7').contains(&self.bytes[at + 1 + len])
                {
                    n = n * 8 + (self.bytes[at + 1 + len] - b'0') as u32;
                    len += 1;
                }
                if n > 0o377 {
                    return Err(self.err(at, None, "octal escape out of range (max \\377)"));
                }
                (char::from_u32(n).unwrap_or('\u{fffd}'), 1 + len)
            }
            _ => {
                return Err(self.err(
                    at,
                    None,
                    format!(
                        "expected one of \\t \\r \\n \\\\ \\\" \\b \\f \\uXXXX \\NNN, found {}",
                        self.found(at)
                    ),
                ))
            }
        })
    }

    /// Four hex digits at `at` (and a following `\uXXXX` low surrogate when the first is a high
    /// surrogate); returns the char and the bytes consumed after the first `\u`.
    fn unicode_escape(&self, at: usize) -> Result<(char, usize)> {
        let hex4 = |p: usize| -> Option<u32> {
            let s = self.bytes.get(p..p + 4).filter(|_| p + 4 <= self.end)?;
            u32::from_str_radix(std::str::from_utf8(s).ok()?, 16)
                .ok()
                .filter(|_| s.iter().all(u8::is_ascii_hexdigit))
        };
        let Some(hi) = hex4(at) else {
            return Err(self.err(
                at,
                None,
                format!(
                    "expected four hex digits after \\u, found {}",
                    self.found(at)
                ),
            ));
        };
        if (0xd800..0xdc00).contains(&hi) {
            if self.bytes.get(at + 4..at + 6) == Some(b"\\u") {
                if let Some(lo) = hex4(at + 6).filter(|lo| (0xdc00..0xe000).contains(lo)) {
                    let c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                    return Ok((char::from_u32(c).unwrap_or('\u{fffd}'), 10));
                }
            }
            return Err(self.err(at, None, "unpaired UTF-16 surrogate in a \\u escape"));
        }
        match char::from_u32(hi) {
            Some(c) => Ok((c, 4)),
            None => Err(self.err(at, None, "unpaired UTF-16 surrogate in a \\u escape")),
        }
    }

    /// A character literal: `\a`, `\newline`, `\u00e9`, `\o101`.
    fn read_char(&mut self) -> Result<Value> {
        let start = self.pos;
        self.pos += 1;
        let Some(&lead) = self.bytes.get(self.pos).filter(|_| self.pos < self.end) else {
            return Err(self.err(
                start,
                None,
                "expected a character after `\\`, found end of input",
            ));
        };
        let len = match lead {
            0..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        };
        let first_end = (self.pos + len).min(self.end);
        let first = std::str::from_utf8(&self.bytes[self.pos..first_end])
            .map_err(|_| self.err(start, None, "invalid UTF-8 in a character"))?;
        self.pos = first_end;
        let rest = self.read_token();
        if rest.is_empty() {
            return Ok(Value::Char(first.chars().next().unwrap_or('\u{fffd}')));
        }
        let tok = &self.bytes[start + 1..self.pos];
        let c = match tok {
            b"newline" => Some('\n'),
            b"space" => Some(' '),
            b"tab" => Some('\t'),
            b"backspace" => Some('\u{8}'),
            b"formfeed" => Some('\u{c}'),
            b"return" => Some('\r'),
            [b'u', hex @ ..] if hex.len() == 4 && hex.iter().all(u8::is_ascii_hexdigit) => {
                std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32)
            }
            [b'o', oct @ ..]
                if (1..=3).contains(&oct.len())
                    && oct.iter().all(|b| (b'0'..=b'7').contains(b)) =>
            {
                let n = oct.iter().fold(0u32, |n, b| n * 8 + (b - b'0') as u32);
                char::from_u32(n).filter(|_| n <= 0o377)
            }
            _ => None,
        };
        c.map(Value::Char).ok_or_else(|| {
            self.err(
                start,
                None,
                format!(
                    "expected a character (\\a, \\newline, \\space, \\tab, \\return, \\formfeed, \
                     \\backspace, \\uXXXX, \\oNNN), found {}",
                    self.found(start)
                ),
            )
        })
    }
}

fn closer_of(frame: &Frame) -> u8 {
    match frame {
        Frame::Seq(b'[', ..) => b']',
        Frame::Seq(b'(', ..) => b')',
        _ => b'}',
    }
}

/// Applies a `#:ns{...}` prefix: unqualified keyword and symbol keys get the namespace, `:_/k`
/// loses it.
fn qualify(ns: &str, v: Value) -> Value {
    let Value::Map(entries) = v else { return v };
    let q = |s: &Name| -> Name {
        if let Some(rest) = s.strip_prefix("_/") {
            Name::new(rest)
        } else if s.contains('/') {
            s.clone()
        } else {
            Name::new(format!("{ns}/{s}"))
        }
    };
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| match k {
                Value::Keyword(s) => (Value::Keyword(q(&s)), v),
                Value::Symbol(s) => (Value::Symbol(q(&s)), v),
                k => (k, v),
            })
            .collect(),
    )
}
