//! Jepsen's text history (`history.txt`) and Jepsen log lines.
//!
//! Jepsen's `util/print-history` writes one op per line as
//! `process TAB type TAB f TAB value [TAB error]`: the process with `pr` (`3`, `:nemesis`), the
//! type as a keyword (`:invoke`), `f` and `value` with `pr-str` (EDN), and the error, when
//! there is one, with `print` (a string error appears without quotes and may span lines).
//! There is no index or time: ops get their position as index and no time.
//!
//! The same text follows a log prefix in Jepsen's `jepsen.log`
//! (`INFO  jepsen.util - 3\t:invoke\t:read\tnil`); [`read_jepsen_log_bytes`] takes the lines
//! with that prefix and skips every other line. Columns may be separated by tabs or, as in
//! logs whose tabs were expanded, by spaces.
//!
//! In plain text mode a line that is not an op is an error naming its line, column and field,
//! except directly after an op with an error column: such lines continue that error (Jepsen
//! prints multi-line error strings as they are).

use crate::edn::{write_value, Parser};
use crate::error::{Error, Result};
use crate::op::{Field, Layout, Op, OpType, Process};
use crate::value::{Name, Value};
use std::path::Path;

/// The prefix Jepsen's logger puts before op lines.
pub const LOG_MARKER: &[u8] = b"jepsen.util - ";

/// Reads a Jepsen `history.txt`.
pub fn read_txt_bytes(bytes: &[u8], path: Option<&Path>) -> Result<Vec<Op>> {
    let mut p = Parser::new(bytes, path);
    let mut ops: Vec<Op> = Vec::new();
    // The raw text of the last op's error column, while continuation lines may extend it.
    let mut open_error: Option<String> = None;
    for (start, end) in lines(bytes, p.pos) {
        if bytes[start..end].iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match parse_line(&mut p, start, end, ops.len()) {
            Ok((op, raw_error)) => {
                open_error = raw_error;
                ops.push(op);
            }
            Err(e) => match (&mut open_error, ops.last_mut()) {
                (Some(raw), Some(last)) => {
                    raw.push('\n');
                    raw.push_str(&String::from_utf8_lossy(&bytes[start..end]));
                    last.error = Some(Value::Str(Name::new(raw.as_str())));
                }
                _ => return Err(e),
            },
        }
    }
    Ok(ops)
}

/// Reads the op lines of a Jepsen log (`... jepsen.util - 3\t:invoke\t:read\tnil`); all other
/// lines are skipped. A line that has the prefix, a process and an op type but a malformed
/// rest is an error.
pub fn read_jepsen_log_bytes(bytes: &[u8], path: Option<&Path>) -> Result<Vec<Op>> {
    let mut p = Parser::new(bytes, path);
    let mut ops = Vec::new();
    for (start, end) in lines(bytes, p.pos) {
        let Some(at) = find(&bytes[start..end], LOG_MARKER) else {
            continue;
        };
        let col = start + at + LOG_MARKER.len();
        if !looks_like_op(&mut p, col, end) {
            continue;
        }
        let (op, _) = parse_line(&mut p, col, end, ops.len())?;
        ops.push(op);
    }
    Ok(ops)
}

/// Line spans `[start, end)` without the newline and a trailing `\r`.
fn lines(bytes: &[u8], from: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut pos = from;
    std::iter::from_fn(move || {
        if pos >= bytes.len() {
            return None;
        }
        let start = pos;
        let nl = bytes[start..].iter().position(|&b| b == b'\n');
        let mut end = nl.map_or(bytes.len(), |i| start + i);
        pos = end + 1;
        if end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        Some((start, end))
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn skip_blanks(p: &mut Parser) -> bool {
    let from = p.pos;
    while p.pos < p.end && matches!(p.bytes[p.pos], b' ' | b'\t') {
        p.pos += 1;
    }
    p.pos > from
}

/// True when the text at `[col, end)` starts with a process and an op type.
fn looks_like_op(p: &mut Parser, col: usize, end: usize) -> bool {
    p.pos = col;
    p.end = end;
    if p.read_value(None).is_err() || !skip_blanks(p) {
        return false;
    }
    let ty = p.read_value(None);
    matches!(ty, Ok(v) if v.as_name().and_then(OpType::parse).is_some())
}

/// Parses `process type f value [error]` in `[start, end)`; returns the op and the raw error
/// text when there was an error column.
fn parse_line(
    p: &mut Parser,
    start: usize,
    end: usize,
    index: usize,
) -> Result<(Op, Option<String>)> {
    p.pos = start;
    p.end = end;
    let mut op = Op::new(
        OpType::Invoke,
        Process::Other(Value::Nil),
        Value::Nil,
        Value::Nil,
    );
    op.index = index as u64;
    op.time = None;
    let mut fields = vec![Field::Type, Field::F, Field::Value];
    if p.bytes[start] != b'\t' {
        op.process = Process::from_value(p.read_value(Some("process"))?);
        fields.insert(0, Field::Process);
    }
    separator(p, "type")?;
    let at = p.pos;
    let ty = p.read_value(Some("type"))?;
    op.ty = ty.as_name().and_then(OpType::parse).ok_or_else(|| {
        p.err(
            at,
            Some("type"),
            format!("expected :invoke, :ok, :fail or :info, found {ty}"),
        )
    })?;
    separator(p, "f")?;
    op.f = p.read_value(Some("f"))?;
    separator(p, "value")?;
    op.value = p.read_value(Some("value"))?;
    let had_blank = skip_blanks(p);
    let mut raw_error = None;
    if p.pos < end {
        if !had_blank {
            return Err(p.err(
                p.pos,
                Some("value"),
                format!("expected a tab after the value, found {}", p.found(p.pos)),
            ));
        }
        let raw = String::from_utf8_lossy(&p.bytes[p.pos..end]).into_owned();
        op.error = Some(error_value(p, end, &raw));
        fields.push(Field::Error);
        raw_error = Some(raw);
    }
    op.layout = Layout::from_fields(&fields);
    p.end = p.bytes.len();
    Ok((op, raw_error))
}

/// The error column: one EDN value if it is exactly that (`:timed-out`, `{:a 1}`), else the
/// text as a string.
fn error_value(p: &mut Parser, end: usize, raw: &str) -> Value {
    let start = p.pos;
    if let Ok(v) = p.read_value(None) {
        skip_blanks(p);
        if p.pos == end {
            return v;
        }
    }
    p.pos = start;
    Value::Str(Name::new(raw))
}

fn separator(p: &mut Parser, field: &str) -> Result<()> {
    if skip_blanks(p) && p.pos < p.end {
        return Ok(());
    }
    Err(p.err(
        p.pos,
        Some(field),
        format!(
            "expected a tab and the {field} column, found {}",
            p.found(p.pos)
        ),
    ))
}

/// Appends an op as a `history.txt` line (no newline): `process TAB type TAB f TAB value` and
/// `TAB error` when there is one (written as EDN, so that it reads back).
pub fn write_op(out: &mut String, op: &Op) {
    write_value(out, &op.process.to_value());
    out.push('\t');
    out.push(':');
    out.push_str(op.ty.as_str());
    out.push('\t');
    write_value(out, &op.f);
    out.push('\t');
    write_value(out, &op.value);
    if let Some(e) = &op.error {
        out.push('\t');
        write_value(out, e);
    }
}

/// Reads a `history.txt` file.
pub fn read_txt_file(path: &Path) -> Result<Vec<Op>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    read_txt_bytes(&bytes, Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector;

    #[test]
    fn reads_jepsen_text() {
        let text = "0\t:invoke\t:read\tnil\n0\t:ok\t:read\t[1 2]\n:nemesis\t:info\t:start\tnil\n\
                    1\t:fail\t:cas\t[1 2]\t:not-found\n2\t:info\t:write\t3\tindeterminate: timeout\n";
        let ops = read_txt_bytes(text.as_bytes(), None).unwrap();
        assert_eq!(ops.len(), 5);
        assert_eq!(ops[1].value, vector![1, 2]);
        assert_eq!(ops[1].index, 1);
        assert_eq!(ops[2].process, Process::Nemesis);
        assert_eq!(ops[3].error, Some(Value::kw("not-found")));
        assert_eq!(ops[4].error, Some(Value::str("indeterminate: timeout")));
        assert_eq!(ops[0].time, None);
        let mut line = String::new();
        write_op(&mut line, &ops[3]);
        assert_eq!(line, "1\t:fail\t:cas\t[1 2]\t:not-found");
    }

    #[test]
    fn multi_line_errors_continue() {
        let text = "2\t:info\t:write\t3\tCommand failed:\nsudo x\n\n3\t:invoke\t:read\tnil\n";
        let ops = read_txt_bytes(text.as_bytes(), None).unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].error, Some(Value::str("Command failed:\nsudo x")));
    }

    #[test]
    fn bad_lines_name_line_column_field() {
        let e = read_txt_bytes(
            b"0\t:invoke\t:read\tnil\n0\t:bogus\t:read\tnil\n",
            Some(Path::new("h.txt")),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "h.txt:2:3: field type: expected :invoke, :ok, :fail or :info, found :bogus"
        );
        let e = read_txt_bytes(b"0\t:invoke\t:read\n", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("1:16: field value: expected a tab and the value column"),
            "{e}"
        );
        let e = read_txt_bytes(b"0\t:ok\t:read\t[1 2\n", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("field value"), "{e}");
    }

    #[test]
    fn reads_log_lines_with_tabs_or_spaces() {
        let text = "2015-01-01 INFO  jepsen.core - Running test\n\
                    INFO  jepsen.util - 3\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 3   :ok     :read   4\n\
                    INFO  jepsen.util - Waiting for nodes\n\
                    INFO  jepsen.util - 4\t:info\t:cas\t[1 2]\t:timed-out\n";
        let ops = read_jepsen_log_bytes(text.as_bytes(), None).unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[1].value, Value::Int(4));
        assert_eq!(ops[1].index, 1);
        assert_eq!(ops[2].error, Some(Value::kw("timed-out")));
        let e =
            read_jepsen_log_bytes(b"INFO  jepsen.util - 3\t:ok\t:read\t[4\n", None).unwrap_err();
        assert!(e.to_string().starts_with("<input>:1:"), "{e}");
    }
}
