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

/// How a history file is compressed, by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`1f 8b`).
    Gzip,
    /// Zstandard (`28 b5 2f fd`).
    Zstd,
}

impl Compression {
    /// The compression of a file starting with `first_bytes`, if any.
    pub fn detect(first_bytes: &[u8]) -> Option<Compression> {
        if first_bytes.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if first_bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else {
            None
        }
    }

    /// Its file extension (`gz`, `zst`).
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Gzip => "gz",
            Compression::Zstd => "zst",
        }
    }

    /// The decompressed bytes of `bytes`; an error names the file and the compression.
    pub fn decompress(self, bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
        use std::io::Read;
        let mut out = Vec::with_capacity(bytes.len().saturating_mul(4));
        let res = match self {
            Compression::Gzip => flate2::read::MultiGzDecoder::new(bytes)
                .read_to_end(&mut out)
                .map(|_| ()),
            Compression::Zstd => ruzstd::decoding::StreamingDecoder::new(bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
                .and_then(|mut d| d.read_to_end(&mut out).map(|_| ())),
        };
        res.map_err(|e| {
            let what = match self {
                Compression::Gzip => "gzip",
                Compression::Zstd => "zstd",
            };
            Error::io(
                path,
                std::io::Error::new(e.kind(), format!("not a readable {what} file: {e}")),
            )
        })?;
        Ok(out)
    }
}

/// Reads the ops of a history file in any format (detected by [`Format::detect`]), gzip or
/// zstd compressed or not (by its first bytes; the format is then told by the name without
/// `.gz`/`.zst` and the decompressed content).
pub fn read_ops_file(path: &Path) -> Result<(Vec<Op>, ReadReport)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if let Some(c) = Compression::detect(&bytes) {
        let plain = c.decompress(&bytes, path)?;
        let name = path.with_extension("");
        let inner = if path.extension().and_then(|e| e.to_str()) == Some(c.extension()) {
            name.as_path()
        } else {
            path
        };
        let format = Format::detect(inner, &plain[..plain.len().min(4096)]);
        return read_ops_bytes(&plain, format, Some(path));
    }
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
    fn gzip_and_zstd_histories_read_as_the_plain_ones() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("history.edn");
        let text = "{:type :invoke, :f :read, :value nil, :process 0, :index 0}\n\
                    {:type :ok, :f :read, :value 3, :process 0, :index 1}\n";
        std::fs::write(&plain, text).unwrap();
        let (want, _) = read_ops_file(&plain).unwrap();
        let gz = dir.path().join("history.edn.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, text.as_bytes()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let zst = dir.path().join("h.zst");
        let z = ruzstd::encoding::compress_to_vec(
            text.as_bytes(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        std::fs::write(&zst, z).unwrap();
        for f in [&gz, &zst] {
            let (got, _) = read_ops_file(f).unwrap();
            assert_eq!(got, want, "{}", f.display());
        }
        // Cut short: an error that names the file and the compression, not a parse error.
        let bytes = std::fs::read(&gz).unwrap();
        let cut = dir.path().join("cut.edn.gz");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let e = read_ops_file(&cut).unwrap_err().to_string();
        assert!(e.contains("cut.edn.gz") && e.contains("gzip"), "{e}");
    }

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
