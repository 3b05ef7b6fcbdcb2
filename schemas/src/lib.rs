//! pdfmill's message contracts: the protobuf messages every service sends and receives, and
//! the names (subjects, streams, consumers, KV buckets, headers) they travel under.
//!
//! Services talk only through NATS JetStream, so these types *are* the interfaces between
//! them. Two rules keep them safe to change while old and new workers run side by side:
//!
//! - **Contracts are versioned by subject.** `image.convert.v1` carries
//!   [`v1::ConvertRequest`], and only that, for as long as the subject exists. Additive
//!   changes (a new field with a new number) stay in `v1`: old readers skip unknown fields.
//! - **A breaking change is a new package.** Renumbering, retyping or removing a field means a
//!   `pdfmill.v2` package, a `v2` module here and `.v2` subjects; both versions run until the
//!   old subject drains.
//!
//! The messages are generated from `proto/pdfmill/v1/*.proto` at build time (prost, with
//! protox instead of a system `protoc`). Each also implements serde with the proto3
//! canonical JSON mapping (pbjson), so a person can publish one by hand:
//!
//! ```
//! use pdfmill_schemas::{payload, v1::ConvertRequest};
//!
//! let json = br#"{"jobId": "j-1", "images": [{"key": "uploads/a.png"}], "notifyEmail": "me@example.com"}"#;
//! let request: ConvertRequest = payload::decode(Some("application/json"), json)?;
//! assert_eq!(request.images[0].key, "uploads/a.png");
//!
//! // Services publish protobuf, the default when there is no Content-Type header.
//! let bytes = payload::encode(&request);
//! assert_eq!(payload::decode::<ConvertRequest>(None, &bytes)?, request);
//! # Ok::<(), pdfmill_schemas::payload::DecodeError>(())
//! ```
//!
//! The job's own rules (its id and derived keys, page options, lifecycle, email catalogue)
//! are types in [`domain`], parsed once wherever a value enters the system.
//!
//! Names are constants here ([`subjects`], [`streams`], [`consumers`], [`buckets`],
//! [`headers`], [`content_types`]) and never string literals in services; the JSON files in
//! `nats/` define the same streams and consumers for the `nats` CLI.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod domain;
pub mod payload;

mod generated {
    #![allow(missing_docs, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/pdfmill.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/pdfmill.v1.serde.rs"));
}

/// Version 1 of the contracts (proto package `pdfmill.v1`).
///
/// Every message implements [`prost::Message`] (binary protobuf), [`prost::Name`] (its full
/// proto name) and serde's `Serialize`/`Deserialize` with the proto3 JSON mapping: field
/// names in lowerCamelCase (the proto names are accepted too), enums by name,
/// 64-bit integers as strings, Timestamps as RFC 3339 strings and Durations as `"1.5s"`.
/// Unknown JSON fields are rejected, so a misspelt field in a hand-written message is an
/// error rather than a silently missing value.
pub mod v1 {
    pub use crate::generated::*;
}

/// Well-known protobuf types used in the messages (`Timestamp`, `Duration`), with serde
/// impls that follow the proto3 JSON mapping. `Timestamp` converts from and to
/// `chrono::DateTime<Utc>`, `Duration` from and to `std::time::Duration`.
pub use pbjson_types as well_known;

/// NATS subjects. The version suffix is part of the contract: see the crate docs.
pub mod subjects {
    /// Requests to convert images into a PDF ([`crate::v1::ConvertRequest`]).
    pub const IMAGE_CONVERT: &str = "image.convert.v1";
    /// Requests to send an email ([`crate::v1::EmailRequest`]).
    pub const EMAIL_SEND: &str = "email.send.v1";
    /// A conversion finished or failed ([`crate::v1::ConversionResult`]).
    pub const IMAGE_CONVERTED: &str = "image.converted.v1";
    /// An email was sent or given up on ([`crate::v1::EmailResult`]).
    pub const EMAIL_SENT: &str = "email.sent.v1";
    /// Prefix of every dead-letter subject: a message that failed for good on subject `s`
    /// is republished, payload and headers intact, on `dlq.s`.
    pub const DEAD_LETTER_PREFIX: &str = "dlq.";
    /// Wildcard matching every dead-letter subject (the `DLQ` stream's subject).
    pub const DEAD_LETTERS: &str = "dlq.>";

    /// The dead-letter subject for a message that failed on `subject`.
    ///
    /// ```
    /// use pdfmill_schemas::subjects::{self, dead_letter_subject};
    /// assert_eq!(dead_letter_subject(subjects::IMAGE_CONVERT), "dlq.image.convert.v1");
    /// ```
    pub fn dead_letter_subject(subject: &str) -> String {
        format!("{DEAD_LETTER_PREFIX}{subject}")
    }

    /// The subject a dead letter was first published on, or `None` when `subject` is not a
    /// dead-letter subject. The inverse of [`dead_letter_subject`], for replays.
    ///
    /// ```
    /// use pdfmill_schemas::subjects::original_subject;
    /// assert_eq!(original_subject("dlq.email.send.v1"), Some("email.send.v1"));
    /// assert_eq!(original_subject("email.send.v1"), None);
    /// ```
    pub fn original_subject(subject: &str) -> Option<&str> {
        subject
            .strip_prefix(DEAD_LETTER_PREFIX)
            .filter(|rest| !rest.is_empty())
    }
}

/// JetStream stream names (see `nats/streams/*.json`).
pub mod streams {
    /// Work queue for [`crate::subjects::IMAGE_CONVERT`].
    pub const CONVERT: &str = "CONVERT";
    /// Work queue for [`crate::subjects::EMAIL_SEND`].
    pub const EMAIL: &str = "EMAIL";
    /// Events kept for days: [`crate::subjects::IMAGE_CONVERTED`] and
    /// [`crate::subjects::EMAIL_SENT`].
    pub const EVENTS: &str = "EVENTS";
    /// Dead letters kept for weeks: [`crate::subjects::DEAD_LETTERS`].
    pub const DLQ: &str = "DLQ";
}

/// Durable consumer names (see `nats/consumers/*.json`). Each is shared by every worker of
/// its kind, so JetStream spreads the messages across them.
pub mod consumers {
    /// The convert workers' pull consumer on [`crate::streams::CONVERT`].
    pub const CONVERT: &str = "convert";
    /// The email workers' pull consumer on [`crate::streams::EMAIL`].
    pub const EMAIL: &str = "email";
}

/// JetStream key-value bucket names (see `nats/kv/*.json`).
pub mod buckets {
    /// Job id → [`crate::v1::JobStatus`]: the source for status queries and live updates.
    pub const JOBS: &str = "jobs";
    /// Email id → delivery state: the ledger that keeps an email from being sent twice.
    pub const EMAIL_LEDGER: &str = "email_ledger";
}

/// NATS header names.
pub mod headers {
    /// JetStream's dedup id: a second message with the same id inside the stream's
    /// duplicate window is dropped by the server.
    pub const NATS_MSG_ID: &str = "Nats-Msg-Id";
    /// W3C trace context: the current trace and span.
    pub const TRACEPARENT: &str = "traceparent";
    /// W3C trace context: vendor-specific trace state.
    pub const TRACESTATE: &str = "tracestate";
    /// How the payload is encoded: one of [`crate::content_types`]; protobuf when absent.
    pub const CONTENT_TYPE: &str = "Content-Type";
    /// On a dead letter: the error class (e.g. `ERROR_CLASS_CORRUPT`).
    pub const ERROR_CLASS: &str = "Pdfmill-Error-Class";
    /// On a dead letter: the error, for a person.
    pub const ERROR_MESSAGE: &str = "Pdfmill-Error-Message";
    /// On a dead letter: the subject the message was first published on.
    pub const ORIGINAL_SUBJECT: &str = "Pdfmill-Original-Subject";
    /// On a dead letter: how many times JetStream had delivered the message.
    pub const DELIVERY_COUNT: &str = "Pdfmill-Delivery-Count";
}

/// Values of the [`headers::CONTENT_TYPE`] header.
pub mod content_types {
    /// Binary protobuf: what services publish, and the default.
    pub const PROTOBUF: &str = "application/protobuf";
    /// Proto3 canonical JSON: for people publishing by hand.
    pub const JSON: &str = "application/json";
}

/// The current time as a protobuf `Timestamp`, for the `*_at` fields.
pub fn timestamp_now() -> well_known::Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    well_known::Timestamp {
        seconds: since_epoch.as_secs() as i64,
        nanos: since_epoch.subsec_nanos() as i32,
    }
}
