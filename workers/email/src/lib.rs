//! Email delivery for pdfmill: render a template, build the message, send it through SMTP
//! or into an outbox folder, and say whether a failure is worth a retry.
//!
//! [`run`] is the email worker: the NATS consumer that feeds
//! [`EmailRequest`](pdfmill_schemas::v1::EmailRequest)s through three steps, each a plain
//! function so that a test (or another program) can call them one at a time:
//!
//! ```no_run
//! use pdfmill_email::{Transport, build_message, parse_mailbox, render};
//! # async fn example(request: pdfmill_schemas::v1::EmailRequest) -> Result<(), pdfmill_email::EmailError> {
//! let from = parse_mailbox("pdfmill <noreply@pdfmill.example>")?;
//! let transport = Transport::from_url("smtp+starttls://mailer:secret@mail.example.com")?;
//!
//! let rendered = render(&request)?;                          // subject, text, HTML
//! let message = build_message(&from, &request, &rendered)?; // multipart/alternative
//! match transport.send(&message, &request.email_id).await {
//!     Ok(()) => { /* record in the ledger, publish email.sent.v1, ack */ }
//!     Err(error) if error.is_transient() => { /* nak with a delay */ }
//!     Err(error) => { /* dead-letter: `error` says why in words */ }
//! }
//! # Ok(()) }
//! ```
//!
//! Every failure of an email is an [`EmailError`], and [`EmailError::is_transient`] decides
//! between retrying and giving up; the worker's [`SendError`] adds the plumbing's errors,
//! classified by core's one rule. The `testing` feature adds
//! `testing::SmtpCapture`, an in-process SMTP server for tests.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod message;
pub mod templates;
pub mod transport;
mod worker;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::EmailError;
pub use message::{
    EMAIL_ID_HEADER, JOB_ID_HEADER, build_message, message_id, parse_mailbox, sanitise_email_id,
};
pub use templates::{RenderedEmail, render};
pub use transport::{Outbox, SmtpRelay, Transport};
pub use worker::{Mailer, SendError, run, worker};

/// lettre's types that appear in this crate's API.
pub use lettre::{Message, message::Mailbox};
