//! Encoding and decoding message payloads.
//!
//! Services publish binary protobuf. A person publishing by hand with the `nats` CLI writes
//! JSON instead and says so with a `Content-Type: application/json` header; the payload is
//! then read as the proto3 canonical JSON of the same message. So the header, not the bytes,
//! decides the encoding: protobuf when the header is absent, JSON only when it says JSON,
//! and an error for anything else.
//!
//! Decoding errors are meant to be read by the person who published the message (they end
//! up in the dead-letter headers), so they name the message type, the encoding, and what
//! was wrong.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::content_types;

/// A message that can travel as a payload: binary protobuf and proto3 JSON.
///
/// Every message in [`crate::v1`] implements it.
pub trait Payload: prost::Message + prost::Name + Default + Serialize + DeserializeOwned {}

impl<M> Payload for M where M: prost::Message + prost::Name + Default + Serialize + DeserializeOwned {}

/// How a payload is encoded, as told by its `Content-Type` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Binary protobuf ([`content_types::PROTOBUF`]).
    Protobuf,
    /// Proto3 canonical JSON ([`content_types::JSON`]).
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` header value names.
    ///
    /// No header, or an empty one, means protobuf. Media type parameters (`; charset=utf-8`)
    /// and letter case are ignored; `application/x-protobuf` is accepted as protobuf.
    ///
    /// # Errors
    ///
    /// [`DecodeError::UnsupportedContentType`] for any other media type.
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self, DecodeError> {
        let Some(value) = content_type else {
            return Ok(Self::Protobuf);
        };
        let media_type = value.split(';').next().unwrap_or_default().trim();
        if media_type.is_empty()
            || media_type.eq_ignore_ascii_case(content_types::PROTOBUF)
            || media_type.eq_ignore_ascii_case("application/x-protobuf")
        {
            Ok(Self::Protobuf)
        } else if media_type.eq_ignore_ascii_case(content_types::JSON) {
            Ok(Self::Json)
        } else {
            Err(DecodeError::UnsupportedContentType {
                content_type: value.to_owned(),
            })
        }
    }

    /// The `Content-Type` header value for this encoding.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => content_types::PROTOBUF,
            Self::Json => content_types::JSON,
        }
    }
}

/// Encodes `message` as binary protobuf, the encoding services publish
/// (`Content-Type: application/protobuf`).
pub fn encode<M: prost::Message>(message: &M) -> Vec<u8> {
    message.encode_to_vec()
}

/// Encodes `message` as proto3 canonical JSON (`Content-Type: application/json`).
///
/// # Errors
///
/// [`EncodeError`] when the message has a value JSON cannot express: a Timestamp outside
/// years 1–9999, a Duration whose seconds and nanos disagree in sign, or an enum number that
/// names no value.
pub fn encode_json<M: Serialize>(message: &M) -> Result<Vec<u8>, EncodeError> {
    serde_json::to_vec(message).map_err(|source| EncodeError { source })
}

/// Decodes a payload published with the given `Content-Type` header value.
///
/// Protobuf when `content_type` is `None` (or protobuf), canonical JSON when it is
/// `application/json`. See [`Encoding::from_content_type`].
///
/// # Errors
///
/// [`DecodeError`] when the content type is unknown or the bytes are not a valid `M` in
/// that encoding. Every such error is permanent: redelivering the same bytes cannot help.
pub fn decode<M: Payload>(content_type: Option<&str>, bytes: &[u8]) -> Result<M, DecodeError> {
    match Encoding::from_content_type(content_type)? {
        Encoding::Protobuf => M::decode(bytes).map_err(|error| DecodeError::Protobuf {
            message_type: M::full_name(),
            reason: error.to_string(),
            hint: if looks_like_json(bytes) {
                " (the payload looks like JSON: publish it with the header \
                 `Content-Type: application/json`)"
            } else {
                ""
            },
        }),
        Encoding::Json => serde_json::from_slice(bytes).map_err(|error| DecodeError::Json {
            message_type: M::full_name(),
            reason: error.to_string(),
        }),
    }
}

/// Whether `bytes` starts like a JSON object, which protobuf bytes of our messages rarely do
/// and a hand-published message without a `Content-Type` header always does.
fn looks_like_json(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().first() == Some(&b'{')
}

/// A payload that could not be decoded. Redelivery cannot fix it: it is a permanent failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The `Content-Type` header names an encoding we do not read.
    #[error(
        "unsupported Content-Type {content_type:?}: use `application/protobuf` (or no header) \
         or `application/json`"
    )]
    UnsupportedContentType {
        /// The header value as received.
        content_type: String,
    },
    /// The bytes are not a valid protobuf encoding of the expected message.
    #[error("payload is not a valid protobuf {message_type}: {reason}{hint}")]
    Protobuf {
        /// The full proto name of the expected message, e.g. `pdfmill.v1.ConvertRequest`.
        message_type: String,
        /// What the protobuf decoder found wrong.
        reason: String,
        /// Advice for the publisher, or empty.
        hint: &'static str,
    },
    /// The bytes are not valid proto3 JSON for the expected message.
    #[error("payload is not valid JSON for {message_type}: {reason}")]
    Json {
        /// The full proto name of the expected message, e.g. `pdfmill.v1.ConvertRequest`.
        message_type: String,
        /// What the JSON parser found wrong, with the line and column.
        reason: String,
    },
}

/// A message that could not be written as proto3 JSON.
#[derive(Debug, thiserror::Error)]
#[error("message cannot be written as proto3 JSON: {source}")]
pub struct EncodeError {
    source: serde_json::Error,
}
