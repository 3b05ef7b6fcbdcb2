//! The one place that decides what an HTTP client sees when something goes wrong: every
//! handler returns [`ApiError`], and [`ApiError::status`] maps it to a status code. The body
//! is always `{"error": {"code", "message"}}`, so a client branches on `code` and shows
//! `message` to a person.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is over [`crate::UploadLimits::max_upload_bytes`].
    #[error("the upload is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// More images than [`crate::UploadLimits::max_images`].
    #[error("{count} images are more than the limit of {limit} per job")]
    TooManyImages {
        /// Images in the request.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A part is not a PNG or JPEG file (judged from its bytes), or the body is not an image
    /// or a multipart form at all.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// An email address that cannot receive mail.
    #[error("`{address}` is not an email address: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// Why it is not one.
        reason: String,
    },
    /// A page option, form field or JSON value that is not valid.
    #[error("{0}")]
    InvalidRequest(String),
    /// The `Idempotency-Key` names a job that was asked for with other images, another address
    /// or other page options.
    #[error(
        "this Idempotency-Key was already used for a different request (other images, address \
         or page options); send a new key with a new request"
    )]
    IdempotencyKeyReused,
    /// No job has this id.
    #[error("no conversion `{0}`")]
    JobNotFound(String),
    /// The job has no PDF (yet, or ever).
    #[error("conversion `{0}` has no PDF yet; wait for state `converted`")]
    PdfNotReady(String),
    /// No route here.
    #[error("no such route; /docs lists them")]
    RouteNotFound,
    /// The mailbox has no such message.
    #[error("no email `{0}` in the outbox")]
    EmailNotFound(String),
    /// A missing or unknown API key.
    #[error("a valid API key is required: send `Authorization: Bearer <key>`")]
    Unauthorized,
    /// NATS or the store cannot be reached; nothing was recorded, try again.
    #[error("the service is unavailable: {0}")]
    Unavailable(String),
    /// A fault of ours.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::TooLarge { .. } | ApiError::TooManyImages { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::InvalidAddress { .. }
            | ApiError::InvalidRequest(_)
            | ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::JobNotFound(_) | ApiError::RouteNotFound | ApiError::EmailNotFound(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::PdfNotReady(_) => StatusCode::CONFLICT,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code in the body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::TooLarge { .. } => "too_large",
            ApiError::TooManyImages { .. } => "too_many_images",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::InvalidAddress { .. } => "invalid_address",
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::JobNotFound(_) => "not_found",
            ApiError::PdfNotReady(_) => "not_ready",
            ApiError::RouteNotFound => "route_not_found",
            ApiError::EmailNotFound(_) => "not_found",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

/// A value that breaks one of the job's rules: the client's to fix.
impl From<pdfmill_schemas::domain::Invalid> for ApiError {
    fn from(invalid: pdfmill_schemas::domain::Invalid) -> Self {
        ApiError::InvalidRequest(invalid.to_string())
    }
}

/// Plumbing errors: an outage is a 503 (try again), a broken rule the client's, anything else
/// is ours.
impl From<pdfmill_core::Error> for ApiError {
    fn from(error: pdfmill_core::Error) -> Self {
        if let pdfmill_core::Error::Invalid(invalid) = error {
            ApiError::from(invalid)
        } else if error.is_transient() {
            ApiError::Unavailable(error.to_string())
        } else {
            ApiError::Internal(error.to_string())
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable code: `too_large`, `too_many_images`, `unsupported_media_type`,
    /// `invalid_address`, `invalid_request`, `idempotency_key_reused`, `not_found`, `not_ready`,
    /// `route_not_found`, `unauthorized`, `unavailable`, `internal`.
    pub code: String,
    /// For a person.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.to_string(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(self, ApiError::Unavailable(_)) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}
