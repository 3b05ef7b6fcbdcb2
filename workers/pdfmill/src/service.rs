//! Service roles and queue tools: `worker`, `submit`, `status`, `streams`, `dlq`.
//! Each parses nothing itself: it loads the settings, connects, and calls a service's `run`.

use std::{path::Path, time::Duration};

use anyhow::{Context as _, bail};
use async_nats::jetstream;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use pdfmill_core::{Context, Settings, telemetry};
use pdfmill_schemas::{
    headers, streams, subjects,
    v1::{ConvertRequest, Fit, JobState, JobStatus, PageOptions},
};
use prost::Message;
use tokio_util::sync::CancellationToken;

use crate::cli::{DlqCommand, Role, SubmitArgs};

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
        limits: pdfmill_ingress::Limits {
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
    let ctx = Context::connect(settings.clone(), "pdfmill-ingress").await?;
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
    let ctx = Context::connect(settings, &service).await?;
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
        Role::Email => pdfmill_email::worker::run(ctx, shutdown).await?,
    }
    tracing::info!("worker stopped");
    Ok(())
}

/// `pdfmill submit`: stores the images, records the job as queued, publishes the request.
pub async fn submit(args: SubmitArgs, settings: Settings) -> anyhow::Result<()> {
    let ctx = Context::connect(settings, "pdfmill-submit").await?;
    let job_id = args
        .job_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let mut uploads = Vec::with_capacity(args.images.len());
    for path in &args.images {
        let bytes = tokio::fs::read(path)
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        uploads.push(pdfmill_core::Upload {
            name: sanitise(&name),
            bytes: bytes.into(),
            content_type: String::new(),
        });
    }
    let request = ConvertRequest {
        job_id: job_id.clone(),
        notify_email: args.email.clone().unwrap_or_default(),
        page: Some(PageOptions {
            page_size: args.page_size.clone(),
            fit: match args.fit.as_str() {
                "cover" | "fill" => Fit::Cover,
                "none" => Fit::None,
                _ => Fit::Contain,
            }
            .into(),
            margin_pt: pdfmill_pdf::parse_length(&args.margin)?,
            dpi: args.dpi.unwrap_or(0),
            title: args.title.clone().unwrap_or_default(),
        }),
        ..ConvertRequest::default()
    };
    let (_, published) = ctx.submit(request, uploads).await?;
    if published.duplicate {
        eprintln!("pdfmill: job {job_id} was already submitted; the server kept the first request");
    }
    println!("{job_id}");
    if args.wait {
        let status = wait_for_end(&ctx, &job_id, args.email.is_some(), args.timeout).await?;
        print_status(&status, false);
        match status.state() {
            JobState::Failed => bail!("job {job_id} failed"),
            JobState::EmailFailed => bail!(
                "job {job_id}: the PDF is stored as {}, but the email could not be sent",
                status.pdf_key
            ),
            _ => {}
        }
    }
    Ok(())
}

/// Watches the job's status until it ends (converted, or emailed or email_failed when an email
/// was asked for, or failed), with a spinner that shows the current state.
async fn wait_for_end(
    ctx: &Context,
    job_id: &str,
    emailed: bool,
    timeout: u64,
) -> anyhow::Result<JobStatus> {
    let spinner = ProgressBar::new_spinner().with_message(format!("job {job_id}: queued"));
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    let mut watch = ctx
        .jobs
        .store()
        .watch_with_history(job_id)
        .await
        .map_err(|e| anyhow::anyhow!("cannot watch job {job_id}: {e}"))?;
    let deadline = tokio::time::sleep(Duration::from_secs(timeout));
    tokio::pin!(deadline);
    loop {
        let entry = tokio::select! {
            _ = &mut deadline => bail!("job {job_id} did not finish within {timeout} s; `pdfmill status {job_id}` shows where it is"),
            entry = watch.next() => entry,
        };
        let Some(Ok(entry)) = entry else {
            bail!("the watch on job {job_id} ended")
        };
        let Ok(status) = JobStatus::decode(entry.value) else {
            continue;
        };
        let state = status.state();
        spinner.set_message(format!("job {job_id}: {}", state_name(state)));
        let done = match state {
            JobState::Failed | JobState::Emailed | JobState::EmailFailed => true,
            JobState::Converted => !emailed,
            _ => false,
        };
        if done {
            spinner.finish_and_clear();
            return Ok(status);
        }
    }
}

/// `pdfmill status JOB`.
pub async fn status(job_id: &str, json: bool, settings: Settings) -> anyhow::Result<()> {
    let ctx = Context::connect(settings, "pdfmill-status").await?;
    let Some(status) = ctx.jobs.get(job_id).await? else {
        bail!("no job {job_id}; check the id `pdfmill submit` printed")
    };
    print_status(&status, json);
    Ok(())
}

fn print_status(status: &JobStatus, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(status).expect("a status serialises")
        );
        return;
    }
    println!("job      {}", status.job_id);
    println!("state    {}", state_name(status.state()));
    println!("images   {}", status.image_count);
    if !status.pdf_key.is_empty() {
        println!(
            "pdf      {} ({} pages, {} bytes)",
            status.pdf_key, status.pages, status.pdf_size_bytes
        );
    }
    if !status.error_message.is_empty() {
        println!(
            "error    {} ({})",
            status.error_message,
            status.error_class().as_str_name()
        );
    }
    if !status.notify_email.is_empty() {
        println!("email    {}", status.notify_email);
    }
}

fn state_name(state: JobState) -> &'static str {
    match state {
        JobState::Unspecified => "unknown",
        JobState::Queued => "queued",
        JobState::Converting => "converting",
        JobState::Converted => "converted",
        JobState::Emailed => "emailed",
        JobState::Failed => "failed",
        JobState::EmailFailed => "email_failed",
    }
}

/// Object keys keep to a safe alphabet.
fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `pdfmill streams`: every stream and consumer with its counts.
pub async fn streams(settings: Settings) -> anyhow::Result<()> {
    let client = pdfmill_core::connect_nats(&settings, "pdfmill-streams").await?;
    let js = jetstream::new(client);
    let mut rows = vec![
        [
            "stream",
            "consumer",
            "messages",
            "bytes",
            "pending",
            "ack pending",
            "redelivered",
        ]
        .map(String::from),
    ];
    for name in [
        streams::CONVERT,
        streams::EMAIL,
        streams::EVENTS,
        streams::DLQ,
    ] {
        let mut stream = js.get_stream(name).await.with_context(|| {
            format!("no stream {name}; start a worker once to declare the topology")
        })?;
        let info = stream.info().await?.clone();
        rows.push([
            name.to_string(),
            "-".into(),
            info.state.messages.to_string(),
            info.state.bytes.to_string(),
            "-".into(),
            "-".into(),
            "-".into(),
        ]);
        let mut consumers = stream.consumers();
        while let Some(consumer) = consumers.next().await {
            let consumer = consumer?;
            rows.push([
                name.to_string(),
                consumer.name.clone(),
                "-".into(),
                "-".into(),
                consumer.num_pending.to_string(),
                consumer.num_ack_pending.to_string(),
                consumer.num_redelivered.to_string(),
            ]);
        }
    }
    print_table(&rows);
    Ok(())
}

fn print_table(rows: &[[String; 7]]) {
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i < 2 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

/// `pdfmill dlq list|replay`.
pub async fn dlq(command: DlqCommand, settings: Settings) -> anyhow::Result<()> {
    let client = pdfmill_core::connect_nats(&settings, "pdfmill-dlq").await?;
    let js = jetstream::new(client);
    let mut stream = js
        .get_stream(streams::DLQ)
        .await
        .context("no DLQ stream; start a worker once to declare the topology")?;
    let state = stream.info().await?.state.clone();
    let mut letters = Vec::new();
    if state.messages > 0 {
        for sequence in state.first_sequence..=state.last_sequence {
            if let Ok(message) = stream.get_raw_message(sequence).await {
                letters.push(message);
            }
        }
    }
    match command {
        DlqCommand::List => {
            if letters.is_empty() {
                println!("the dead-letter queue is empty");
            }
            for letter in &letters {
                let header = |name: &str| {
                    letter
                        .headers
                        .get(name)
                        .map(|v| v.as_str().to_string())
                        .unwrap_or_default()
                };
                println!(
                    "{:>6}  {}  {}  deliveries {}  {}: {}",
                    letter.sequence,
                    header(headers::ORIGINAL_SUBJECT),
                    header(headers::NATS_MSG_ID),
                    header(headers::DELIVERY_COUNT),
                    header(headers::ERROR_CLASS),
                    header(headers::ERROR_MESSAGE)
                );
            }
        }
        DlqCommand::Replay { sequences, all } => {
            if sequences.is_empty() && !all {
                bail!("name the dead letters to replay (see `pdfmill dlq list`), or pass --all");
            }
            let publisher = pdfmill_core::Publisher::new(js.clone());
            let mut replayed = 0;
            for letter in letters
                .iter()
                .filter(|l| all || sequences.contains(&l.sequence))
            {
                let original = letter
                    .headers
                    .get(headers::ORIGINAL_SUBJECT)
                    .map(|v| v.as_str().to_string());
                let Some(original) = original
                    .or_else(|| subjects::original_subject(&letter.subject).map(str::to_string))
                else {
                    eprintln!(
                        "pdfmill: dead letter {} names no original subject; left in place",
                        letter.sequence
                    );
                    continue;
                };
                let mut map = pdfmill_core::consume::replay_headers(&letter.headers);
                map.insert(
                    headers::NATS_MSG_ID,
                    format!("replay:{}", letter.sequence).as_str(),
                );
                publisher
                    .publish_raw(&original, map, letter.payload.clone())
                    .await?;
                stream.delete_message(letter.sequence).await.map_err(|e| {
                    anyhow::anyhow!("replayed {} but could not remove it: {e}", letter.sequence)
                })?;
                replayed += 1;
            }
            println!("replayed {replayed} dead letter(s)");
        }
    }
    Ok(())
}
