//! One module per subcommand, each parse-and-call: the settings are loaded once in `main`,
//! the work itself lives in the service crates and in core. What the roles share (the
//! shutdown signal, the ingress's settings) is here.

pub mod dlq;
pub mod local;
pub mod roles;
pub mod status;
pub mod streams;
pub mod submit;
pub mod up;

use std::path::Path;

use pdfmill_core::Settings;
use tokio_util::sync::CancellationToken;

/// Settings from `--config` (or `pdfmill.toml`) and the environment.
pub fn settings(config: Option<&Path>) -> anyhow::Result<Settings> {
    Settings::load(config).map_err(|e| anyhow::anyhow!("invalid settings: {e}"))
}

/// A token cancelled by Ctrl-C or SIGTERM: the signal to drain and stop.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down: finishing the messages in progress");
        cancel.cancel();
    });
    token
}
