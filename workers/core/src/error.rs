//! The plumbing's one error type, and the one rule that turns an error into what happens to
//! a message ([`Outcome`]): an outage is retried, a fault in the input is dead-lettered.
//! Services wrap this error in theirs and delegate to the same rule, so a handler writes `?`
//! and never decides twice.

use pdfmill_schemas::{domain::Invalid, v1::ErrorClass};

use crate::Outcome;

/// The boxed source of a NATS error: async-nats has one error type per operation.
pub type NatsSource = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong in the shared plumbing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Settings that cannot work.
    #[error("configuration: {0}")]
    Config(String),
    /// NATS refused the connection or did not answer it.
    #[error("cannot connect to NATS at {url}: {source}; is nats-server running and reachable?")]
    Connect {
        /// The server list, without credentials.
        url: String,
        /// What async-nats said.
        #[source]
        source: async_nats::ConnectError,
    },
    /// NATS or JetStream refused or did not answer.
    #[error("NATS: {context}: {source}")]
    Nats {
        /// What was being done.
        context: String,
        /// What async-nats said.
        #[source]
        source: NatsSource,
    },
    /// A stream, consumer or bucket the process needs does not exist.
    #[error("NATS has no {what}; `pdfmill up` or any `pdfmill worker` declares it")]
    NotDeclared {
        /// Which one, e.g. `stream DLQ`.
        what: String,
    },
    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[source] object_store::Error),
    /// The object store has no object under this key.
    #[error("the object {0} does not exist in the store")]
    NotFound(String),
    /// A payload that is not the message it should be.
    #[error(transparent)]
    Decode(#[from] pdfmill_schemas::payload::DecodeError),
    /// A job status in the `jobs` bucket that does not decode.
    #[error("job {job} has an unreadable status: {source}")]
    CorruptStatus {
        /// The job.
        job: String,
        /// The decoder's error.
        #[source]
        source: prost::DecodeError,
    },
    /// A request that breaks one of the job's rules.
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

impl Error {
    /// A NATS failure while doing `context`.
    pub fn nats(context: impl Into<String>, source: impl Into<NatsSource>) -> Self {
        Error::Nats {
            context: context.into(),
            source: source.into(),
        }
    }

    /// Whether trying again later may succeed (an outage), as opposed to a fault in the input.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Config(_)
                | Error::Connect { .. }
                | Error::Nats { .. }
                | Error::NotDeclared { .. }
                | Error::Store(_)
        )
    }

    /// Who is at fault when the error is not transient.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::CorruptStatus { .. } => ErrorClass::Internal,
            Error::NotFound(_) | Error::Decode(_) | Error::Invalid(_) => ErrorClass::InvalidRequest,
            _ => ErrorClass::Internal,
        }
    }
}

impl From<&Error> for Outcome {
    /// The one rule: transient → retry, anything else → dead letter with the error's class.
    fn from(error: &Error) -> Self {
        if error.is_transient() {
            Outcome::Retry {
                reason: error.to_string(),
            }
        } else {
            Outcome::Reject {
                class: error.class(),
                reason: error.to_string(),
            }
        }
    }
}

impl From<Error> for Outcome {
    fn from(error: Error) -> Self {
        Outcome::from(&error)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_retried_and_bad_input_is_dead_lettered() {
        let outage = Error::nats("publish", std::io::Error::other("timed out"));
        assert!(matches!(Outcome::from(&outage), Outcome::Retry { .. }));
        let missing = Error::NotFound("uploads/j/000-a.png".into());
        assert_eq!(
            Outcome::from(&missing),
            Outcome::Reject {
                class: ErrorClass::InvalidRequest,
                reason: "the object uploads/j/000-a.png does not exist in the store".into()
            }
        );
        let invalid = Error::from(pdfmill_schemas::domain::JobId::parse("a/b").unwrap_err());
        assert!(matches!(
            Outcome::from(invalid),
            Outcome::Reject {
                class: ErrorClass::InvalidRequest,
                ..
            }
        ));
    }
}
