//! `POST /v1/emails`: the old email service's one endpoint, now a publish to `email.send.v1`.
//! The request is checked here with the rules the email worker applies (the address parser,
//! and the template catalogue's variables and links from `pdfmill_schemas::domain`), so a client hears about a mistake as a 422 instead of
//! the email silently landing in the dead-letter queue.

use std::collections::BTreeMap;

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    http::{HeaderMap, StatusCode},
};
use pdfmill_schemas::{
    domain::{self, IdempotencyKey},
    subjects,
    v1::EmailRequest,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{ApiError, Ingress, auth, conversions, error::ErrorBody, upload};

/// An email to send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendEmail {
    /// The recipient, e.g. `ada@example.com` or `Ada <ada@example.com>`.
    pub to: String,
    /// `welcome` (optional variables `name`, `app_url`) or `notification` (needs `title` and
    /// `message`; optional `action_url`, `action_label`).
    pub template: Template,
    /// Values the template refers to.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// The templates a client may send (those of the catalogue marked `for_clients`).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Template {
    /// Greets a new address.
    Welcome,
    /// A free-form notice.
    Notification,
}

impl Template {
    fn into_catalogue(self) -> domain::Template {
        match self {
            Template::Welcome => domain::Template::Welcome,
            Template::Notification => domain::Template::Notification,
        }
    }
}

/// An accepted email.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EmailAccepted {
    /// The email id (its idempotency key; the Message-ID is derived from it).
    pub id: String,
    /// Always `queued`: the email worker sends it.
    pub state: String,
}

/// Send a templated email.
///
/// With an `Idempotency-Key` header the email id is derived from it, so a retried request is
/// sent at most once.
#[utoipa::path(
    post,
    path = "/v1/emails",
    tag = "emails",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry send nothing more")),
    request_body = SendEmail,
    responses(
        (status = 202, description = "Queued for sending", body = EmailAccepted),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Bad address, template or variables", body = ErrorBody),
        (status = 503, description = "NATS is unavailable; nothing was queued", body = ErrorBody),
    ),
    security((), ("api_key" = [])),
)]
pub(crate) async fn send(
    State(state): State<Ingress>,
    headers: HeaderMap,
    body: Result<Json<SendEmail>, JsonRejection>,
) -> Result<(StatusCode, Json<EmailAccepted>), ApiError> {
    let Json(body) = body.map_err(|rejection| match rejection {
        JsonRejection::MissingJsonContentType(e) => ApiError::UnsupportedMediaType(e.body_text()),
        other => ApiError::InvalidRequest(other.body_text()),
    })?;
    upload::check_address(body.to.trim())?;
    let template = body.template.into_catalogue();
    template.check(&body.variables)?;
    let email_id = match headers.get(conversions::IDEMPOTENCY_KEY) {
        Some(key) => IdempotencyKey::parse(key.to_str().unwrap_or_default())?
            .email_id(&auth::caller(&headers)),
        None => domain::new_email_id(),
    };
    conversions::require_nats(&state)?;
    let request = EmailRequest {
        email_id: email_id.clone(),
        to: body.to.trim().to_string(),
        template: template.name().to_string(),
        variables: body.variables.into_iter().collect(),
        job_id: String::new(),
        requested_at: Some(pdfmill_schemas::timestamp_now()),
    };
    state
        .ctx()
        .publisher
        .publish(subjects::EMAIL_SEND, &email_id, &request)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(EmailAccepted {
            id: email_id,
            state: "queued".to_string(),
        }),
    ))
}
