//! The long-running roles: `pdfmill worker ROLE` and `pdfmill ingress`, each in its own
//! process until a signal, then a clean drain. A role declares the topology before it starts
//! (create-or-update, idempotent), so a fresh cluster needs no set-up step.

use std::time::Duration;

use pdfmill_core::{Context, Settings, telemetry};
use pdfmill_schemas::streams;

use super::shutdown_on_signal;
use crate::cli::Role;

/// The consumers whose backlog the metrics sample.
pub const CONSUMERS: [(&str, &str); 2] = [
    (streams::CONVERT, pdfmill_schemas::consumers::CONVERT),
    (streams::EMAIL, pdfmill_schemas::consumers::EMAIL),
];

/// The ingress's settings from the process settings.
pub fn ingress_settings(
    settings: &Settings,
    outbox_dir: Option<std::path::PathBuf>,
) -> pdfmill_ingress::IngressSettings {
    let api_keys = settings
        .api_keys
        .as_ref()
        .map(|keys| {
            keys.expose()
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(pdfmill_core::Secret::new)
                .collect()
        })
        .unwrap_or_default();
    pdfmill_ingress::IngressSettings {
        listen: settings.http_addr,
        limits: pdfmill_ingress::UploadLimits {
            max_upload_bytes: settings.max_upload_bytes,
            ..Default::default()
        },
        api_keys,
        outbox_dir,
    }
}

/// `pdfmill ingress`: the HTTP API alone, until a signal.
pub async fn ingress(settings: Settings, log_format: telemetry::LogFormat) -> anyhow::Result<()> {
    let _telemetry = telemetry::init("pdfmill-ingress", log_format);
    pdfmill_core::instruments::install(None)?;
    let ctx = Context::connect_and_declare(settings.clone(), "pdfmill-ingress").await?;
    let shutdown = shutdown_on_signal();
    tokio::spawn(pdfmill_core::instruments::watch_consumers(
        ctx.js.clone(),
        CONSUMERS.to_vec(),
        Duration::from_secs(5),
        shutdown.clone(),
    ));
    pdfmill_ingress::run(ctx, ingress_settings(&settings, None), shutdown).await?;
    Ok(())
}

/// `pdfmill worker ROLE`: one role in this process until a signal, then a clean drain.
pub async fn worker(
    role: Role,
    settings: Settings,
    log_format: telemetry::LogFormat,
) -> anyhow::Result<()> {
    let service = format!("pdfmill-{}", role.name());
    let _telemetry = telemetry::init(&service, log_format);
    pdfmill_core::instruments::install(settings.metrics_addr)?;
    let ctx = Context::connect_and_declare(settings, &service).await?;
    let shutdown = shutdown_on_signal();
    let consumer = match role {
        Role::Convert => (streams::CONVERT, pdfmill_schemas::consumers::CONVERT),
        Role::Email => (streams::EMAIL, pdfmill_schemas::consumers::EMAIL),
    };
    tokio::spawn(pdfmill_core::instruments::watch_consumers(
        ctx.js.clone(),
        vec![consumer],
        Duration::from_secs(5),
        shutdown.clone(),
    ));
    tracing::info!(role = role.name(), metrics = ?ctx.settings.metrics_addr, "worker started");
    match role {
        Role::Convert => pdfmill_convert::run(ctx, shutdown).await?,
        Role::Email => pdfmill_email::run(ctx, shutdown).await?,
    }
    tracing::info!("worker stopped");
    Ok(())
}
