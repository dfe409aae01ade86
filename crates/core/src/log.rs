//! The run log: while a test runs, everything logged also goes to `rift.log` in its store
//! directory. The CLI's log subscriber writes each formatted line through [`write`]; on a
//! terminal the lines are printed above the progress bar.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

static RUN_LOG: Mutex<Option<File>> = Mutex::new(None);

/// The live progress bar, while one is drawn: log lines are printed above it.
static BAR: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// Routes stderr log lines around `bar` (None: straight to stderr again).
pub fn set_bar(bar: Option<indicatif::ProgressBar>) {
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = bar;
}

/// Starts copying log lines to `path` (appending).
pub fn attach(path: &Path) -> io::Result<()> {
    let f = File::options().create(true).append(true).open(path)?;
    *RUN_LOG.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    Ok(())
}

/// Stops copying log lines.
pub fn detach() {
    let mut g = RUN_LOG.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = g.as_mut() {
        let _ = f.flush();
    }
    *g = None;
}

/// Writes a formatted log line to the attached run log, if any.
pub fn write(bytes: &[u8]) {
    let mut g = RUN_LOG.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = g.as_mut() {
        let _ = f.write_all(bytes);
    }
}

/// A writer for log subscribers: stderr plus the run log.
#[derive(Clone, Copy, Debug, Default)]
pub struct TeeWriter;

impl Write for TeeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write(buf);
        let bar = BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match bar {
            Some(b) => b.suspend(|| io::stderr().write_all(buf))?,
            None => io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}
