//! [`OpWriter`]: streams ops to a file one per line, in JSONL or EDN.

use crate::op::Op;
use std::io::{self, Write};

/// Streams ops one per line, buffering up to a chunk and writing whole lines only: a process
/// killed between flushes leaves a file whose every complete line is an op.
pub struct OpWriter<W: Write> {
    out: W,
    buf: String,
    chunk_bytes: usize,
    written: u64,
    format: fn(&mut String, &Op),
}

impl<W: Write> OpWriter<W> {
    /// A writer of `format`-ed lines that flushes whenever `chunk_bytes` are buffered (and on
    /// [`flush`](Self::flush)).
    pub fn new(out: W, chunk_bytes: usize, format: fn(&mut String, &Op)) -> OpWriter<W> {
        OpWriter {
            out,
            buf: String::with_capacity(chunk_bytes.min(1 << 24) + 4096),
            chunk_bytes,
            written: 0,
            format,
        }
    }

    /// A JSONL writer (`history.jsonl`).
    pub fn jsonl(out: W, chunk_bytes: usize) -> OpWriter<W> {
        OpWriter::new(out, chunk_bytes, crate::json::write_op)
    }

    /// An EDN writer (`history.edn`, one op map per line).
    pub fn edn(out: W, chunk_bytes: usize) -> OpWriter<W> {
        OpWriter::new(out, chunk_bytes, crate::edn::write_op)
    }

    /// Appends one op.
    pub fn write(&mut self, op: &Op) -> io::Result<()> {
        (self.format)(&mut self.buf, op);
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
