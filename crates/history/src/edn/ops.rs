//! Ops from EDN: history files (a sequence of op maps, or one vector or list of them) and
//! single op maps.

use super::read::{Next, Parser};
use crate::error::{Error, Result};
use crate::op::{Field, Layout, Op, OpType, Process};
use crate::value::Value;
use std::path::Path;

/// The record tag Jepsen prints ops with.
pub const OP_RECORD_TAG: &str = "jepsen.history.Op";

/// A field error: which field (if a standard one) and what is wrong.
pub(crate) type FieldError = (Option<Field>, String);

/// Assembles an op from its map entries, validating the standard fields.
pub(crate) struct OpBuilder {
    op: Op,
    have_type: bool,
    have_index: bool,
}

impl OpBuilder {
    /// An empty op (no fields, nil process, index to be assigned).
    pub(crate) fn new(record: bool) -> OpBuilder {
        let mut op = Op::new(
            OpType::Invoke,
            Process::Other(Value::Nil),
            Value::Nil,
            Value::Nil,
        );
        op.time = None;
        op.layout = Layout::EMPTY;
        op.layout.record = record;
        OpBuilder {
            op,
            have_type: false,
            have_index: false,
        }
    }

    /// Sets one entry. Keyword keys naming a standard field fill it; any other key is an extra.
    pub(crate) fn set(&mut self, key: Value, v: Value) -> std::result::Result<(), FieldError> {
        let field = match &key {
            Value::Keyword(k) => Field::by_name(k),
            _ => None,
        };
        let Some(field) = field else {
            self.op.layout.push(Field::Extra);
            self.op.extra.push((key, v));
            return Ok(());
        };
        if self.op.layout.has(field) {
            return Err((Some(field), "appears twice".to_string()));
        }
        self.op.layout.push(field);
        self.set_field(field, v)
    }

    /// Validates and stores a standard field.
    pub(crate) fn set_field(
        &mut self,
        field: Field,
        v: Value,
    ) -> std::result::Result<(), FieldError> {
        let op = &mut self.op;
        match field {
            Field::Index => match v {
                Value::Int(i) if i >= 0 => {
                    op.index = i as u64;
                    self.have_index = true;
                }
                other => {
                    return Err((
                        Some(field),
                        format!("expected a non-negative integer, found {other}"),
                    ))
                }
            },
            Field::Time => match v {
                Value::Int(t) => op.time = Some(t),
                other => {
                    return Err((
                        Some(field),
                        format!("expected an integer (nanoseconds), found {other}"),
                    ))
                }
            },
            Field::Type => match v.as_name().and_then(OpType::parse) {
                Some(t) => {
                    op.ty = t;
                    self.have_type = true;
                }
                None => {
                    return Err((
                        Some(field),
                        format!("expected :invoke, :ok, :fail or :info, found {v}"),
                    ))
                }
            },
            Field::Process => op.process = Process::from_value(v),
            Field::F => op.f = v,
            Field::Value => op.value = v,
            Field::Error => op.error = Some(v),
            Field::Extra => {}
        }
        Ok(())
    }

    /// The op; `type` is required. A missing index is left as `u64::MAX` for the reader to
    /// assign from the position.
    pub(crate) fn finish(mut self) -> std::result::Result<Op, FieldError> {
        if !self.have_type {
            return Err((
                Some(Field::Type),
                "missing (every op needs a :type)".to_string(),
            ));
        }
        if !self.have_index {
            self.op.index = u64::MAX;
        }
        Ok(self.op)
    }
}

fn field_name(e: &FieldError) -> Option<&'static str> {
    e.0.map(Field::name)
}

/// Reads an op map at the parser's position (`{` or `#jepsen.history.Op{`), with each field
/// error located at its value.
fn read_op_map(p: &mut Parser, record: bool) -> Result<Op> {
    let open = p.pos;
    p.pos += 1; // `{`
    let mut b = OpBuilder::new(record);
    loop {
        p.skip_ws();
        let key_pos = p.pos;
        let key = match p.read_next()? {
            Next::Value(k) => k,
            Next::Close(b'}') => break,
            Next::Close(c) => {
                return Err(p.err(
                    key_pos,
                    None,
                    format!(
                        "expected a key or `}}` to close the op map, found `{}`",
                        c as char
                    ),
                ))
            }
            Next::Eof => {
                let l = p.location(open);
                return Err(p.err(
                    key_pos,
                    None,
                    format!("expected `}}` to close the op map opened at line {} column {}, found end of input", l.line, l.column),
                ));
            }
        };
        p.skip_ws();
        let val_pos = p.pos;
        let field = match &key {
            Value::Keyword(k) => Field::by_name(k).map(Field::name),
            _ => None,
        };
        let v = match p.read_next() {
            Ok(Next::Value(v)) => v,
            Ok(_) => {
                return Err(p.err(
                    val_pos,
                    field,
                    format!("expected a value for key {key}, found {}", p.found(val_pos)),
                ))
            }
            Err(Error::Parse {
                location,
                field: None,
                message,
            }) => return Err(Error::parse(location, field, message)),
            Err(e) => return Err(e),
        };
        b.set(key, v).map_err(|e| {
            let at = if e.1 == "appears twice" {
                key_pos
            } else {
                val_pos
            };
            p.err(at, field_name(&e), e.1)
        })?;
    }
    b.finish().map_err(|e| p.err(open, field_name(&e), e.1))
}

/// An op from a value read whole: a map, or a map tagged `#jepsen.history.Op`.
pub(crate) fn value_to_op(v: Value) -> std::result::Result<Op, FieldError> {
    let (entries, record) = match v {
        Value::Map(m) => (m, false),
        Value::Tagged(t) if t.0 == OP_RECORD_TAG => match t.1 {
            Value::Map(m) => (m, true),
            other => {
                return Err((
                    None,
                    format!("expected a map after #{OP_RECORD_TAG}, found {other}"),
                ))
            }
        },
        other => {
            return Err((
                None,
                format!("expected an op map {{:type .., :f .., :value ..}}, found {other}"),
            ))
        }
    };
    let mut b = OpBuilder::new(record);
    for (k, v) in entries {
        b.set(k, v)?;
    }
    b.finish()
}

/// Reads the next op, or None at the end (the end of input, or `closer` when inside a vector).
fn read_op(p: &mut Parser, closer: Option<u8>) -> Result<Option<Op>> {
    p.skip_ws();
    let start = p.pos;
    match p.peek() {
        Some(b'{') => return read_op_map(p, false).map(Some),
        Some(b'#') if p.bytes[p.pos..p.end].starts_with(b"#jepsen.history.Op{") => {
            p.pos += OP_RECORD_TAG.len() + 1;
            return read_op_map(p, true).map(Some);
        }
        _ => {}
    }
    match p.read_next()? {
        Next::Value(v) => value_to_op(v)
            .map(Some)
            .map_err(|e| p.err(start, field_name(&e), e.1)),
        Next::Close(c) if Some(c) == closer => Ok(None),
        Next::Close(c) => Err(p.err(
            start,
            None,
            format!("expected an op map, found `{}`", c as char),
        )),
        Next::Eof if closer.is_none() => Ok(None),
        Next::Eof => Err(p.err(
            start,
            None,
            format!(
                "expected `{}` to close the vector of ops, found end of input",
                closer.unwrap_or(b']') as char
            ),
        )),
    }
}

/// Reads ops from EDN bytes: a sequence of op maps (Jepsen's `history.edn`, usually one per
/// line) or one vector or list of op maps (Knossos data files). Ops without `:index` get their
/// position.
pub fn read_edn_bytes(bytes: &[u8], path: Option<&Path>) -> Result<Vec<Op>> {
    // A big input of op maps one per line is read in pieces on every core when each piece
    // reads cleanly on its own (no value spans a cut, no error); else in one pass, which
    // names the right line and column.
    if let Some((threads, pieces)) = crate::chunked::plan(bytes.len()) {
        if let Some(ops) = read_edn_pieces(bytes, path, threads, pieces) {
            return Ok(ops);
        }
    }
    read_edn_one_pass(bytes, path)
}

/// Reads EDN op maps in about `pieces` pieces (cut at line ends) on `threads` threads; None
/// unless every piece reads cleanly on its own (then the caller reads it in one pass).
///
/// Why a clean read of every piece is the one-pass read: a cut inside a top-level value
/// leaves the piece holding its start with that value unclosed (or a string unterminated,
/// or a tag, discard or metadata prefix waiting for its value), an error; tokens other than
/// strings never span a newline. So when every piece reads cleanly, each cut lies between
/// top-level values, where one pass is at top level too.
fn read_edn_pieces(
    bytes: &[u8],
    path: Option<&Path>,
    threads: usize,
    pieces: usize,
) -> Option<Vec<Op>> {
    let piece = |r: std::ops::Range<usize>| {
        let start = r.start;
        let chunk = &bytes[r];
        // A vector or list of ops (a Knossos file) is read in one pass; so is a piece that
        // starts with a byte order mark (only the file's own first one is skipped as such).
        if start == 0 && first_byte(chunk).is_some_and(|b| b == b'[' || b == b'(')
            || start > 0 && chunk.starts_with(b"\xef\xbb\xbf")
        {
            return None;
        }
        let mut p = Parser::new(chunk, path);
        let mut ops = Vec::with_capacity(chunk.len() / 128 + 1);
        while let Some(op) = read_op(&mut p, None).ok()? {
            ops.push(op);
        }
        Some(ops)
    };
    let mut ops = crate::chunked::read_pieces(bytes, threads, pieces, piece)?;
    crate::chunked::number_unindexed(&mut ops);
    Some(ops)
}

/// The first byte that is not whitespace, a comma, a comment or a byte order mark.
fn first_byte(bytes: &[u8]) -> Option<u8> {
    let mut p = Parser::new(bytes, None);
    p.skip_ws();
    p.peek()
}

fn read_edn_one_pass(bytes: &[u8], path: Option<&Path>) -> Result<Vec<Op>> {
    let mut p = Parser::new(bytes, path);
    let mut ops = Vec::with_capacity(bytes.len() / 128 + 1);
    p.skip_ws();
    let closer = match p.peek() {
        Some(b'[') => Some(b']'),
        Some(b'(') => Some(b')'),
        _ => None,
    };
    if closer.is_some() {
        p.pos += 1;
    }
    while let Some(mut op) = read_op(&mut p, closer)? {
        if op.index == u64::MAX {
            op.index = ops.len() as u64;
        }
        ops.push(op);
    }
    if closer.is_some() {
        expect_end(&mut p, "the vector of ops")?;
    }
    Ok(ops)
}

/// Parses one op from its EDN map text (`{:type :invoke, ...}` or a `#jepsen.history.Op`
/// record). A missing `:index` is left as 0.
pub fn parse_op(text: &str) -> Result<Op> {
    let mut p = Parser::new(text.as_bytes(), None);
    let Some(mut op) = read_op(&mut p, None)? else {
        return Err(p.err(p.pos, None, "expected an op map, found end of input"));
    };
    expect_end(&mut p, "the op")?;
    if op.index == u64::MAX {
        op.index = 0;
    }
    Ok(op)
}

/// Fails unless only whitespace and comments are left after `what`.
fn expect_end(p: &mut Parser<'_>, what: &str) -> Result<()> {
    p.skip_ws();
    if p.pos < p.end {
        return Err(p.err(
            p.pos,
            None,
            format!(
                "expected end of input after {what}, found {}",
                p.found(p.pos)
            ),
        ));
    }
    Ok(())
}

/// Parses exactly one EDN value (comments and whitespace around it are fine).
pub fn parse_value(text: &str) -> Result<Value> {
    parse_value_bytes(text.as_bytes(), None)
}

/// Parses exactly one EDN value from bytes.
pub fn parse_value_bytes(bytes: &[u8], path: Option<&Path>) -> Result<Value> {
    let mut p = Parser::new(bytes, path);
    let v = p.read_value(None)?;
    expect_end(&mut p, "the value")?;
    Ok(v)
}

/// Parses every top-level EDN value in the input, in order.
pub fn parse_values(text: &str) -> Result<Vec<Value>> {
    let mut p = Parser::new(text.as_bytes(), None);
    let mut out = Vec::new();
    loop {
        p.skip_ws();
        let at = p.pos;
        match p.read_next()? {
            Next::Value(v) => out.push(v),
            Next::Eof => return Ok(out),
            Next::Close(c) => return Err(p.err(at, None, format!("unexpected `{}`", c as char))),
        }
    }
}

#[cfg(test)]
mod piece_tests {
    use super::*;

    /// Ops one per line, some with an index and some without, comments and blank lines.
    fn lines(n: usize) -> String {
        let mut s = String::from("; a comment line\n");
        for i in 0..n {
            match i % 4 {
                0 => s += &format!("{{:index {i}, :type :invoke, :process {}, :f :txn, :value [[:append {} {i}] [:r 3 nil]]}}\n", i % 7, i % 5),
                1 => s += &format!("{{:type :ok, :process {}, :f :read, :value #{{1 2 \"s {i}\"}}}} ; trailing\n", i % 7),
                2 => s += "\n#jepsen.history.Op{:index 99, :time 5, :type :info, :process :nemesis, :f :kill, :value nil}\n",
                _ => s += &format!("{{:type :fail, :process {}, :f :write, :value {{:k \"v\\nw\"}}, :error [:timeout]}}\n", i % 7),
            }
        }
        s
    }

    #[test]
    fn pieces_read_what_one_pass_reads() {
        let text = lines(200);
        let one = read_edn_one_pass(text.as_bytes(), None).unwrap();
        for pieces in [1, 2, 3, 7, 50, 400] {
            let got = read_edn_pieces(text.as_bytes(), None, 3, pieces);
            assert_eq!(got.as_ref(), Some(&one), "{pieces} pieces");
        }
    }

    #[test]
    fn a_value_across_a_cut_or_an_error_falls_back_to_one_pass() {
        // Every cut that lands inside the multi-line op makes its piece fail.
        let mut text = lines(20);
        text += "{:type :ok, :process 1, :f :read,\n :value [1\n 2\n 3]}\n";
        text += &lines(20);
        let one = read_edn_one_pass(text.as_bytes(), None).unwrap();
        for pieces in 1..60 {
            if let Some(got) = read_edn_pieces(text.as_bytes(), None, 2, pieces) {
                assert_eq!(got, one, "{pieces} pieces");
            }
        }
        assert_eq!(read_edn_pieces(text.as_bytes(), None, 2, 1), Some(one));
        // A string across lines, a discard before a cut, a bad op: never a different answer.
        for bad in [
            "{:type :ok, :process 1, :value \"a\nb\"}\n",
            "#_\n{:type :ok}\n",
            "{:process 1}\n",
        ] {
            let text = format!("{}{bad}{}", lines(10), lines(10));
            let one = read_edn_one_pass(text.as_bytes(), None);
            for pieces in 1..40 {
                if let Some(got) = read_edn_pieces(text.as_bytes(), None, 2, pieces) {
                    assert_eq!(one.as_ref().ok(), Some(&got), "{bad:?} {pieces}");
                }
            }
        }
        // A vector of ops is read in one pass.
        let v = "[{:type :invoke, :process 0, :f :read}\n{:type :ok, :process 0, :f :read}]\n";
        assert_eq!(read_edn_pieces(v.as_bytes(), None, 2, 4), None);
    }
}
