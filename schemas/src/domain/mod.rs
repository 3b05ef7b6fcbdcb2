//! The job's vocabulary, parsed once: what a job is called, what its pages look like, which
//! states it moves through, which emails it sends, and every key and id derived from it.
//!
//! These rules used to be strings checked again wherever they were met (the HTTP ingress, the
//! CLI, the convert worker, the email worker), and the copies drifted apart. Here each rule is
//! written once, as a type with a `parse` (the pattern of zero2prod's `SubscriberEmail`): a
//! value of the type has passed the rule, so code that holds one never checks it again. This
//! module lives in the contracts crate because every service already depends on it and it
//! depends on nothing of ours.
//!
//! - [`JobId`]: the job's name, and every key and dedup id derived from it;
//! - [`IdempotencyKey`]: a client's retry token, and the ids it maps to;
//! - [`PageOptions`]: page size, fit, margin, resolution and title, from the strings people
//!   type (`a4`, `210x297mm`, `10mm`, `contain`) or from a queued request;
//! - [`Template`]: the email catalogue with each template's variables;
//! - the lifecycle rules on [`JobState`](crate::v1::JobState) (names, finality, transitions).

mod ids;
mod page;
mod state;
mod template;

pub use ids::{IdempotencyKey, JobId, email_event_id, new_email_id};
pub use page::{Fit, Length, PageOptions, PageOptionsText, PageSize};
pub use template::Template;

/// A value that breaks one of the job's rules, with the reason in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// What was invalid: a field, option or header name (`page_size`, `job id`, …).
    pub field: &'static str,
    /// Why, and what would be valid.
    pub reason: String,
}

impl Invalid {
    /// An invalid `field`, and why.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Invalid {
            field,
            reason: reason.into(),
        }
    }
}
