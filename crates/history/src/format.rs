//! History file formats: detection, and reading or writing any of them.

use crate::edn::{self, EdnWriter};
use crate::error::{Error, Result};
use crate::history::History;
use crate::json::{self, JsonlWriter, ReadReport};
use crate::op::Op;
use crate::txt;
use std::io::Write;
use std::path::Path;

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// rift's `history.jsonl`: one JSON op object per line.
    Jsonl,
    /// A JSON array of op objects (elle-cli's histories).
    JsonArray,
    /// Jepsen's `history.edn`: op maps one per line, or one vector of them (Knossos files).
    Edn,
    /// Jepsen's `history.txt`: `process TAB type TAB f TAB value [TAB error]` per line.
    Txt,
    /// A Jepsen log: op lines after `jepsen.util - `, everything else skipped.
    JepsenLog,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 5] = [
        Format::Jsonl,
        Format::JsonArray,
        Format::Edn,
        Format::Txt,
        Format::JepsenLog,
    ];

    /// A short name: `jsonl`, `json`, `edn`, `txt`, `log`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::JsonArray => "json",
            Format::Edn => "edn",
            Format::Txt => "txt",
            Format::JepsenLog => "log",
        }
    }

    /// The format with this short name.
    pub fn by_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Detects the format of a file from its extension, looking at its first bytes where the
    /// extension is ambiguous or absent: `.jsonl` is JSONL; `.json` is a JSON array when it
    /// starts with `[`, else JSONL; `.edn` is EDN; `.txt` is EDN when it starts with `{`, `[`,
    /// `(`, `#` or a `;` comment (Porcupine's kv files), else Jepsen text; `.log` is a Jepsen
    /// log. Anything else is sniffed from its content.
    pub fn detect(path: &Path, first_bytes: &[u8]) -> Format {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" => Format::Jsonl,
            "json" => match first_significant(first_bytes) {
                Some(b'[') => Format::JsonArray,
                _ => Format::Jsonl,
            },
            "edn" => Format::Edn,
            "txt" => match first_significant(first_bytes) {
                Some(b'{' | b'[' | b'(' | b'#' | b';') => Format::Edn,
                _ => Format::Txt,
            },
            "log" => Format::JepsenLog,
            _ => Format::sniff(first_bytes),
        }
    }

    /// Guesses the format from the first bytes alone.
    pub fn sniff(first_bytes: &[u8]) -> Format {
        let text = skip_ws(first_bytes);
        match text.first() {
            Some(b';' | b'(' | b'#') => Format::Edn,
            Some(b'[') => match skip_ws(&text[1..]).first() {
                Some(b'{') if skip_ws(&skip_ws(&text[1..])[1..]).first() == Some(&b'"') => {
                    Format::JsonArray
                }
                Some(b'{') => Format::Edn,
                Some(b']') | None => Format::JsonArray,
                _ => Format::Edn,
            },
            Some(b'{') => match skip_ws(&text[1..]).first() {
                Some(b'"') | Some(b'}') => Format::Jsonl,
                _ => Format::Edn,
            },
            _ if text
                .windows(txt::LOG_MARKER.len())
                .any(|w| w == txt::LOG_MARKER) =>
            {
                Format::JepsenLog
            }
            _ => Format::Txt,
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn skip_ws(b: &[u8]) -> &[u8] {
    let i = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[i..]
}

fn first_significant(b: &[u8]) -> Option<u8> {
    skip_ws(b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b))
        .first()
        .copied()
}

/// Reads ops in a known format from bytes.
pub fn read_ops_bytes(
    bytes: &[u8],
    format: Format,
    path: Option<&Path>,
) -> Result<(Vec<Op>, ReadReport)> {
    let ops = match format {
        Format::Jsonl => return json::read_jsonl_bytes(bytes, path),
        Format::JsonArray => json::read_json_array_bytes(bytes, path)?,
        Format::Edn => edn::read_edn_bytes(bytes, path)?,
        Format::Txt => txt::read_txt_bytes(bytes, path)?,
        Format::JepsenLog => txt::read_jepsen_log_bytes(bytes, path)?,
    };
    Ok((ops, ReadReport::default()))
}

/// Reads the ops of a history file in any format (detected by [`Format::detect`]).
pub fn read_ops_file(path: &Path) -> Result<(Vec<Op>, ReadReport)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let format = Format::detect(path, &bytes[..bytes.len().min(4096)]);
    read_ops_bytes(&bytes, format, Some(path))
}

/// Reads a history file in any format and pairs its ops.
pub fn read_history_file(path: &Path) -> Result<History> {
    let (ops, _) = read_ops_file(path)?;
    History::new(ops).map_err(|e| e.in_file(path))
}

/// Writes ops to a file as JSONL or EDN (one op per line), through `path.tmp` and a rename so
/// that readers never see a half-written file. Other formats are refused with an
/// [`Error::Io`] of kind `Unsupported`.
pub fn write_ops_file(path: &Path, format: Format, ops: &[Op]) -> Result<()> {
    if !matches!(format, Format::Jsonl | Format::Edn) {
        let e = std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!("writing {format} histories is not supported (use jsonl or edn)"),
        );
        return Err(Error::io(path, e));
    }
    let tmp = edn::tmp_path(path);
    let result = (|| -> std::io::Result<()> {
        let file = std::fs::File::create(&tmp)?;
        let file = if format == Format::Jsonl {
            let mut w = JsonlWriter::jsonl(file, 1 << 20);
            ops.iter().try_for_each(|op| w.write(op))?;
            w.into_inner()?
        } else {
            let mut w = EdnWriter::edn(file, 1 << 20);
            ops.iter().try_for_each(|op| w.write(op))?;
            w.into_inner()?
        };
        let mut file = file;
        file.flush()?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn detects_by_extension_then_content() {
        let p = Path::new;
        assert_eq!(Format::detect(p("h.jsonl"), b"{\"type\""), Format::Jsonl);
        assert_eq!(
            Format::detect(p("h.json"), b" [{\"type\""),
            Format::JsonArray
        );
        assert_eq!(Format::detect(p("h.json"), b"{\"type\""), Format::Jsonl);
        assert_eq!(Format::detect(p("h.edn"), b"[{:type"), Format::Edn);
        assert_eq!(Format::detect(p("c01-ok.txt"), b"{:process 0"), Format::Edn);
        assert_eq!(
            Format::detect(p("history.txt"), b"0\t:invoke\t:read\tnil"),
            Format::Txt
        );
        assert_eq!(
            Format::detect(p("etcd_000.log"), b"INFO  jepsen.util - 0"),
            Format::JepsenLog
        );
        assert_eq!(Format::detect(p("h"), b"[{\"type\":1}]"), Format::JsonArray);
        assert_eq!(Format::detect(p("h"), b"[{:type :ok}]"), Format::Edn);
        assert_eq!(Format::detect(p("h"), b"; comment\n[{:type"), Format::Edn);
        assert_eq!(
            Format::detect(p("h"), b"{\"type\":\"ok\"}\n"),
            Format::Jsonl
        );
        assert_eq!(Format::detect(p("h"), b"{:type :ok}\n"), Format::Edn);
        assert_eq!(
            Format::detect(p("h"), b"x INFO  jepsen.util - 0\t:ok"),
            Format::JepsenLog
        );
        assert_eq!(Format::detect(p("h"), b"0\t:ok\t:read\t1"), Format::Txt);
        assert_eq!(Format::by_name("log"), Some(Format::JepsenLog));
    }

    #[test]
    fn writes_and_reads_every_writable_format() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Op::invoke(0, "read", Value::Nil);
        a.index = 0;
        let mut b = a.complete(crate::op::OpType::Ok, Value::Int(3));
        b.index = 1;
        let ops = vec![a, b];
        for (name, format) in [("h.jsonl", Format::Jsonl), ("h.edn", Format::Edn)] {
            let path = dir.path().join(name);
            write_ops_file(&path, format, &ops).unwrap();
            let (back, report) = read_ops_file(&path).unwrap();
            assert_eq!(back, ops, "{name}");
            assert_eq!(report, ReadReport::default());
            let h = read_history_file(&path).unwrap();
            assert_eq!(h.pair_of(0), Some(1));
        }
        let e = write_ops_file(&dir.path().join("h.txt"), Format::Txt, &ops).unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
        let e = read_ops_file(&dir.path().join("missing.edn")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
    }
}
