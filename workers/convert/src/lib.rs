//! The convert worker: consumes `image.convert.v1`, fetches the images from the store,
//! converts them into one PDF with `pdfmill-pdf`, stores it, marks the job `converted`, and
//! announces it: `image.converted.v1` and, when an address was given, `email.send.v1`.
//!
//! **Idempotent by construction.** The PDF's key is derived from the job id, so a redelivery
//! overwrites the same object instead of adding one. The job is marked `converted` *before*
//! anything is announced, so the email worker always finds it `converted` when it marks it
//! `emailed`, and never the other way round. A redelivery that finds the job `converted`
//! (a crash between marking and announcing) skips the work and announces again: the events
//! and the email request carry dedup ids derived from the job id, so the server drops a
//! second copy and the email worker's ledger refuses to send one twice.
//!
//! **Failures.** A corrupt, unsupported or too large image, a request naming a missing image,
//! or a request that breaks the job's rules (its id, its page options) is rejected: the loop
//! dead-letters it, and [`Handler::on_dead_letter`] marks the job `failed`, publishes the
//! failure event and asks for the failure email. A store or NATS outage is retried.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod options;

use std::time::{Duration, Instant};

use pdfmill_core::{
    Context, Delivery, Failure, Handler, Marked, Outcome, StoredPdf, Worker, instruments,
};
use pdfmill_schemas::{
    consumers,
    domain::{Invalid, JobId, PageOptions, Template},
    streams, subjects,
    v1::{
        ConversionFailure, ConversionResult, ConversionSuccess, ConvertRequest, EmailRequest,
        ErrorClass, JobStatus, conversion_result::Outcome as ResultOutcome,
    },
};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span};

pub use options::pdf_options;

/// How long a presigned link in a "PDF ready" email stays valid.
const LINK_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

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

/// Turns `image.convert.v1` requests into stored PDFs.
pub struct Converter {
    ctx: Context,
}

/// Why a conversion did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// NATS, the store, or a request that breaks the job's rules.
    #[error(transparent)]
    Plumbing(#[from] pdfmill_core::Error),
    /// An image the converter refused.
    #[error(transparent)]
    Image(#[from] pdfmill_pdf::Error),
    /// The converter panicked: a bug, reported rather than retried forever.
    #[error("the converter crashed on this job: {0}")]
    Crashed(String),
}

impl From<Invalid> for ConvertError {
    fn from(invalid: Invalid) -> Self {
        ConvertError::Plumbing(invalid.into())
    }
}

impl From<&ConvertError> for Outcome {
    fn from(error: &ConvertError) -> Self {
        let class = match error {
            ConvertError::Plumbing(error) => return error.into(),
            ConvertError::Image(image) => match image.kind() {
                pdfmill_pdf::ErrorKind::Corrupt => ErrorClass::Corrupt,
                pdfmill_pdf::ErrorKind::Unsupported => ErrorClass::Unsupported,
                pdfmill_pdf::ErrorKind::TooLarge => ErrorClass::TooLarge,
                pdfmill_pdf::ErrorKind::Io => {
                    return Outcome::Retry {
                        reason: error.to_string(),
                    };
                }
            },
            ConvertError::Crashed(_) => ErrorClass::Internal,
        };
        Outcome::Reject {
            class,
            reason: error.to_string(),
        }
    }
}

impl From<ConvertError> for Outcome {
    fn from(error: ConvertError) -> Self {
        Outcome::from(&error)
    }
}

impl Handler for Converter {
    type Message = ConvertRequest;
    type Error = ConvertError;

    async fn handle(&self, delivery: &Delivery<ConvertRequest>) -> Result<(), ConvertError> {
        let result = self.convert(&delivery.message, delivery.delivered).await;
        metrics::counter!(instruments::CONVERSIONS, "outcome" => outcome_label(&result))
            .increment(1);
        result
    }

    async fn on_dead_letter(
        &self,
        request: Option<&ConvertRequest>,
        failure: &Failure,
    ) -> Result<(), ConvertError> {
        // A request that names no valid job has no status to mark and nobody to tell.
        let Some((request, job)) =
            request.and_then(|r| JobId::parse(&r.job_id).ok().map(|job| (r, job)))
        else {
            return Ok(());
        };
        self.ctx.jobs.mark_failed(&job, request, failure).await?;
        self.announce_failure(&job, request, failure).await
    }
}

impl Converter {
    #[tracing::instrument(name = "convert", skip_all, fields(job.id = %request.job_id, images = request.images.len(), input_bytes = tracing::field::Empty, pages = tracing::field::Empty, pdf.size_bytes = tracing::field::Empty))]
    async fn convert(&self, request: &ConvertRequest, attempt: u64) -> Result<(), ConvertError> {
        let (job, page) = check(request)?;
        let pdf = match self.ctx.jobs.mark_converting(&job, request).await? {
            Marked::Moved(_) => self.make_pdf(&job, request, &page).await?,
            Marked::Kept(status) if status.state() == pdfmill_schemas::v1::JobState::Converted => {
                info!("already converted; announcing it again");
                recorded_pdf(&status)
            }
            Marked::Kept(status) => {
                info!(state = status.state().name(), "already done; nothing to do");
                return Ok(());
            }
        };
        self.announce(&job, request, &pdf, attempt).await
    }

    /// Fetch, render, store, mark: the work of a job seen for the first time.
    async fn make_pdf(
        &self,
        job: &JobId,
        request: &ConvertRequest,
        page: &PageOptions,
    ) -> Result<StoredPdf, ConvertError> {
        let started = Instant::now();
        let images = self.fetch(request).await?;
        let input_bytes: u64 = images.iter().map(|i| i.len() as u64).sum();
        let (pdf, pages) = render(images, page).await?;
        let stored = self.store(job, pdf, pages).await?;
        let duration = started.elapsed();
        let span = tracing::Span::current();
        span.record("input_bytes", input_bytes);
        span.record("pages", pages);
        span.record("pdf.size_bytes", stored.size_bytes);
        info!(pages, size = stored.size_bytes, ?duration, "converted");
        metrics::histogram!(instruments::CONVERSION_DURATION).record(duration.as_secs_f64());
        metrics::histogram!(instruments::CONVERSION_INPUT_BYTES).record(input_bytes as f64);
        metrics::histogram!(instruments::CONVERSION_OUTPUT_BYTES).record(stored.size_bytes as f64);
        metrics::histogram!(instruments::CONVERSION_PAGES).record(pages as f64);
        if let Marked::Moved(status) = self.ctx.jobs.mark_converted(job, &stored).await?
            && let Some(latency) = instruments::seconds_since(status.submitted_at.as_ref())
        {
            metrics::histogram!(instruments::JOB_LATENCY, "stage" => "converted").record(latency);
        }
        Ok(stored)
    }

    async fn fetch(&self, request: &ConvertRequest) -> Result<Vec<Vec<u8>>, ConvertError> {
        let span = info_span!(
            "fetch",
            images = request.images.len(),
            input_bytes = tracing::field::Empty
        );
        async {
            let mut images = Vec::with_capacity(request.images.len());
            for image in &request.images {
                images.push(self.ctx.store.get(&image.key).await?.to_vec());
            }
            let input_bytes: usize = images.iter().map(Vec::len).sum();
            tracing::Span::current().record("input_bytes", input_bytes);
            Ok(images)
        }
        .instrument(span)
        .await
    }

    async fn store(
        &self,
        job: &JobId,
        pdf: Vec<u8>,
        pages: usize,
    ) -> Result<StoredPdf, ConvertError> {
        let stored = StoredPdf {
            key: job.pdf_key(),
            pages: pages as u32,
            size_bytes: pdf.len() as u64,
        };
        self.ctx
            .store
            .put(&stored.key, pdf.into())
            .instrument(
                info_span!("store", pdf.key = %stored.key, pdf.size_bytes = stored.size_bytes),
            )
            .await?;
        Ok(stored)
    }

    /// Publishes the success event and, when the job has an address, asks for its email.
    async fn announce(
        &self,
        job: &JobId,
        request: &ConvertRequest,
        pdf: &StoredPdf,
        attempt: u64,
    ) -> Result<(), ConvertError> {
        let result = ConversionResult {
            job_id: job.to_string(),
            outcome: Some(ResultOutcome::Success(ConversionSuccess {
                pdf_key: pdf.key.clone(),
                pdf_size_bytes: pdf.size_bytes,
                pages: pdf.pages,
                input_bytes: request.images.iter().map(|i| i.size_bytes).sum(),
            })),
            finished_at: Some(pdfmill_schemas::timestamp_now()),
            notify_email: request.notify_email.clone(),
            attempt: attempt as u32,
            ..ConversionResult::default()
        };
        self.ctx
            .publisher
            .publish(
                subjects::IMAGE_CONVERTED,
                &job.converted_event_id(),
                &result,
            )
            .await?;
        if request.notify_email.is_empty() {
            return Ok(());
        }
        let variables = [
            ("job_id", job.to_string()),
            ("pdf_url", self.pdf_link(job, &pdf.key).await?),
            ("pages", pdf.pages.to_string()),
            ("size_bytes", pdf.size_bytes.to_string()),
        ];
        self.request_email(job, request, Template::ConversionCompleted, &variables)
            .await
    }

    /// Publishes the failure event and, when the job has an address, asks for its email.
    async fn announce_failure(
        &self,
        job: &JobId,
        request: &ConvertRequest,
        failure: &Failure,
    ) -> Result<(), ConvertError> {
        let result = ConversionResult {
            job_id: job.to_string(),
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
            .publish(subjects::IMAGE_CONVERTED, &job.failed_event_id(), &result)
            .await?;
        if request.notify_email.is_empty() {
            return Ok(());
        }
        let variables = [
            ("job_id", job.to_string()),
            ("error_message", failure.reason.clone()),
        ];
        self.request_email(job, request, Template::ConversionFailed, &variables)
            .await
    }

    async fn request_email(
        &self,
        job: &JobId,
        request: &ConvertRequest,
        template: Template,
        variables: &[(&str, String)],
    ) -> Result<(), ConvertError> {
        let email = EmailRequest {
            email_id: job.email_id(template),
            to: request.notify_email.clone(),
            template: template.name().to_string(),
            variables: variables
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            job_id: job.to_string(),
            requested_at: Some(pdfmill_schemas::timestamp_now()),
        };
        self.ctx
            .publisher
            .publish(subjects::EMAIL_SEND, &email.email_id, &email)
            .await?;
        Ok(())
    }

    /// A presigned URL when the store can make one, else the ingress's download route.
    async fn pdf_link(&self, job: &JobId, key: &str) -> Result<String, ConvertError> {
        Ok(
            match self.ctx.store.download_url(key, LINK_LIFETIME).await? {
                Some(url) => url,
                None => format!(
                    "{}{}",
                    self.ctx.settings.public_url.trim_end_matches('/'),
                    job.pdf_path()
                ),
            },
        )
    }
}

/// The request's job id and page options, checked by the job's rules.
fn check(request: &ConvertRequest) -> Result<(JobId, PageOptions), ConvertError> {
    let job = JobId::parse(&request.job_id)?;
    if request.images.is_empty() {
        return Err(Invalid::new("images", "the request names no images").into());
    }
    if request.images.iter().any(|i| i.key.is_empty()) {
        return Err(Invalid::new("images", "an image has an empty key").into());
    }
    Ok((job, PageOptions::from_request(request.page.as_ref())?))
}

/// Converts on a blocking thread: the work is CPU-bound.
async fn render(
    images: Vec<Vec<u8>>,
    page: &PageOptions,
) -> Result<(Vec<u8>, usize), ConvertError> {
    let options = pdf_options(page);
    let converted = tokio::task::spawn_blocking(move || {
        let mut pdf = Vec::new();
        pdfmill_pdf::convert(images, &options, &mut pdf).map(|pages| (pdf, pages.len()))
    })
    .await
    .map_err(|e| ConvertError::Crashed(e.to_string()))?;
    Ok(converted?)
}

/// What a job's status records about its PDF.
fn recorded_pdf(status: &JobStatus) -> StoredPdf {
    StoredPdf {
        key: status.pdf_key.clone(),
        pages: status.pages,
        size_bytes: status.pdf_size_bytes,
    }
}

/// The `outcome` label of `pdfmill_conversions_total`.
fn outcome_label(result: &Result<(), ConvertError>) -> &'static str {
    match result.as_ref().map_err(Outcome::from) {
        Ok(()) => "success",
        Err(Outcome::Retry { .. }) => "retry",
        Err(Outcome::Reject { class, .. }) => match class {
            ErrorClass::Corrupt => "corrupt",
            ErrorClass::Unsupported => "unsupported",
            ErrorClass::TooLarge => "too_large",
            ErrorClass::Internal => "internal",
            _ => "invalid_request",
        },
        Err(Outcome::Done) => "success",
    }
}
