//! The plumbing's one error type. Services decide from it whether a failure is worth a retry
//! ([`Error::is_transient`]): a missing object or an undecodable payload will not get better.

/// What went wrong in the shared plumbing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Settings that cannot work.
    #[error("configuration: {0}")]
    Config(String),
    /// NATS or JetStream refused or did not answer.
    #[error("NATS: {0}")]
    Nats(String),
    /// The object store failed.
    #[error("object store: {0}")]
    Store(object_store::Error),
    /// The object store has no object under this key.
    #[error("the object {0} does not exist in the store")]
    NotFound(String),
    /// A payload that is not the message it should be.
    #[error(transparent)]
    Decode(#[from] pdfmill_schemas::payload::DecodeError),
}

impl Error {
    /// Whether trying again later may succeed (an outage), as opposed to a fault in the input.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Nats(_) | Error::Store(_))
    }

    pub(crate) fn nats(context: &str, error: impl std::fmt::Display) -> Self {
        Error::Nats(format!("{context}: {error}"))
    }
}

impl From<object_store::Error> for Error {
    fn from(error: object_store::Error) -> Self {
        match error {
            object_store::Error::NotFound { path, .. } => Error::NotFound(path),
            other => Error::Store(other),
        }
    }
}
