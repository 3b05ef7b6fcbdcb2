//! pdfmill's shared plumbing, used by every service and by the `pdfmill` binary.
//!
//! Services talk only through NATS JetStream. This crate owns everything about that talk, so
//! that a service crate contains only its own work:
//!
//! - [`config`]: the typed settings, loaded once (figment layers);
//! - [`topology`]: the streams, consumers and KV buckets of `nats/`, declared by the roles at
//!   start-up (connecting declares nothing);
//! - [`Error`]: the plumbing's errors, and the one rule from an error to an [`Outcome`];
//! - [`Publisher`]: publishing with dedup ids, content type and trace context;
//! - [`consume`]: the one consumer loop — decode, hand over, ack / nak / dead-letter;
//! - [`DeadLetters`]: listing and replaying what the loop dead-lettered;
//! - [`Store`]: the object store that holds images and PDFs;
//! - [`Jobs`]: job status in the `jobs` KV bucket, changed only by its lifecycle verbs;
//!   [`Context::submit`]: queueing a job;
//! - [`telemetry`]: logs and traces; [`instruments`]: Prometheus metrics.
//!
//! [`Context`] bundles the connections a service's `run(ctx, shutdown)` needs.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
pub mod consume;
mod dead_letters;
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
pub use dead_letters::{DeadLetter, DeadLetters};
pub use error::Error;
pub use jobs::{Jobs, Marked, StoredPdf};
pub use publish::{Published, Publisher, extract_trace_context, inject_trace_context};
pub use store::Store;
pub use submit::{Submission, Upload};

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
    /// Connects to NATS as `name` (shown in the server's connection list) and opens the
    /// store and the jobs bucket. Declares nothing: see [`Context::connect_and_declare`].
    pub async fn connect(settings: Settings, name: &str) -> Result<Context, Error> {
        let client = connect_nats(&settings, name).await?;
        Context::open(settings, client).await
    }

    /// Opens the store and the jobs bucket over an existing connection.
    pub async fn open(settings: Settings, client: async_nats::Client) -> Result<Context, Error> {
        let js = jetstream::new(client.clone());
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

impl Context {
    /// Connects like [`Context::connect`] after creating or updating every stream, consumer
    /// and bucket with this process's replicas and ack wait: what the roles and `pdfmill up`
    /// do at start-up. Read-only tools use [`Context::connect`].
    pub async fn connect_and_declare(settings: Settings, name: &str) -> Result<Context, Error> {
        let client = connect_nats(&settings, name).await?;
        let ack_wait = settings.ack_wait_seconds.map(Duration::from_secs);
        let js = jetstream::new(client.clone());
        topology::declare(&js, settings.nats_replicas, ack_wait).await?;
        Context::open(settings, client).await
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
    let servers = settings
        .nats_url
        .split(',')
        .map(|url| url.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::Config(format!(
                "nats_url `{}` is not a comma-separated list of NATS URLs: {e}",
                without_credentials(&settings.nats_url)
            ))
        })?;
    options
        .connect(servers)
        .await
        .map_err(|source| Error::Connect {
            url: without_credentials(&settings.nats_url),
            source,
        })
}

/// A server list fit for a log line or an error: any `user:password@` taken out.
fn without_credentials(urls: &str) -> String {
    urls.split(',')
        .map(|url| match url.trim().rsplit_once('@') {
            Some((before, host)) => match before.split_once("://") {
                Some((scheme, _)) => format!("{scheme}://{host}"),
                None => host.to_string(),
            },
            None => url.trim().to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}
