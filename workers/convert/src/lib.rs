//! The convert worker: consumes `image.convert.v1`, fetches the images from the store,
//! converts them into one PDF with `pdfmill-pdf`, stores it, records the job's status, and
//! publishes `image.converted.v1` and, when an address was given, `email.send.v1`.
//!
//! **Idempotent by construction.** The PDF's key is derived from the job id, so a redelivery
//! overwrites the same object instead of adding one. The events and the email request carry
//! dedup ids derived from the job id, so the server drops a second copy, and the email worker's
//! ledger refuses to send one twice. The status becomes `converted` only after all of that,
//! so a job found `converted` has nothing left to do and is acknowledged without work.
//!
//! **Failures.** A corrupt, unsupported or too large image, or a request naming a missing
//! image, is rejected: the loop dead-letters it and [`Handler::dead_lettered`] marks the job
//! `failed`, publishes the failure event and asks for the failure email. A store or NATS
//! outage is retried.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::time::{Duration, Instant};

use pdfmill_core::{Context, Delivery, Failure, Handler, Outcome, Worker, instruments};
use pdfmill_pdf::{ErrorKind, Fit, Layout, Options, PageSize};
use pdfmill_schemas::{
    consumers, streams, subjects,
    v1::{
        ConversionFailure, ConversionResult, ConversionSuccess, ConvertRequest, EmailRequest,
        ErrorClass, Fit as RequestedFit, JobState, conversion_result::Outcome as ResultOutcome,
    },
};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span};

/// Where the PDF of `job_id` is stored.
pub fn pdf_key(job_id: &str) -> String {
    format!("pdfs/{job_id}.pdf")
}

/// Runs a convert worker until `shutdown` is cancelled, then drains.
pub async fn run(ctx: Context, shutdown: CancellationToken) -> Result<(), pdfmill_core::Error> {
    worker(ctx).await?.run(shutdown).await
}

/// The worker, for callers (tests) that drive it step by step.
pub async fn worker(ctx: Context) -> Result<Worker<Converter>, pdfmill_core::Error> {
    let concurrency = ctx.settings.convert_concurrency;
    let js = ctx.js.clone();
    Worker::new(
        &js,
        streams::CONVERT,
        consumers::CONVERT,
        subjects::IMAGE_CONVERT,
        Converter { ctx },
        concurrency,
    )
    .await
}

/// The convert handler.
pub struct Converter {
    ctx: Context,
}

impl Handler for Converter {
    type Message = ConvertRequest;

    async fn handle(&self, delivery: &Delivery<ConvertRequest>) -> Outcome {
        let request = &delivery.message;
        if let Err(reason) = validate(request) {
            return Outcome::Reject {
                class: ErrorClass::InvalidRequest,
                reason,
            };
        }
        let outcome = match self.convert(request, delivery.delivered).await {
            Ok(outcome) => outcome,
            Err(error) if error.is_transient() => Outcome::Retry {
                reason: error.to_string(),
            },
            Err(error) => Outcome::Reject {
                class: ErrorClass::InvalidRequest,
                reason: error.to_string(),
            },
        };
        let label = match &outcome {
            Outcome::Done => "success",
            Outcome::Retry { .. } => "retry",
            Outcome::Reject {
                class: ErrorClass::Corrupt,
                ..
            } => "corrupt",
            Outcome::Reject {
                class: ErrorClass::Unsupported,
                ..
            } => "unsupported",
            Outcome::Reject {
                class: ErrorClass::TooLarge,
                ..
            } => "too_large",
            Outcome::Reject { .. } => "invalid_request",
        };
        metrics::counter!(instruments::CONVERSIONS, "outcome" => label).increment(1);
        outcome
    }

    async fn dead_lettered(&self, request: Option<&ConvertRequest>, failure: &Failure) {
        let Some(request) = request.filter(|r| validate(r).is_ok()) else {
            return;
        };
        if let Err(error) = self.record_failure(request, failure).await {
            tracing::warn!(%error, job_id = %request.job_id, "could not record the failure");
        }
    }
}

impl Converter {
    #[tracing::instrument(name = "convert", skip_all, fields(job.id = %request.job_id, images = request.images.len(), input_bytes = tracing::field::Empty, pages = tracing::field::Empty, pdf.size_bytes = tracing::field::Empty))]
    async fn convert(
        &self,
        request: &ConvertRequest,
        attempt: u64,
    ) -> Result<Outcome, pdfmill_core::Error> {
        let job_id = &request.job_id;
        let status = self.ctx.jobs.get(job_id).await?;
        if status.as_ref().is_some_and(|s| {
            matches!(
                s.state(),
                JobState::Converted | JobState::Emailed | JobState::EmailFailed
            )
        }) {
            info!("already converted; nothing to do");
            return Ok(Outcome::Done);
        }
        self.ctx
            .jobs
            .update(job_id, |s| {
                s.set_state(JobState::Converting);
                s.updated_at = Some(pdfmill_schemas::timestamp_now());
                s.image_count = request.images.len() as u32;
                s.notify_email = request.notify_email.clone();
                s.submitted_at = s.submitted_at.or(request.submitted_at);
            })
            .await?;

        let started = Instant::now();
        let mut images = Vec::with_capacity(request.images.len());
        let mut input_bytes = 0;
        async {
            for image in &request.images {
                let bytes = self.ctx.store.get(&image.key).await?;
                input_bytes += bytes.len() as u64;
                images.push(bytes.to_vec());
            }
            tracing::Span::current().record("input_bytes", input_bytes);
            Ok::<_, pdfmill_core::Error>(())
        }
        .instrument(info_span!(
            "fetch",
            images = request.images.len(),
            input_bytes = tracing::field::Empty
        ))
        .await?;
        tracing::Span::current().record("input_bytes", input_bytes);
        let options = options(request);
        let converted = tokio::task::spawn_blocking(move || {
            let mut pdf = Vec::new();
            pdfmill_pdf::convert(images, &options, &mut pdf).map(|pages| (pdf, pages.len()))
        })
        .await
        .expect("the conversion does not panic");
        let (pdf, pages) = match converted {
            Ok(done) => done,
            Err(error) => {
                let class = match error.kind() {
                    ErrorKind::Corrupt => ErrorClass::Corrupt,
                    ErrorKind::Unsupported => ErrorClass::Unsupported,
                    ErrorKind::TooLarge => ErrorClass::TooLarge,
                    ErrorKind::Io => {
                        return Ok(Outcome::Retry {
                            reason: error.to_string(),
                        });
                    }
                };
                return Ok(Outcome::Reject {
                    class,
                    reason: error.to_string(),
                });
            }
        };
        let key = pdf_key(job_id);
        let size = pdf.len() as u64;
        let span = tracing::Span::current();
        span.record("pages", pages);
        span.record("pdf.size_bytes", size);
        self.ctx
            .store
            .put(&key, pdf.into())
            .instrument(info_span!("store", pdf.key = %key, pdf.size_bytes = size))
            .await?;
        let duration = started.elapsed();
        info!(pages, size, ?duration, "converted");
        metrics::histogram!(instruments::CONVERSION_DURATION).record(duration.as_secs_f64());
        metrics::histogram!(instruments::CONVERSION_INPUT_BYTES).record(input_bytes as f64);
        metrics::histogram!(instruments::CONVERSION_OUTPUT_BYTES).record(size as f64);
        metrics::histogram!(instruments::CONVERSION_PAGES).record(pages as f64);

        let result = ConversionResult {
            job_id: job_id.clone(),
            outcome: Some(ResultOutcome::Success(ConversionSuccess {
                pdf_key: key.clone(),
                pdf_size_bytes: size,
                pages: pages as u32,
                input_bytes,
            })),
            convert_duration: Some(duration.into()),
            finished_at: Some(pdfmill_schemas::timestamp_now()),
            notify_email: request.notify_email.clone(),
            attempt: attempt as u32,
        };
        self.ctx
            .publisher
            .publish(
                subjects::IMAGE_CONVERTED,
                &format!("{job_id}:converted"),
                &result,
            )
            .await?;
        if !request.notify_email.is_empty() {
            let link = self.pdf_link(job_id, &key).await?;
            let variables = [
                ("job_id", job_id.clone()),
                ("pdf_url", link),
                ("pages", pages.to_string()),
                ("size_bytes", size.to_string()),
            ];
            self.request_email(request, "conversion_completed", &variables)
                .await?;
        }
        let status = self
            .ctx
            .jobs
            .update(job_id, |s| {
                s.set_state(JobState::Converted);
                s.updated_at = Some(pdfmill_schemas::timestamp_now());
                s.pages = pages as u32;
                s.pdf_key = key.clone();
                s.pdf_size_bytes = size;
                s.error_class = 0;
                s.error_message.clear();
            })
            .await?;
        if let Some(latency) = instruments::seconds_since(status.submitted_at.as_ref()) {
            metrics::histogram!(instruments::JOB_LATENCY, "stage" => "converted").record(latency);
        }
        Ok(Outcome::Done)
    }

    async fn record_failure(
        &self,
        request: &ConvertRequest,
        failure: &Failure,
    ) -> Result<(), pdfmill_core::Error> {
        let job_id = &request.job_id;
        self.ctx
            .jobs
            .update(job_id, |s| {
                s.set_state(JobState::Failed);
                s.updated_at = Some(pdfmill_schemas::timestamp_now());
                s.set_error_class(failure.class);
                s.error_message = failure.reason.clone();
                s.notify_email = request.notify_email.clone();
                s.image_count = request.images.len() as u32;
            })
            .await?;
        let result = ConversionResult {
            job_id: job_id.clone(),
            outcome: Some(ResultOutcome::Failure(ConversionFailure {
                error_class: failure.class.into(),
                message: failure.reason.clone(),
            })),
            finished_at: Some(pdfmill_schemas::timestamp_now()),
            notify_email: request.notify_email.clone(),
            attempt: failure.delivered as u32,
            ..ConversionResult::default()
        };
        self.ctx
            .publisher
            .publish(
                subjects::IMAGE_CONVERTED,
                &format!("{job_id}:failed"),
                &result,
            )
            .await?;
        if !request.notify_email.is_empty() {
            let variables = [
                ("job_id", job_id.clone()),
                ("error_message", failure.reason.clone()),
            ];
            self.request_email(request, "conversion_failed", &variables)
                .await?;
        }
        Ok(())
    }

    async fn request_email(
        &self,
        request: &ConvertRequest,
        template: &str,
        variables: &[(&str, String)],
    ) -> Result<(), pdfmill_core::Error> {
        let email_id = format!("{}:{template}", request.job_id);
        let email = EmailRequest {
            email_id: email_id.clone(),
            to: request.notify_email.clone(),
            template: template.to_string(),
            variables: variables
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            job_id: request.job_id.clone(),
            requested_at: Some(pdfmill_schemas::timestamp_now()),
        };
        self.ctx
            .publisher
            .publish(subjects::EMAIL_SEND, &email_id, &email)
            .await
            .map(drop)
    }

    /// A presigned URL when the store can make one, else the ingress's download route.
    async fn pdf_link(&self, job_id: &str, key: &str) -> Result<String, pdfmill_core::Error> {
        let week = Duration::from_secs(7 * 24 * 3600);
        Ok(match self.ctx.store.download_url(key, week).await? {
            Some(url) => url,
            None => format!(
                "{}/v1/conversions/{job_id}/pdf",
                self.ctx.settings.public_url.trim_end_matches('/')
            ),
        })
    }
}

/// Job ids become KV keys, object keys and dedup ids, so they are kept to a safe alphabet.
fn validate(request: &ConvertRequest) -> Result<(), String> {
    let id = &request.job_id;
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if id.is_empty() || id.len() > 128 || !id.chars().all(safe) || id.starts_with('.') {
        return Err(format!(
            "job id `{id}` must be 1–128 characters of A–Z, a–z, 0–9, '-', '_' and '.'"
        ));
    }
    if request.images.is_empty() {
        return Err("the request names no images".into());
    }
    if let Some(image) = request.images.iter().find(|i| i.key.is_empty()) {
        return Err(format!("an image has an empty key ({image:?})"));
    }
    Ok(())
}

/// The request's page options as converter options.
fn options(request: &ConvertRequest) -> Options {
    let page = request.page.clone().unwrap_or_default();
    Options {
        layout: Layout {
            page_size: page.page_size.parse().unwrap_or(PageSize::Image),
            fit: match page.fit() {
                RequestedFit::Cover => Fit::Cover,
                RequestedFit::None => Fit::None,
                _ => Fit::Contain,
            },
            margin: page.margin_pt.max(0.0),
            dpi: (page.dpi > 0).then_some(page.dpi as f32),
        },
        metadata: pdfmill_pdf::Metadata {
            title: (!page.title.is_empty()).then(|| page.title.clone()),
            ..Default::default()
        },
        limits: pdfmill_pdf::Limits::default(),
    }
}
