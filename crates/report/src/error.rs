//! Errors of the report crate; each names the file it is about.

use std::path::PathBuf;

/// Everything that can go wrong rendering a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The history could not be read (the message names file, line and column).
    #[error("{0}")]
    History(#[from] rift_history::Error),
    /// `test.json` is not valid JSON, or its fault specs are malformed.
    #[error("{}: {message}", path.display())]
    Test {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Neither `history.jsonl` nor `history.edn` exists in the run directory.
    #[error("{}: no history.jsonl or history.edn", dir.display())]
    NoHistory {
        /// The directory searched.
        dir: PathBuf,
    },
    /// Drawing or encoding a plot failed.
    #[error("{}: {message}", path.display())]
    Plot {
        /// The plot file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

impl ReportError {
    /// An I/O error on a path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ReportError {
        ReportError::Io {
            path: path.into(),
            source,
        }
    }
}
