//! The one error type of the converter.
//!
//! Callers act on *who is at fault*, so the variants are grouped that way (as image-png's
//! `DecodingError` is): the input is broken ([`Error::Corrupt`]), it is valid but uses something
//! we do not convert ([`Error::Unsupported`]), it breaks a configured limit ([`Error::TooLarge`]),
//! or writing the output failed ([`Error::Io`]). Only the last one is worth retrying.

use std::fmt;

/// An image format the converter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Portable Network Graphics (ISO/IEC 15948).
    Png,
    /// JPEG (ITU-T T.81) in a JFIF or Exif container.
    Jpeg,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
        })
    }
}

/// Which configured limit an input broke; see [`crate::Limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`crate::Limits::max_pixels`]
    Pixels,
    /// [`crate::Limits::max_input_bytes`]
    InputBytes,
    /// [`crate::Limits::max_pages`]
    Pages,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::Pixels => "pixels",
            Limit::InputBytes => "bytes",
            Limit::Pages => "pages",
        })
    }
}

/// Why an image could not be converted. The `Display` text is meant for people.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a well-formed image: bad signature, checksum, structure or data.
    #[error("the {format} image is corrupt: {reason}")]
    Corrupt {
        /// The format the bytes claim to be.
        format: Format,
        /// What is wrong, in words.
        reason: String,
    },
    /// A valid input that uses something the converter does not handle.
    #[error("unsupported input: {0}")]
    Unsupported(String),
    /// The input is larger than a configured limit allows.
    #[error("the input is too large: {actual} {limit} where at most {max} are allowed")]
    TooLarge {
        /// The limit that was broken.
        limit: Limit,
        /// The input's value.
        actual: u64,
        /// The configured maximum.
        max: u64,
    },
    /// Writing the PDF failed.
    #[error("could not write the PDF: {0}")]
    Io(#[from] std::io::Error),
}

/// The kind of an [`Error`], for callers that map errors to outcomes (HTTP status, ack policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// See [`Error::Corrupt`].
    Corrupt,
    /// See [`Error::Unsupported`].
    Unsupported,
    /// See [`Error::TooLarge`].
    TooLarge,
    /// See [`Error::Io`].
    Io,
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Corrupt { .. } => ErrorKind::Corrupt,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::Io(_) => ErrorKind::Io,
        }
    }

    pub(crate) fn png(reason: impl Into<String>) -> Self {
        Error::Corrupt {
            format: Format::Png,
            reason: reason.into(),
        }
    }

    pub(crate) fn jpeg(reason: impl Into<String>) -> Self {
        Error::Corrupt {
            format: Format::Jpeg,
            reason: reason.into(),
        }
    }

    pub(crate) fn check_limit(limit: Limit, actual: u64, max: u64) -> Result<(), Self> {
        if actual > max {
            Err(Error::TooLarge { limit, actual, max })
        } else {
            Ok(())
        }
    }
}
