//! Settings, loaded once per process: built-in defaults < `pdfmill.toml` < `PDFMILL_*`
//! environment variables (figment layers). Nothing below this module reads the environment,
//! except the object store, which takes S3 credentials from the standard `AWS_*` variables as
//! every S3 tool does.
//!
//! The defaults run everything on one machine with no configuration: a local NATS server, a
//! filesystem store and an outbox folder under `./var`.

use std::{fmt, net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// The file read when no other is named.
pub const DEFAULT_FILE: &str = "pdfmill.toml";

/// Every setting of every role. Keys are the field names; in the environment they are
/// upper-cased with a `PDFMILL_` prefix (`nats_url` ← `PDFMILL_NATS_URL`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// NATS server URL(s), comma-separated.
    pub nats_url: String,
    /// NATS user name (with `nats_password`).
    pub nats_user: Option<String>,
    /// NATS password.
    pub nats_password: Option<Secret>,
    /// NATS token.
    pub nats_token: Option<Secret>,
    /// NATS credentials file (JWT + NKey), as `nats` CLI contexts use.
    pub nats_creds_file: Option<PathBuf>,
    /// CA certificate to trust for NATS TLS.
    pub nats_tls_ca: Option<PathBuf>,
    /// Client certificate for NATS mutual TLS (with `nats_tls_key`).
    pub nats_tls_cert: Option<PathBuf>,
    /// Client key for NATS mutual TLS.
    pub nats_tls_key: Option<PathBuf>,
    /// Refuse to talk to NATS without TLS.
    pub nats_tls_required: bool,
    /// Replicas of every stream: 1 on a single server, 3 on a cluster.
    pub nats_replicas: usize,
    /// Seconds before the server redelivers a message whose worker went silent (crashed),
    /// overriding the consumer files' `ack_wait` and `backoff`. Workers in good health send
    /// in-progress acks, so this bounds only how long a crash delays a job.
    pub ack_wait_seconds: Option<u64>,
    /// Where images and PDFs live: `file:///path` or `s3://bucket` (endpoint, region and
    /// credentials from `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, …).
    pub store_url: String,
    /// How email leaves: `smtp://user:pass@host:port`, `smtp+starttls://…`, `smtps://…`, or
    /// `file:///path` for an outbox folder of `.eml` files.
    pub email_url: String,
    /// The From: address of every email.
    pub email_from: String,
    /// Base URL that links in emails point at (the ingress).
    pub public_url: String,
    /// Address for `/metrics` of a worker; none when unset.
    pub metrics_addr: Option<SocketAddr>,
    /// Where the HTTP ingress listens (it serves `/metrics` there too).
    pub http_addr: SocketAddr,
    /// Bearer tokens the HTTP API accepts, comma-separated; none means no authentication.
    pub api_keys: Option<Secret>,
    /// Largest HTTP upload, all images of one request together.
    pub max_upload_bytes: usize,
    /// Conversions one convert worker runs at once (default: one per core).
    pub convert_concurrency: usize,
    /// Emails one email worker sends at once.
    pub email_concurrency: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            nats_url: "nats://127.0.0.1:4222".into(),
            nats_user: None,
            nats_password: None,
            nats_token: None,
            nats_creds_file: None,
            nats_tls_ca: None,
            nats_tls_cert: None,
            nats_tls_key: None,
            nats_tls_required: false,
            nats_replicas: 1,
            ack_wait_seconds: None,
            store_url: "file://./var/store".into(),
            email_url: "file://./var/outbox".into(),
            email_from: "pdfmill <pdfmill@localhost>".into(),
            public_url: "http://127.0.0.1:8080".into(),
            metrics_addr: None,
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_keys: None,
            max_upload_bytes: 64 << 20,
            convert_concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            email_concurrency: 16,
        }
    }
}

impl Settings {
    /// Loads defaults, then `file` (or `pdfmill.toml` when present), then `PDFMILL_*`.
    ///
    /// A misspelt key in the file is an error; the environment is read only for known keys,
    /// since other `PDFMILL_*` variables may belong to other tools or roles.
    pub fn load(file: Option<&std::path::Path>) -> Result<Settings, Box<figment::Error>> {
        let file = file.map_or_else(|| PathBuf::from(DEFAULT_FILE), PathBuf::from);
        let known: Vec<String> = match serde_json::to_value(Settings::default()) {
            Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
            _ => unreachable!("Settings serialises as a map"),
        };
        let environment =
            Env::prefixed("PDFMILL_").filter(move |key| known.iter().any(|k| key == k.as_str()));
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
            .merge(environment)
            .extract()
            .map_err(Box::new)
    }
}

/// A value that is never printed (Debug shows `***`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error by design
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order_and_secrets_do_not_print() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pdfmill.toml", "nats_url = \"nats://file:4222\"\nemail_from = \"a@b\"\nnats_password = \"hunter2\"")?;
            jail.set_env("PDFMILL_NATS_URL", "nats://env:4222");
            jail.set_env("PDFMILL_SOMETHING_ELSE", "ignored");
            let settings = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(settings.nats_url, "nats://env:4222");
            assert_eq!(settings.email_from, "a@b");
            assert_eq!(settings.store_url, Settings::default().store_url);
            assert!(!format!("{settings:?}").contains("hunter2"));
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pdfmill.toml", "nats_ulr = \"x\"")?;
            let error = Settings::load(None).unwrap_err();
            assert!(error.to_string().contains("nats_ulr"), "{error}");
            Ok(())
        });
    }
}
