//! Liveness and readiness, for orchestrators and `pdfmill up`. `/healthz` says only that the
//! process answers (restart it when it does not); `/readyz` says whether it can do its work
//! (send traffic elsewhere when it cannot): NATS connected and the streams and the `jobs`
//! bucket present.

use std::time::Duration;

use axum::{Json, extract::State};
use pdfmill_schemas::streams;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{ApiError, Ingress, error::ErrorBody};

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok` or `ready`.
    pub status: String,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Up", body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_string(),
    })
}

/// NATS is connected and the streams are there.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready, and why", body = ErrorBody),
    ))]
pub(crate) async fn readyz(State(state): State<Ingress>) -> Result<Json<Health>, ApiError> {
    crate::conversions::require_nats(&state)?;
    let js = &state.ctx().js;
    let check = async {
        for name in [
            streams::CONVERT,
            streams::EMAIL,
            streams::EVENTS,
            streams::DLQ,
        ] {
            js.get_stream(name)
                .await
                .map_err(|e| ApiError::Unavailable(format!("stream {name}: {e}")))?;
        }
        js.get_key_value(pdfmill_schemas::buckets::JOBS)
            .await
            .map_err(|e| ApiError::Unavailable(format!("the jobs bucket: {e}")))?;
        Ok::<_, ApiError>(())
    };
    tokio::time::timeout(Duration::from_secs(3), check)
        .await
        .map_err(|_| ApiError::Unavailable("NATS did not answer within 3 s".to_string()))??;
    Ok(Json(Health {
        status: "ready".to_string(),
    }))
}
