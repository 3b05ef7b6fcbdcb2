//! Optional API keys. With none configured every request passes; with some, each API request
//! must carry one as `Authorization: Bearer <key>`. A browser's `EventSource` and a plain
//! link cannot set headers, so a `GET` may carry the key as `?access_token=<key>` instead.

use axum::{
    extract::{Request, State},
    http::{Method, header},
    middleware::Next,
    response::Response,
};

use crate::{ApiError, Ingress};

/// Refuses requests without a configured key.
pub(crate) async fn require_api_key(
    State(state): State<Ingress>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let keys = &state.settings().api_keys;
    if keys.is_empty() {
        return Ok(next.run(request).await);
    }
    let presented = bearer(&request).or_else(|| {
        (request.method() == Method::GET)
            .then(|| query_token(&request))
            .flatten()
    });
    match presented {
        Some(token) if keys.iter().any(|key| same(key.expose(), &token)) => {
            Ok(next.run(request).await)
        }
        _ => Err(ApiError::Unauthorized),
    }
}

fn bearer(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

fn query_token(request: &Request) -> Option<String> {
    url::form_urlencoded::parse(request.uri().query()?.as_bytes())
        .find(|(name, _)| name == "access_token")
        .map(|(_, value)| value.into_owned())
}

/// Compares without stopping at the first difference, so the time taken does not tell an
/// attacker how much of a guess was right.
fn same(key: &str, presented: &str) -> bool {
    key.len() == presented.len()
        && key
            .bytes()
            .zip(presented.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The key a request was authenticated with, to scope idempotency keys per caller.
pub(crate) fn caller(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' ').map(|(_, t)| t.trim().to_string()))
        .unwrap_or_default()
}
