//! The one error type of this crate, grouped by what the caller should do about it.
//!
//! The email worker's consumer loop has two choices for a failed message: retry it later
//! (nak with a growing delay) or give up on it (dead-letter and terminate). That choice is
//! [`EmailError::is_transient`]. The rule is "would the same request succeed later, with
//! nothing changed but time?": a relay that is down, slow or says 4xx ("try again") — yes; a
//! relay that says 5xx, an address that does not parse, a template that does not exist — no,
//! retrying only delays the dead letter.

use std::path::PathBuf;

/// Everything that can go wrong while rendering, building or sending an email.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// The request names a template that does not exist, or lacks (or has a bad value of) a
    /// variable its template needs: the catalogue's rule, `pdfmill_schemas::domain::Template`.
    #[error("{}", .0.reason)]
    Template(#[from] pdfmill_schemas::domain::Invalid),

    /// The template engine failed. The templates ship in the binary, so this is a bug in a
    /// template, and the same request fails the same way every time.
    #[error("email template `{template}` failed to render: {source}")]
    Render {
        /// The template being rendered.
        template: String,
        /// The engine's error, with the template line.
        #[source]
        source: minijinja::Error,
    },

    /// The request itself is malformed (an empty email id, control characters in an id).
    #[error("invalid email request: {0}")]
    InvalidRequest(String),

    /// The recipient (or sender) address does not parse as an email address.
    #[error("invalid email address `{address}`: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// Why it was refused.
        reason: String,
    },

    /// lettre refused to assemble the message.
    #[error("could not build the email message: {0}")]
    Build(#[source] lettre::error::Error),

    /// The transport URL is not one this crate understands. The password, if any, is not
    /// part of the message.
    #[error("invalid email transport URL `{url}`: {reason}")]
    InvalidTransportUrl {
        /// The URL with its password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The SMTP exchange failed: the relay answered with an error, or could not be reached.
    #[error("{}", describe_smtp(.0))]
    Smtp(#[source] lettre::transport::smtp::Error),

    /// The outbox folder could not be written.
    #[error("could not write the email to the outbox at {}: {source}", path.display())]
    Outbox {
        /// The file or folder that failed.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl EmailError {
    /// True when the same request may succeed later: retry it with a backoff. False when it
    /// never will: dead-letter it.
    ///
    /// | transient | permanent |
    /// |---|---|
    /// | SMTP 4xx replies | SMTP 5xx replies |
    /// | connection refused, reset, timed out; TLS and network errors; unreadable replies | unknown template, missing or invalid variable, template bug |
    /// | outbox I/O errors (disk full, permissions fixed later) | invalid address, malformed request, invalid transport URL |
    ///
    /// A 5xx on authentication (535, wrong password) is permanent by this rule although it is
    /// the relay's configuration and not the email that is wrong: every email then goes to the
    /// dead-letter stream, from which `pdfmill dlq replay` sends them again once it is fixed.
    pub fn is_transient(&self) -> bool {
        match self {
            EmailError::Smtp(error) => !error.is_permanent(),
            EmailError::Outbox { .. } => true,
            EmailError::Template(_)
            | EmailError::Render { .. }
            | EmailError::InvalidRequest(_)
            | EmailError::InvalidAddress { .. }
            | EmailError::Build(_)
            | EmailError::InvalidTransportUrl { .. } => false,
        }
    }

    /// The SMTP reply code, when the relay answered with an error (`451`, `550`, …).
    pub fn smtp_code(&self) -> Option<u16> {
        match self {
            EmailError::Smtp(error) => error.status().map(code_number),
            _ => None,
        }
    }
}

fn code_number(code: lettre::transport::smtp::response::Code) -> u16 {
    code.to_string().parse().unwrap_or(0)
}

fn describe_smtp(error: &lettre::transport::smtp::Error) -> String {
    let what = if error.is_permanent() {
        "the SMTP relay refused the email for good"
    } else if error.is_transient() {
        "the SMTP relay asked to try again later"
    } else if error.is_timeout() {
        "the SMTP relay did not answer in time"
    } else {
        "could not talk to the SMTP relay"
    };
    // lettre's own text already ends with its cause ("Connection error: Connection refused").
    format!("{what}: {error}")
}
