//! Errors of the history crate. Every error about user data names where it is: file, line,
//! column and, when known, the field.

use std::fmt;
use std::path::PathBuf;

/// Where in an input something went wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// The file, when reading one.
    pub path: Option<PathBuf>,
    /// 1-based line.
    pub line: u64,
    /// 1-based column (in characters).
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}:{}:{}", p.display(), self.line, self.column),
            None => write!(f, "<input>:{}:{}", self.line, self.column),
        }
    }
}

/// Everything that can go wrong reading, writing or assembling a history.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed input: what was expected at a location, and in which field if known.
    #[error("{location}: {}{message}", field.as_ref().map(|f| format!("field {f}: ")).unwrap_or_default())]
    Parse {
        /// Where.
        location: Location,
        /// The op field (`type`, `process`, ...) being read, if any.
        field: Option<String>,
        /// What was expected and what was found.
        message: String,
    },
    /// An I/O error on a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Ops that do not form a history: a process invoking while it already has an operation
    /// in flight, or completing one it never invoked.
    #[error("{}op {index} (process {process}): {message}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Pairing {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The history index of the offending op.
        index: u64,
        /// Its process.
        process: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// A parse error at a location.
    pub fn parse(location: Location, field: Option<&str>, message: impl Into<String>) -> Error {
        Error::Parse {
            location,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    /// An I/O error on a path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Sets the file of a parse or pairing error that was raised without one.
    pub fn in_file(mut self, file: &std::path::Path) -> Error {
        match &mut self {
            Error::Parse { location, .. } if location.path.is_none() => {
                location.path = Some(file.to_path_buf());
            }
            Error::Pairing { path, .. } if path.is_none() => *path = Some(file.to_path_buf()),
            _ => {}
        }
        self
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
