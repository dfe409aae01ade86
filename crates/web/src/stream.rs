//! Response bodies produced by blocking code (file reads, tar writing) on tokio's blocking pool,
//! handed over in chunks through a bounded channel, so memory stays flat for any file size.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use tokio::sync::mpsc;

const CHUNK: usize = 64 * 1024;

/// The receiving end as a `Stream` of chunks for [`Body::from_stream`].
struct ChunkStream(mpsc::Receiver<io::Result<Bytes>>);

impl futures_core::Stream for ChunkStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// A `Write` that sends full chunks down the channel; a dropped receiver (the client went
/// away) turns into a `BrokenPipe` error, which stops the producer.
pub struct ChunkWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// A body whose bytes `produce` writes on the blocking pool. An error from `produce` (other than
/// the client leaving) ends the body with that error, so the client sees a cut transfer instead
/// of a silently short file.
pub fn blocking_body<F>(produce: F) -> Body
where
    F: FnOnce(&mut ChunkWriter) -> io::Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(4);
    let err_tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let mut writer = ChunkWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let result = produce(&mut writer).and_then(|()| writer.flush());
        if let Err(e) = result {
            if e.kind() != io::ErrorKind::BrokenPipe {
                let _ = err_tx.blocking_send(Err(e));
            }
        }
    });
    Body::from_stream(ChunkStream(rx))
}

/// A body with exactly `len` bytes of the file at `path` (a file that shrank meanwhile is an
/// error; bytes appended after `len` are not sent, so the body matches `Content-Length`).
pub fn file_body(path: PathBuf, len: u64) -> Body {
    blocking_body(move |out| {
        let file = File::open(&path)?;
        let copied = io::copy(&mut file.take(len), out)?;
        if copied < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while being sent", path.display()),
            ));
        }
        Ok(())
    })
}
