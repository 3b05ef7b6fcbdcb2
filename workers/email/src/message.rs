//! Turning a rendered email into an RFC 5322 message.
//!
//! The message is `multipart/alternative` with the plain-text part first and the HTML part
//! last (RFC 2046 §5.1.4: the last part a client can show is the preferred one), so every
//! client shows something and the ones that can show HTML do.
//!
//! The `Message-ID` is derived from the request's `email_id` instead of being random. The
//! worker sends at most once per email id (a ledger), but "at most once" cannot cover a
//! crash between the relay's `250 OK` and the ledger write: the redelivered request is then
//! sent again. With the same Message-ID both times, a receiving server that deduplicates
//! drops the second copy, and a person (or support) can see that two emails are one. The
//! `X-Pdfmill-Email-Id` and `X-Pdfmill-Job-Id` headers carry the ids verbatim for the same
//! reason: an email in someone's inbox leads back to the job and its trace.

use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use pdfmill_schemas::v1::EmailRequest;

use crate::{EmailError, RenderedEmail};

/// Header that carries the request's `email_id`.
pub const EMAIL_ID_HEADER: &str = "X-Pdfmill-Email-Id";
/// Header that carries the request's `job_id`, when it has one.
pub const JOB_ID_HEADER: &str = "X-Pdfmill-Job-Id";

/// Builds the message for a request from its rendered template: `From` is `from`, `To` the
/// request's address, `Message-ID` [`message_id`] of the email id.
///
/// Fails with [`EmailError::InvalidAddress`] when `to` is not an address and with
/// [`EmailError::InvalidRequest`] when an id is empty or holds control characters; both are
/// permanent.
pub fn build_message(
    from: &Mailbox,
    request: &EmailRequest,
    rendered: &RenderedEmail,
) -> Result<Message, EmailError> {
    let to = parse_mailbox(&request.to)?;
    let message_id = message_id(&request.email_id)?;
    check_header_value("job_id", &request.job_id)?;

    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(rendered.subject.as_str())
        .message_id(Some(message_id))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(EMAIL_ID_HEADER),
            request.email_id.clone(),
        ));
    if !request.job_id.is_empty() {
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(JOB_ID_HEADER),
            request.job_id.clone(),
        ));
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            rendered.text.clone(),
            rendered.html.clone(),
        ))
        .map_err(EmailError::Build)
}

/// Parses an address such as `ada@example.com` or `Ada Lovelace <ada@example.com>`.
///
/// Fails with the permanent [`EmailError::InvalidAddress`].
pub fn parse_mailbox(address: &str) -> Result<Mailbox, EmailError> {
    address
        .trim()
        .parse()
        .map_err(
            |error: lettre::address::AddressError| EmailError::InvalidAddress {
                address: address.to_owned(),
                reason: if address.trim().is_empty() {
                    "the address is empty".to_owned()
                } else {
                    error.to_string()
                },
            },
        )
}

/// The `Message-ID` of the email with this id: `<{id}@pdfmill>`, the id made safe with
/// [`sanitise_email_id`]. The same id always gives the same Message-ID.
///
/// ```
/// assert_eq!(
///     pdfmill_email::message_id("job-7:conversion_completed")?,
///     "<job-7%3Aconversion_completed@pdfmill>",
/// );
/// # Ok::<(), pdfmill_email::EmailError>(())
/// ```
pub fn message_id(email_id: &str) -> Result<String, EmailError> {
    Ok(format!("<{}@pdfmill>", sanitise_email_id(email_id)?))
}

/// An email id made safe for a Message-ID's left part and for a file name: ASCII letters,
/// digits, `-` and `_` stay, every other byte becomes `%XX`. The mapping is one to one, so
/// two different ids never share a Message-ID or an outbox file.
///
/// Fails with [`EmailError::InvalidRequest`] for an empty id, an id with control characters
/// and an id longer than 200 bytes once made safe (file names stop at 255).
pub fn sanitise_email_id(email_id: &str) -> Result<String, EmailError> {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_');
    if email_id.is_empty() {
        return Err(EmailError::InvalidRequest(
            "the email_id is empty".to_owned(),
        ));
    }
    check_header_value("email_id", email_id)?;
    let safe = percent_encoding::utf8_percent_encode(email_id, KEEP).to_string();
    if safe.len() > 200 {
        return Err(EmailError::InvalidRequest(format!(
            "the email_id is too long ({} bytes once made safe for a file name; at most 200)",
            safe.len()
        )));
    }
    Ok(safe)
}

fn check_header_value(field: &str, value: &str) -> Result<(), EmailError> {
    if value.chars().any(char::is_control) {
        return Err(EmailError::InvalidRequest(format!(
            "the {field} `{}` contains control characters",
            value.escape_debug()
        )));
    }
    Ok(())
}
