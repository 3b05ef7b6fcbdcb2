//! `POST /v1/emails`: the old email service's one endpoint, now a publish to `email.send.v1`.
//! The request is checked here with the rules the email worker applies (address parser,
//! required variables, http(s) links), so a client hears about a mistake as a 422 instead of
//! the email silently landing in the dead-letter queue.

use std::collections::BTreeMap;

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    http::{HeaderMap, StatusCode},
};
use pdfmill_schemas::{subjects, v1::EmailRequest};
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

/// The templates a client may send.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Template {
    /// Greets a new address.
    Welcome,
    /// A free-form notice.
    Notification,
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
    let (template, required, link) = match body.template {
        Template::Welcome => ("welcome", &[][..], "app_url"),
        Template::Notification => ("notification", &["title", "message"][..], "action_url"),
    };
    let present = |name: &str| {
        body.variables
            .get(name)
            .is_some_and(|v| !v.trim().is_empty())
    };
    if let Some(missing) = required.iter().find(|name| !present(name)) {
        return Err(ApiError::InvalidRequest(format!(
            "the {template} template needs the variable `{missing}`"
        )));
    }
    if let Some(url) = body.variables.get(link).filter(|v| !v.trim().is_empty()) {
        let url = url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ApiError::InvalidRequest(format!(
                "`{link}` must be an http or https URL"
            )));
        }
    }
    let email_id = match headers.get(conversions::IDEMPOTENCY_KEY) {
        Some(key) => {
            let key = key.to_str().unwrap_or_default().trim();
            if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ApiError::InvalidRequest(
                    "Idempotency-Key must be 1–255 visible ASCII characters".to_string(),
                ));
            }
            let scoped = format!("{}\n{key}", auth::caller(&headers));
            format!(
                "email-{}",
                uuid::Uuid::new_v5(&EMAIL_ID_NAMESPACE, scoped.as_bytes())
            )
        }
        None => format!("email-{}", uuid::Uuid::now_v7()),
    };
    conversions::require_nats(&state)?;
    let request = EmailRequest {
        email_id: email_id.clone(),
        to: body.to.trim().to_string(),
        template: template.to_string(),
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

/// Where idempotency keys are hashed into email ids.
const EMAIL_ID_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x2f4e_8c1a_6b3d_4e7f_a0c9_5d1e_3b7a_9c2f);
