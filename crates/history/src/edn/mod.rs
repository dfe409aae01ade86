//! Jepsen EDN (`history.edn`): reading and writing.
//!
//! # Reading
//! [`read_edn_bytes`] takes either shape Jepsen tools write: a sequence of top-level op maps
//! (Jepsen's `history.edn`, one per line) or a single vector or list of op maps (Knossos data
//! files, often after a `;` comment). The reader is byte-oriented and uses an explicit stack, so
//! deep nesting cannot overflow the thread stack; nesting beyond [`MAX_DEPTH`] is an error.
//! It reads everything Clojure's printer emits for history data: `nil`, booleans, integers
//! (`42`, `1N`, `0x1F`, `017` octal, `2r101`), floats (`1.5`, `1.0E-4`, `1.5M`, `##Inf`,
//! `##NaN`), ratios, strings with every escape, characters, keywords (`:a/b`, `::x`), symbols,
//! vectors, lists, sets, maps, tagged literals (`#inst "..."`, `#object[...]`, `#error {...}`,
//! records such as `#jepsen.history.Op{...}`), namespaced maps `#:ns{...}`, `#_` discards,
//! `^meta` (skipped), `;` comments and commas.
//!
//! Ratios have no [`Value`] variant: `1/3` is kept as `Value::Tagged(("ratio", "1/3"))`,
//! reduced as Clojure reduces it, and written back as `1/3`. Duplicate keys in a map literal
//! and duplicate set elements are kept as they are (Clojure refuses them).
//!
//! Each op map becomes an [`Op`] whose [`Layout`](crate::Layout) records which of `:index`,
//! `:time`, `:type`, `:process`, `:f`, `:value`, `:error` it had and in which order; other keys
//! go to `extra`. A `#jepsen.history.Op{...}` record sets `layout.record`. `:type` is required
//! and must be `:invoke`, `:ok`, `:fail` or `:info`; `:index` must be a non-negative integer,
//! `:time` an integer. Errors name the file, line, column and field.
//!
//! # Writing
//! [`write_value`] prints as Clojure's `pr` does: `{:a 1, :b 2}`, `[1 2]`, `(1 2)`, `#{1 2}`,
//! `"a\nb"`, `\a`, `\newline`, `1N`, `1.5M`, doubles as Java's `Double.toString` (`1.0`,
//! `1.0E-4`), `##Inf`, `#inst "..."`, `#jepsen.history.Op{...}`. A history line written by
//! Jepsen reads and writes back byte for byte. Where EDN cannot express a value faithfully the
//! writer chooses readable text: a keyword or symbol whose text is not a valid name (JSON
//! histories can carry `"x 0 0 y"` as a keyword) is written as a string, and a tag that is not
//! a symbol has its offending characters replaced by `_`.

mod number;
mod ops;
mod read;
mod write;

pub use number::RATIO_TAG;
pub use ops::{
    parse_op, parse_value, parse_value_bytes, parse_values, read_edn_bytes, OP_RECORD_TAG,
};
pub use read::MAX_DEPTH;
pub use write::{write_op, write_value};

pub(crate) use read::Parser;

use crate::error::{Error, Result};
use crate::json::JsonlReader;
use crate::op::Op;
use crate::value::Value;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// The EDN text of a value.
pub fn value_to_edn(v: &Value) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

/// The EDN text of an op (one map, no newline).
pub fn op_to_edn(op: &Op) -> String {
    let mut s = String::with_capacity(128);
    write_op(&mut s, op);
    s
}

/// Reads an EDN history file.
pub fn read_edn_file(path: &Path) -> Result<Vec<Op>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    read_edn_bytes(&bytes, Some(path))
}

/// Streams ops as `history.edn`: [`OpWriter::edn`](crate::writer::OpWriter::edn).
pub type EdnWriter<W> = crate::writer::OpWriter<W>;

/// `dst` with `.tmp` appended to its file name.
pub(crate) fn tmp_path(dst: &Path) -> PathBuf {
    let mut name = dst
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    dst.with_file_name(name)
}

/// Converts a JSONL history into `history.edn`, streaming (the history is never held whole):
/// writes `dst.tmp`, then renames it to `dst`. A torn last JSONL line is dropped, as
/// [`read_jsonl_bytes`](crate::json::read_jsonl_bytes) drops it. Returns the number of ops.
pub fn jsonl_to_edn(src: &Path, dst: &Path) -> Result<u64> {
    let input = std::fs::File::open(src).map_err(|e| Error::io(src, e))?;
    let tmp = tmp_path(dst);
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut w = EdnWriter::edn(file, 1 << 20);
    let reader = JsonlReader::new(
        BufReader::with_capacity(1 << 20, input),
        Some(src.to_path_buf()),
    );
    let result = (|| {
        for op in reader {
            w.write(&op?).map_err(|e| Error::io(&tmp, e))?;
        }
        let n = w.count();
        let file = w.into_inner().map_err(|e| Error::io(&tmp, e))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        Ok::<u64, Error>(n)
    })();
    match result {
        Ok(n) => {
            std::fs::rename(&tmp, dst).map_err(|e| Error::io(dst, e))?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests;
