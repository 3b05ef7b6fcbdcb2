//! A job's id and everything derived from it: object keys, dedup ids, email ids, URL paths.
//!
//! A job id ends up as a KV key, part of object keys, a `Nats-Msg-Id` and a URL path segment,
//! so it keeps to the alphabet all four accept. Every derived name is a method here, so the
//! writer of a key and its reader cannot disagree on its shape.

use std::fmt;

use super::{Invalid, Template};

/// Where idempotency keys become job ids (UUIDv5 of the caller and the key).
const JOB_ID_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x7d3c_1f0e_55a4_4c1b_9f6e_2b8a_0c4d_e1a1);
/// Where idempotency keys become email ids.
const EMAIL_ID_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x2f4e_8c1a_6b3d_4e7f_a0c9_5d1e_3b7a_9c2f);

/// The longest job id.
const MAX_JOB_ID: usize = 128;
/// The longest file name kept in an upload's key.
const MAX_FILE_NAME: usize = 100;

/// A job's id: 1–128 characters of `A–Z a–z 0–9 - _ .`, not starting with a dot.
///
/// ```
/// use pdfmill_schemas::domain::JobId;
///
/// let job = JobId::parse("invoice-42")?;
/// assert_eq!(job.pdf_key(), "pdfs/invoice-42.pdf");
/// assert_eq!(job.upload_key(0, "../scan 1.png"), "uploads/invoice-42/000-_scan_1.png");
/// assert!(JobId::parse("a/b").is_err());
/// # Ok::<(), pdfmill_schemas::domain::Invalid>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(String);

impl JobId {
    /// Checks `text` against the job id rule.
    pub fn parse(text: &str) -> Result<JobId, Invalid> {
        let safe = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
        if text.is_empty()
            || text.len() > MAX_JOB_ID
            || text.starts_with('.')
            || !text.chars().all(safe)
        {
            return Err(Invalid::new(
                "job id",
                format!(
                    "`{}` must be 1–{MAX_JOB_ID} characters of A–Z, a–z, 0–9, '-', '_' and '.', not starting with '.'",
                    text.escape_debug()
                ),
            ));
        }
        Ok(JobId(text.to_string()))
    }

    /// A new job id: a UUIDv7, so ids sort by submission time.
    pub fn new() -> JobId {
        JobId(uuid::Uuid::now_v7().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where image `index` (0-based, page order) of the job is stored. The client's file name
    /// is kept for people reading the store, reduced to a safe alphabet.
    pub fn upload_key(&self, index: usize, file_name: &str) -> String {
        format!(
            "uploads/{}/{index:03}-{}",
            self.0,
            safe_file_name(file_name)
        )
    }

    /// Where the job's PDF is stored. Derived, so a redelivery overwrites the same object.
    pub fn pdf_key(&self) -> String {
        format!("pdfs/{}.pdf", self.0)
    }

    /// The dedup id of the job's success event on `image.converted.v1`.
    pub fn converted_event_id(&self) -> String {
        format!("{}:converted", self.0)
    }

    /// The dedup id of the job's failure event on `image.converted.v1`.
    pub fn failed_event_id(&self) -> String {
        format!("{}:failed", self.0)
    }

    /// The id (and dedup id) of the job's email made from `template`: one of each per job.
    pub fn email_id(&self, template: Template) -> String {
        format!("{}:{}", self.0, template.name())
    }

    /// The HTTP path of the job's status, relative to the ingress's base URL.
    pub fn status_path(&self) -> String {
        format!("/v1/conversions/{}", self.0)
    }

    /// The HTTP path that downloads the job's PDF, relative to the ingress's base URL.
    pub fn pdf_path(&self) -> String {
        format!("/v1/conversions/{}/pdf", self.0)
    }
}

impl Default for JobId {
    fn default() -> Self {
        JobId::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for JobId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for JobId {
    type Err = Invalid;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        JobId::parse(text)
    }
}

/// The dedup id of the event that says email `email_id` was sent (`sent`) or given up on.
pub fn email_event_id(email_id: &str, sent: bool) -> String {
    format!("{email_id}:{}", if sent { "sent" } else { "failed" })
}

/// A file name reduced to `A–Z a–z 0–9 . - _` (others become `_`), at most 100 characters,
/// no leading dots; `image` when nothing is left.
fn safe_file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .take(MAX_FILE_NAME)
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match safe.trim_start_matches('.') {
        "" => "image".to_string(),
        rest => rest.to_string(),
    }
}

/// A client's `Idempotency-Key`: 1–255 visible ASCII characters or spaces, trimmed. The same
/// key from the same caller always names the same job (or email), so a retried request finds
/// the first one instead of making a second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Checks a header value against the rule.
    pub fn parse(text: &str) -> Result<IdempotencyKey, Invalid> {
        let key = text.trim();
        if key.is_empty()
            || key.len() > 255
            || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(Invalid::new(
                "Idempotency-Key",
                "must be 1–255 visible ASCII characters",
            ));
        }
        Ok(IdempotencyKey(key.to_string()))
    }

    /// The job this key names for `caller` (the API key the request came with, or empty).
    pub fn job_id(&self, caller: &str) -> JobId {
        JobId(uuid::Uuid::new_v5(&JOB_ID_NAMESPACE, self.scoped(caller).as_bytes()).to_string())
    }

    /// The email this key names for `caller`.
    pub fn email_id(&self, caller: &str) -> String {
        let id = uuid::Uuid::new_v5(&EMAIL_ID_NAMESPACE, self.scoped(caller).as_bytes());
        format!("email-{id}")
    }

    fn scoped(&self, caller: &str) -> String {
        format!("{caller}\n{}", self.0)
    }
}

/// A new email id for a request that came without an idempotency key.
pub fn new_email_id() -> String {
    format!("email-{}", uuid::Uuid::now_v7())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_keep_to_the_key_alphabet() {
        for good in ["a", "0197-abc_def.1", &"x".repeat(128)] {
            assert!(JobId::parse(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "a b", "a*", "ä", &"x".repeat(129)] {
            assert!(JobId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_names_in_keys_are_made_safe() {
        let job = JobId::parse("j").unwrap();
        assert_eq!(job.upload_key(2, "..."), "uploads/j/002-image");
        assert_eq!(job.upload_key(12, "a b/c.png"), "uploads/j/012-a_b_c.png");
        assert_eq!(
            job.upload_key(0, &"n".repeat(300)).len(),
            "uploads/j/000-".len() + 100
        );
    }

    #[test]
    fn idempotency_keys_name_one_job_per_caller() {
        let key = IdempotencyKey::parse(" invoice 42 ").unwrap();
        assert_eq!(
            key.job_id("a"),
            IdempotencyKey::parse("invoice 42").unwrap().job_id("a")
        );
        assert_ne!(key.job_id("a"), key.job_id("b"));
        assert!(key.email_id("a").starts_with("email-"));
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("tab\there").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    }
}
