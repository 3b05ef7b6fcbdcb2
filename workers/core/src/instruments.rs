//! Prometheus metrics: every name, description and bucket layout in one place, so dashboards,
//! alerts and code agree. Names follow Prometheus conventions: a `pdfmill_` prefix, base units
//! (`_seconds`, `_bytes`), `_total` for counters.
//!
//! [`install`] sets the global recorder once per process; the ingress renders it on its own
//! `/metrics`, workers serve it on `metrics_addr`. A background task samples what is not an
//! event: process CPU and memory, and each consumer's backlog as JetStream reports it.

use std::{net::SocketAddr, sync::OnceLock, time::Duration};

use async_nats::jetstream;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use crate::Error;

/// Jobs accepted, by `source` (http, cli).
pub const JOBS_SUBMITTED: &str = "pdfmill_jobs_submitted_total";
/// Conversions by `outcome` (success, corrupt, unsupported, too_large, invalid_request, retry).
pub const CONVERSIONS: &str = "pdfmill_conversions_total";
/// Time to fetch, convert and store one job's images.
pub const CONVERSION_DURATION: &str = "pdfmill_conversion_duration_seconds";
/// Bytes of images per conversion.
pub const CONVERSION_INPUT_BYTES: &str = "pdfmill_conversion_input_bytes";
/// Bytes of PDF per conversion.
pub const CONVERSION_OUTPUT_BYTES: &str = "pdfmill_conversion_output_bytes";
/// Pages per conversion.
pub const CONVERSION_PAGES: &str = "pdfmill_conversion_pages";
/// Emails by `template` and `outcome` (sent, duplicate, retry, rejected).
pub const EMAILS: &str = "pdfmill_emails_total";
/// Time for the relay (or the outbox) to accept one email.
pub const SMTP_SEND_DURATION: &str = "pdfmill_smtp_send_duration_seconds";
/// Messages settled, by `subject` and `outcome` (ack, nak, dead_letter).
pub const MESSAGES: &str = "pdfmill_messages_total";
/// Time from receiving a message to settling it, by `subject`.
pub const MESSAGE_PROCESSING: &str = "pdfmill_message_processing_seconds";
/// Deliveries after the first, by `subject`.
pub const REDELIVERIES: &str = "pdfmill_redeliveries_total";
/// Dead letters, by `subject` and error `class`.
pub const DEAD_LETTERS: &str = "pdfmill_dead_letters_total";
/// Time from submission to a `stage` (converted, emailed).
pub const JOB_LATENCY: &str = "pdfmill_job_latency_seconds";
/// HTTP requests by `method`, `route` and `status`.
pub const HTTP_REQUESTS: &str = "pdfmill_http_requests_total";
/// HTTP request time by `method` and `route`.
pub const HTTP_REQUEST_DURATION: &str = "pdfmill_http_request_duration_seconds";
/// Messages a consumer has not yet received, by `stream` and `consumer`.
pub const CONSUMER_PENDING: &str = "pdfmill_consumer_pending_messages";
/// Messages delivered and not yet acknowledged, by `stream` and `consumer`.
pub const CONSUMER_ACK_PENDING: &str = "pdfmill_consumer_ack_pending_messages";
/// Messages being redelivered, by `stream` and `consumer`.
pub const CONSUMER_REDELIVERED: &str = "pdfmill_consumer_redelivered_messages";

/// Latencies from a millisecond to two minutes (conversions of thumbnails to big scans).
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];
/// Sizes from 1 kB to 300 MB.
const BYTES: &[f64] = &[1e3, 1e4, 1e5, 3e5, 1e6, 3e6, 1e7, 3e7, 1e8, 3e8];
/// Pages from 1 to the default page limit.
const PAGES: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0, 1000.0];
/// Job latency: queueing included, so up to ten minutes.
const JOB_SECONDS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder (once per process; later calls return the same handle) and, when
/// `listen` is given, serves `/metrics` there. Must run inside a tokio runtime.
pub fn install(listen: Option<SocketAddr>) -> Result<PrometheusHandle, Error> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let invalid = |e: &dyn std::fmt::Display| Error::Config(format!("metrics: {e}"));
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(JOB_LATENCY.into()), JOB_SECONDS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS))
        .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_bytes".into()), BYTES))
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(CONVERSION_PAGES.into()), PAGES))
        .map_err(|e| invalid(&e))?;
    let handle = match listen {
        Some(listen) => {
            let (recorder, exporter) = builder
                .with_http_listener(listen)
                .build()
                .map_err(|e| invalid(&e))?;
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).map_err(|e| invalid(&e))?;
            tokio::spawn(exporter);
            handle
        }
        None => {
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).map_err(|e| invalid(&e))?;
            handle
        }
    };
    describe();
    let process = metrics_process::Collector::default();
    process.describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            process.collect();
            upkeep.run_upkeep();
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// The installed recorder's handle, for a `/metrics` route; `None` before [`install`].
pub fn handle() -> Option<PrometheusHandle> {
    HANDLE.get().cloned()
}

fn describe() {
    describe_counter!(
        JOBS_SUBMITTED,
        "Jobs accepted for conversion, by source (http, cli)."
    );
    describe_counter!(
        CONVERSIONS,
        "Conversions by outcome (success, corrupt, unsupported, too_large, invalid_request, retry)."
    );
    describe_histogram!(
        CONVERSION_DURATION,
        Unit::Seconds,
        "Time to fetch, convert and store one job's images."
    );
    describe_histogram!(
        CONVERSION_INPUT_BYTES,
        Unit::Bytes,
        "Bytes of images per conversion."
    );
    describe_histogram!(
        CONVERSION_OUTPUT_BYTES,
        Unit::Bytes,
        "Bytes of PDF per conversion."
    );
    describe_histogram!(CONVERSION_PAGES, Unit::Count, "Pages per conversion.");
    describe_counter!(
        EMAILS,
        "Emails by template and outcome (sent, duplicate, retry, rejected)."
    );
    describe_histogram!(
        SMTP_SEND_DURATION,
        Unit::Seconds,
        "Time for the relay or outbox to accept one email."
    );
    describe_counter!(
        MESSAGES,
        "Messages settled by a consumer, by subject and outcome (ack, nak, dead_letter)."
    );
    describe_histogram!(
        MESSAGE_PROCESSING,
        Unit::Seconds,
        "Time from receiving a message to settling it, by subject."
    );
    describe_counter!(REDELIVERIES, "Deliveries after the first, by subject.");
    describe_counter!(
        DEAD_LETTERS,
        "Messages dead-lettered, by subject and error class."
    );
    describe_histogram!(
        JOB_LATENCY,
        Unit::Seconds,
        "Time from a job's submission to a stage (converted, emailed)."
    );
    describe_counter!(HTTP_REQUESTS, "HTTP requests by method, route and status.");
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "HTTP request time by method and route."
    );
    describe_gauge!(
        CONSUMER_PENDING,
        "Messages a consumer has not yet received, by stream and consumer."
    );
    describe_gauge!(
        CONSUMER_ACK_PENDING,
        "Messages delivered and not yet acknowledged, by stream and consumer."
    );
    describe_gauge!(
        CONSUMER_REDELIVERED,
        "Messages being redelivered, by stream and consumer."
    );
}

/// Samples each `(stream, consumer)`'s backlog every `every` until `shutdown`.
pub async fn watch_consumers(
    js: jetstream::Context,
    consumers: Vec<(&'static str, &'static str)>,
    every: Duration,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        for &(stream, name) in &consumers {
            let Ok(stream_handle) = js.get_stream(stream).await else {
                continue;
            };
            let Ok(mut consumer) = stream_handle
                .get_consumer::<jetstream::consumer::pull::Config>(name)
                .await
            else {
                continue;
            };
            if let Ok(info) = consumer.info().await {
                let labels = [("stream", stream), ("consumer", name)];
                gauge!(CONSUMER_PENDING, &labels).set(info.num_pending as f64);
                gauge!(CONSUMER_ACK_PENDING, &labels).set(info.num_ack_pending as f64);
                gauge!(CONSUMER_REDELIVERED, &labels).set(info.num_redelivered as f64);
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Seconds from a protobuf timestamp until now (for job latency); `None` without one.
pub fn seconds_since(timestamp: Option<&pdfmill_schemas::well_known::Timestamp>) -> Option<f64> {
    let timestamp = timestamp?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    let then = Duration::new(
        u64::try_from(timestamp.seconds).ok()?,
        u32::try_from(timestamp.nanos).ok()?,
    );
    Some(now.checked_sub(then)?.as_secs_f64())
}
