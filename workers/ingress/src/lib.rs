//! pdfmill's HTTP front door: a thin service that validates an upload, stores its images,
//! publishes a `ConvertRequest` and answers at once with the job id.
//!
//! **Why thin.** Nothing here converts or sends anything. A conversion can take seconds for a
//! large scan; an HTTP request that waits for it times out, holds a connection and is retried
//! whole by impatient clients, which is what the system pdfmill replaces suffered from. The
//! ingress answers `202 Accepted` as soon as JetStream has stored the request; everything
//! after that is the workers' business, and the job's status in the `jobs` KV bucket is what
//! clients read (once, or live as server-sent events).
//!
//! **Why nothing is half-written.** The images go to the store first, then the request is
//! published, and only after JetStream confirmed it is the job recorded as `queued`. If NATS
//! is down the client gets a 503 and no status claims a job that no worker will ever see; a
//! retry with the same `Idempotency-Key` maps to the same job id, so the images overwrite
//! themselves and the server drops a second request with the same `Nats-Msg-Id`.
//!
//! The routes, their documentation ([`openapi`]) and their error mapping all live in this
//! crate; [`router`] builds the whole HTTP surface so tests and `pdfmill up` mount the same
//! thing that [`run`] serves.
//!
//! ```no_run
//! # async fn example(ctx: pdfmill_core::Context) -> std::io::Result<()> {
//! use pdfmill_ingress::{IngressSettings, run};
//! use tokio_util::sync::CancellationToken;
//!
//! let settings = IngressSettings::default(); // 127.0.0.1:8080, 64 MiB, 100 images
//! run(ctx, settings, CancellationToken::new()).await
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod auth;
mod conversions;
mod emails;
mod error;
mod health;
mod linger;
mod mailbox;
mod openapi;
mod settings;
mod trace;
mod upload;
mod web;

use std::sync::Arc;

use axum::Router;
use pdfmill_core::Context;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub use openapi::openapi;
pub use settings::{IngressSettings, UploadLimits};

/// What every handler shares: the connections, the settings and the shutdown signal.
///
/// Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Ingress {
    inner: Arc<Shared>,
}

struct Shared {
    ctx: Context,
    settings: IngressSettings,
    /// Cancelled when the server stops, so that live event streams end and let the graceful
    /// shutdown finish instead of waiting on a browser tab.
    shutdown: CancellationToken,
}

impl Ingress {
    /// The state for [`router`], on a connected context.
    pub fn new(ctx: Context, settings: IngressSettings) -> Ingress {
        Self::with_shutdown(ctx, settings, CancellationToken::new())
    }

    /// As [`Ingress::new`], with live event streams ending when `shutdown` is cancelled.
    pub fn with_shutdown(
        ctx: Context,
        settings: IngressSettings,
        shutdown: CancellationToken,
    ) -> Ingress {
        Ingress {
            inner: Arc::new(Shared {
                ctx,
                settings,
                shutdown,
            }),
        }
    }

    fn ctx(&self) -> &Context {
        &self.inner.ctx
    }

    fn settings(&self) -> &IngressSettings {
        &self.inner.settings
    }

    fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }
}

/// Every route: the API under `/v1`, health, `/openapi.json`, Swagger UI at `/docs`, the web
/// page at `/` and, when an outbox folder is configured, the mailbox at `/mailbox`.
pub fn router(state: Ingress) -> Router {
    let (api, open, document) = openapi::routers();
    let limit = state.settings().limits.max_upload_bytes;
    let api = api
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_api_key,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(linger::linger));
    let mut pages = web::routes();
    if state.settings().outbox_dir.is_some() {
        pages = pages.merge(
            mailbox::routes().layer(axum::middleware::from_fn_with_state(
                state.clone(),
                auth::require_api_key,
            )),
        );
    }
    Router::new()
        .merge(api)
        .merge(open)
        .merge(pages)
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", document))
        .route("/metrics", axum::routing::get(trace::metrics_page))
        .fallback(|| async { ApiError::RouteNotFound })
        .with_state(state)
        .layer(axum::middleware::from_fn(trace::record_metrics))
        .layer(trace::layer())
}

/// Serves [`router`] on `settings.listen` until `shutdown` is cancelled, then lets requests
/// in flight finish (live event streams end at once) and returns.
///
/// Fails when the address cannot be bound.
pub async fn run(
    ctx: Context,
    settings: IngressSettings,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    tracing::info!(address = %listener.local_addr()?, "ingress listening");
    let state = Ingress::with_shutdown(ctx, settings, shutdown.clone());
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
