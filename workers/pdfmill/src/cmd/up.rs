//! `pdfmill up`: the whole system on one machine with no configuration.
//!
//! Unless a NATS URL is configured, a local `nats-server` runs as a child process with its
//! JetStream store under the data directory (so queued jobs survive a restart) and
//! `sync_interval: always` (every acknowledged message is on disk). The store and the email
//! outbox are folders under the data directory too. The ingress and both workers run in this
//! process on one shutdown token: Ctrl-C stops the ingress, lets the workers finish the
//! messages in progress, and only then stops the NATS child.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use pdfmill_core::{Settings, telemetry};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use super::roles;

/// Runs everything until Ctrl-C or SIGTERM.
pub async fn up(
    mut settings: Settings,
    data_dir: &Path,
    http: SocketAddr,
    log_format: telemetry::LogFormat,
) -> anyhow::Result<()> {
    let _telemetry = telemetry::init("pdfmill", log_format);
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let data_dir = data_dir.canonicalize()?;
    let defaults = Settings::default();
    let mut nats = None;
    if settings.nats_url == defaults.nats_url {
        let (child, url) = start_nats(&data_dir).await?;
        settings.nats_url = url;
        nats = Some(child);
    }
    if settings.store_url == defaults.store_url {
        settings.store_url = format!("file://{}", data_dir.join("store").display());
    }
    let outbox = (settings.email_url == defaults.email_url).then(|| data_dir.join("outbox"));
    if let Some(outbox) = &outbox {
        std::fs::create_dir_all(outbox)?;
        settings.email_url = format!("file://{}", outbox.display());
    }
    settings.http_addr = http;
    if settings.public_url == defaults.public_url {
        settings.public_url = format!("http://{http}");
    }

    pdfmill_core::instruments::install(None)?;
    let ctx = pdfmill_core::Context::connect_and_declare(settings.clone(), "pdfmill-up").await?;
    let shutdown = super::shutdown_on_signal();
    let workers = CancellationToken::new();
    let convert = tokio::spawn(pdfmill_convert::run(ctx.clone(), workers.clone()));
    let email = tokio::spawn(pdfmill_email::run(ctx.clone(), workers.clone()));
    tokio::spawn(pdfmill_core::instruments::watch_consumers(
        ctx.js.clone(),
        roles::CONSUMERS.to_vec(),
        Duration::from_secs(5),
        workers.clone(),
    ));
    let ingress_settings = roles::ingress_settings(&settings, outbox.clone());
    let ingress = tokio::spawn(pdfmill_ingress::run(
        ctx.clone(),
        ingress_settings,
        shutdown.clone(),
    ));

    println!("pdfmill is up (data in {})", data_dir.display());
    println!("  web page     http://{http}/");
    println!("  API docs     http://{http}/docs");
    if outbox.is_some() {
        println!("  mailbox      http://{http}/mailbox");
    }
    println!(
        "  try          curl -F image=@scan.png -F email=me@example.com http://{http}/v1/conversions"
    );
    println!(
        "Ctrl-C stops it; queued jobs wait in {} for the next start.",
        data_dir.display()
    );

    let served = ingress.await?;
    workers.cancel();
    convert.await??;
    email.await??;
    if let Some(mut child) = nats {
        stop_child(&mut child).await;
    }
    served.context("the HTTP server failed")?;
    println!("pdfmill stopped");
    Ok(())
}

/// Starts `nats-server` (NATS_SERVER_BIN, else on PATH) with JetStream under `data_dir/nats`,
/// on a free port of 127.0.0.1; returns the child and its URL.
async fn start_nats(data_dir: &Path) -> anyhow::Result<(Child, String)> {
    let dir = data_dir.join("nats");
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("nats-server.conf");
    std::fs::write(
        &config,
        format!(
            "# Written by pdfmill up.\nlisten: 127.0.0.1:-1\njetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n",
            dir.join("jetstream").display()
        ),
    )?;
    let bin = std::env::var_os("NATS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("nats-server"));
    for stale in std::fs::read_dir(&dir)?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".ports"))
    {
        let _ = std::fs::remove_file(stale.path());
    }
    let mut child = Command::new(&bin)
        .arg("-c")
        .arg(&config)
        .arg("--ports_file_dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("nats-server.log"))?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| {
            format!(
                "cannot start {} (install a current nats-server, or run scripts/up, which does)",
                bin.display()
            )
        })?;
    let ports = dir.join(format!(
        "nats-server_{}.ports",
        child.id().unwrap_or_default()
    ));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(text) = std::fs::read_to_string(&ports)
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(url) = value["nats"][0].as_str()
        {
            return Ok((child, url.to_string()));
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "nats-server exited at start ({status}); see {}",
                dir.join("nats-server.log").display()
            );
        }
        if Instant::now() > deadline {
            bail!("nats-server did not start within 15 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGTERM, then wait (a JetStream server flushes on the way out).
async fn stop_child(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}
