//! The library's error type: every failure names its input and, where there is one, the fix.

use std::path::PathBuf;

/// Errors users can act on. `Display` is one line, printed by the binary as `error: {}`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{action} '{path}': {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file's content is not what its format requires.
    #[error("'{path}': {msg}")]
    Format { path: PathBuf, msg: String },
    /// A flag or combination of flags is invalid: the message names the flag and the fix.
    #[error("{0}")]
    Config(String),
    /// Input data that cannot be trained on or queried (empty corpus, unknown word, ...).
    #[error("{0}")]
    Input(String),
    /// A device could not be used: what failed, versions involved, what to do.
    #[error("{0}")]
    Device(String),
    /// Training stopped because the loss or a weight stopped being a finite number.
    #[error("{0}")]
    Diverged(String),
    /// Training stopped between batches because it was asked to (a signal): where it stopped.
    #[error("{0}")]
    Stopped(String),
}

impl Error {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
    pub fn format(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
