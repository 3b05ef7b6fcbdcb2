//! pdfmill's shared plumbing, used by every service and by the `pdfmill` binary.
//!
//! Services talk only through NATS JetStream. This crate owns everything about that talk, so
//! that a service crate contains only its own work:
//!
//! - [`config`]: the typed settings, loaded once (figment layers);
//! - [`topology`]: the streams, consumers and KV buckets of `nats/`, declared at start-up;
//! - [`Publisher`]: publishing with dedup ids, content type and trace context;
//! - [`consume`]: the one consumer loop — decode, hand over, ack / nak / dead-letter;
//! - [`Store`]: the object store that holds images and PDFs;
//! - [`Jobs`]: job status in the `jobs` KV bucket; [`Context::submit`]: queueing a job;
//! - [`telemetry`]: logs and traces; [`instruments`]: Prometheus metrics.
//!
//! [`Context`] bundles the connections a service's `run(ctx, shutdown)` needs.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
pub mod consume;
mod error;
pub mod instruments;
mod jobs;
mod publish;
mod store;
mod submit;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod topology;

use std::time::Duration;

use async_nats::jetstream;
pub use config::{Secret, Settings};
pub use consume::{Delivery, Failure, Handler, Outcome, RetryPolicy, Worker};
pub use error::Error;
pub use jobs::Jobs;
pub use publish::{Published, Publisher, extract_trace_context, inject_trace_context};
pub use store::Store;
pub use submit::{Upload, request_digest};

/// Everything a service needs, connected.
#[derive(Clone)]
pub struct Context {
    /// The settings the process was started with.
    pub settings: Settings,
    /// The NATS connection.
    pub client: async_nats::Client,
    /// JetStream on that connection.
    pub js: jetstream::Context,
    /// Publisher on that JetStream context.
    pub publisher: Publisher,
    /// The object store.
    pub store: Store,
    /// The job status bucket.
    pub jobs: Jobs,
}

impl Context {
    /// Connects to NATS as `name` (shown in the server's connection list), declares the
    /// topology and opens the store and the jobs bucket.
    pub async fn connect(settings: Settings, name: &str) -> Result<Context, Error> {
        let client = connect_nats(&settings, name).await?;
        let js = jetstream::new(client.clone());
        let ack_wait = settings.ack_wait_seconds.map(Duration::from_secs);
        topology::declare(&js, settings.nats_replicas, ack_wait).await?;
        let store = Store::open(&settings.store_url)?;
        let jobs = Jobs::open(&js).await?;
        Ok(Context {
            publisher: Publisher::new(js.clone()),
            settings,
            client,
            js,
            store,
            jobs,
        })
    }
}

/// Connects to NATS with the configured authentication and TLS.
pub async fn connect_nats(settings: &Settings, name: &str) -> Result<async_nats::Client, Error> {
    let mut options = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5));
    if let (Some(user), Some(password)) = (&settings.nats_user, &settings.nats_password) {
        options = options.user_and_password(user.clone(), password.expose().to_string());
    }
    if let Some(token) = &settings.nats_token {
        options = options.token(token.expose().to_string());
    }
    if let Some(creds) = &settings.nats_creds_file {
        options = options.credentials_file(creds).await.map_err(|e| {
            Error::Config(format!(
                "cannot read NATS credentials {}: {e}",
                creds.display()
            ))
        })?;
    }
    if let Some(ca) = &settings.nats_tls_ca {
        options = options.add_root_certificates(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&settings.nats_tls_cert, &settings.nats_tls_key) {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    options = options.require_tls(settings.nats_tls_required);
    options
        .connect(settings.nats_url.as_str())
        .await
        .map_err(|e| {
            Error::Nats(format!(
                "cannot connect to {}: {e}; is nats-server running (pdfmill up starts one)?",
                settings.nats_url
            ))
        })
}
