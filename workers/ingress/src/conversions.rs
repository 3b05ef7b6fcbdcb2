//! `/v1/conversions`: submit a job, read its status once or live, download its PDF.
//!
//! Submitting follows the order that leaves nothing half-written (see the crate docs):
//! images → store, request → JetStream (dedup id = job id), then status `queued` with a
//! compare-and-set that never moves a job backwards, should a fast worker already have taken
//! it. Status reads come straight from the `jobs` KV bucket, which every worker updates.

use std::{convert::Infallible, time::Duration};

use axum::{
    Json,
    body::Body,
    extract::{Path, Query, Request, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{
        IntoResponse, Redirect, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::{Stream, StreamExt};
use pdfmill_schemas::{
    domain::{IdempotencyKey, JobId},
    v1::{JobState, JobStatus},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{ApiError, Ingress, auth, error::ErrorBody, upload};

/// The header a client sets to make a POST safe to retry.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The answer to a submitted job.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Accepted {
    /// The job id.
    pub id: String,
    /// The job's state (`queued` for a new job; a retried request sees the current state).
    pub state: JobPhase,
    /// Where to read the job's status (relative to this server).
    pub status_url: String,
}

/// The life of a job: `queued` → `converting` → `converted` → `emailed` (when an address was
/// given); `failed` ends a job that will not finish, `email_failed` a job whose PDF is ready
/// but whose email could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = State)]
pub(crate) enum JobPhase {
    /// Accepted; no worker has started.
    Queued,
    /// A worker is converting it.
    Converting,
    /// The PDF is ready.
    Converted,
    /// The PDF is ready and the email was sent.
    Emailed,
    /// It failed for good; see `error`.
    Failed,
    /// The PDF is ready, but the email could not be sent; see `error`.
    EmailFailed,
}

impl From<JobState> for JobPhase {
    fn from(state: JobState) -> Self {
        match state {
            JobState::Unspecified | JobState::Queued => JobPhase::Queued,
            JobState::Converting => JobPhase::Converting,
            JobState::Converted => JobPhase::Converted,
            JobState::Emailed => JobPhase::Emailed,
            JobState::Failed => JobPhase::Failed,
            JobState::EmailFailed => JobPhase::EmailFailed,
        }
    }
}

/// One server-sent event of `GET /v1/conversions/{id}/events`, as the OpenAPI document
/// describes it (the handler writes the same two fields with axum's `Event`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatusEvent {
    /// Always `status`.
    event: String,
    /// A [`ConversionStatus`] as JSON.
    #[schema(content_media_type = "application/json")]
    data: String,
}

/// A job's status.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConversionStatus {
    /// The job id.
    pub id: String,
    /// Where the job is.
    pub state: JobPhase,
    /// When it was submitted (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
    /// When the status last changed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Number of input images.
    pub images: u32,
    /// Pages in the PDF, once converted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
    /// Size of the PDF in bytes, once converted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// Where the "PDF ready" email goes, if anywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Where to download the PDF (relative to this server), once converted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdf_url: Option<String>,
    /// Why the job failed, or why its email could not be sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<JobError>,
}

/// Why a job failed, or why its email could not be sent.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobError {
    /// `corrupt`, `unsupported`, `too_large`, `invalid_request` or `internal`.
    pub class: String,
    /// For a person.
    pub message: String,
}

impl ConversionStatus {
    fn new(status: &JobStatus) -> Self {
        let id = status.job_id.clone();
        let time = |t: &Option<pdfmill_schemas::well_known::Timestamp>| {
            t.and_then(|t| jiff::Timestamp::new(t.seconds, t.nanos).ok())
                .map(|t| t.to_string())
        };
        let converted = !status.pdf_key.is_empty();
        ConversionStatus {
            state: status.state().into(),
            submitted_at: time(&status.submitted_at),
            updated_at: time(&status.updated_at),
            images: status.image_count,
            pages: converted.then_some(status.pages),
            size_bytes: converted.then_some(status.pdf_size_bytes),
            email: (!status.notify_email.is_empty()).then(|| status.notify_email.clone()),
            pdf_url: converted
                .then(|| JobId::parse(&id).ok().map(|job| job.pdf_path()))
                .flatten(),
            error: matches!(status.state(), JobState::Failed | JobState::EmailFailed).then(|| {
                JobError {
                    class: status
                        .error_class()
                        .as_str_name()
                        .trim_start_matches("ERROR_CLASS_")
                        .to_ascii_lowercase(),
                    message: status.error_message.clone(),
                }
            }),
            id,
        }
    }
}

/// Submit images for conversion into one PDF.
///
/// Send `multipart/form-data` with one or more `image` fields (PNG or JPEG, one page each, in
/// order) and optional `email`, `page_size`, `fit`, `margin`, `dpi`, `title` fields; or send
/// one image as the raw body (`Content-Type: image/png` or `image/jpeg`) with the same options
/// in the query string. The image type is judged from the bytes. With an `Idempotency-Key`
/// header, a retried request returns the first request's job and stores nothing again.
#[utoipa::path(
    post,
    path = "/v1/conversions",
    tag = "conversions",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the same job (at most 255 visible ASCII characters)"),
        upload::Options,
    ),
    request_body(
        description = "The images, as a form or as one raw image",
        content(
            (ConversionForm = "multipart/form-data"),
            (Vec<u8> = "image/png"),
            (Vec<u8> = "image/jpeg"),
        ),
    ),
    responses(
        (status = 202, description = "Accepted; the job is queued", body = Accepted,
         headers(("Location" = String, description = "The status URL"))),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 413, description = "Over the size or image-count limit", body = ErrorBody),
        (status = 415, description = "Not a PNG or JPEG, or not a form", body = ErrorBody),
        (status = 422, description = "Bad address, option or form, or an Idempotency-Key already used for another request", body = ErrorBody),
        (status = 503, description = "NATS or the store is unavailable; nothing was queued", body = ErrorBody),
    ),
    security((), ("api_key" = [])),
)]
#[tracing::instrument(name = "submit", skip_all, fields(job.id = tracing::field::Empty))]
pub(crate) async fn create(
    State(state): State<Ingress>,
    headers: HeaderMap,
    query: Result<Query<upload::Options>, QueryRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::InvalidRequest(e.body_text()))?;
    let ctx = state.ctx();
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .map(|value| IdempotencyKey::parse(value.to_str().unwrap_or_default()))
        .transpose()?;
    let job = match &key {
        Some(key) => key.job_id(&auth::caller(&headers)),
        None => JobId::new(),
    };
    tracing::Span::current().record("job.id", job.as_str());
    require_nats(&state)?;
    let upload = upload::read(request, query, state.settings().limits).await?;
    let submission = pdfmill_core::Submission {
        job,
        notify_email: upload.email.unwrap_or_default(),
        page: upload.page,
        uploads: upload
            .images
            .into_iter()
            .map(|image| pdfmill_core::Upload {
                name: image.name,
                bytes: image.bytes,
                content_type: image.content_type.to_string(),
            })
            .collect(),
    };
    if key.is_some()
        && let Some(existing) = ctx.jobs.get(&submission.job).await?
    {
        if !existing.request_digest.is_empty() && existing.request_digest != submission.digest() {
            return Err(ApiError::IdempotencyKeyReused);
        }
        tracing::info!("a retry of a job already accepted");
        return Ok(accepted(&submission.job, existing.state().into()));
    }
    let (job, images) = (submission.job.clone(), submission.uploads.len());
    let (status, published) = ctx.submit(submission).await?;
    if !published.duplicate {
        metrics::counter!(pdfmill_core::instruments::JOBS_SUBMITTED, "source" => "http")
            .increment(1);
    }
    tracing::info!(images, duplicate = published.duplicate, "queued");
    Ok(accepted(&job, status.state().into()))
}

/// The form of a conversion request (for the OpenAPI document).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ConversionForm {
    /// One or more PNG or JPEG files, one page each, in order.
    #[schema(value_type = Vec<String>, format = Binary)]
    image: Vec<Vec<u8>>,
    /// Where to send the "PDF ready" email.
    email: Option<String>,
    /// `image` (default), `a3`, `a4`, `a5`, `letter`, `legal` or `WxH<unit>` (`210x297mm`).
    page_size: Option<String>,
    /// `contain` (default), `cover` or `none`.
    fit: Option<String>,
    /// Margin on every side, e.g. `10mm`.
    margin: Option<String>,
    /// Resolution when the image does not say (1–10000).
    dpi: Option<u32>,
    /// The PDF's title.
    title: Option<String>,
}

fn accepted(job: &JobId, state: JobPhase) -> Response {
    let status_url = job.status_path();
    let mut response = (
        StatusCode::ACCEPTED,
        Json(Accepted {
            id: job.to_string(),
            state,
            status_url: status_url.clone(),
        }),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&status_url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Refuses at once while NATS is disconnected, before anything is read or stored.
pub(crate) fn require_nats(state: &Ingress) -> Result<(), ApiError> {
    match state.ctx().client.connection_state() {
        async_nats::connection::State::Connected => Ok(()),
        other => Err(ApiError::Unavailable(format!("NATS is {other}"))),
    }
}

/// The status of job `id`; an id that breaks the job id rule cannot name a job.
async fn job(state: &Ingress, id: &str) -> Result<(JobId, JobStatus), ApiError> {
    let not_found = || ApiError::JobNotFound(id.to_string());
    let job = JobId::parse(id).map_err(|_| not_found())?;
    require_nats(state)?;
    let status = state.ctx().jobs.get(&job).await?.ok_or_else(not_found)?;
    Ok((job, status))
}

/// A job's status.
#[utoipa::path(
    get,
    path = "/v1/conversions/{id}",
    tag = "conversions",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The status", body = ConversionStatus),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 503, description = "NATS is unavailable", body = ErrorBody),
    ),
    security((), ("api_key" = [])),
)]
pub(crate) async fn status(
    State(state): State<Ingress>,
    Path(id): Path<String>,
) -> Result<Json<ConversionStatus>, ApiError> {
    Ok(Json(ConversionStatus::new(&job(&state, &id).await?.1)))
}

/// A job's status, live, as server-sent events.
///
/// Each change is an event named `status` whose data is the same JSON as
/// `GET /v1/conversions/{id}`; the first event is the current status. The stream ends after
/// the job's final state (`failed`, `emailed`, `email_failed`, or `converted` when no email was
/// asked for).
#[utoipa::path(
    get,
    path = "/v1/conversions/{id}/events",
    tag = "conversions",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "Server-sent events: each is `event: status` with `data:` a `ConversionStatus` as JSON; the stream ends with the job", content_type = "text/event-stream", body = StatusEvent),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 503, description = "NATS is unavailable", body = ErrorBody),
    ),
    security((), ("api_key" = [])),
)]
pub(crate) async fn events(
    State(state): State<Ingress>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let (job, _) = job(&state, &id).await?;
    let statuses = state.ctx().jobs.watch(&job).await?;
    let events = statuses.filter_map(|status| async move {
        let event = Event::default()
            .event("status")
            .json_data(ConversionStatus::new(&status));
        event.ok().map(Ok)
    });
    let stream = events.take_until(state.shutdown().clone().cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The PDF of a converted job: the bytes, or a `307` redirect to a presigned URL when the
/// store is S3.
#[utoipa::path(
    get,
    path = "/v1/conversions/{id}/pdf",
    tag = "conversions",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The PDF", content_type = "application/pdf", body = Vec<u8>),
        (status = 307, description = "Download it from the store (presigned URL in `Location`)"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job has no PDF yet", body = ErrorBody),
        (status = 503, description = "NATS or the store is unavailable", body = ErrorBody),
    ),
    security((), ("api_key" = [])),
)]
pub(crate) async fn pdf(
    State(state): State<Ingress>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (_, status) = job(&state, &id).await?;
    if status.pdf_key.is_empty() {
        return Err(ApiError::PdfNotReady(id));
    }
    let store = &state.ctx().store;
    if let Some(url) = store
        .download_url(&status.pdf_key, Duration::from_secs(15 * 60))
        .await?
    {
        return Ok(Redirect::temporary(&url).into_response());
    }
    let headers = [
        (header::CONTENT_TYPE, "application/pdf".to_string()),
        (
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{id}.pdf\""),
        ),
    ];
    // A filesystem store streams the file; anything else is read whole.
    if let Some(path) = store.local_path(&status.pdf_key) {
        let file = tokio::fs::File::open(&path).await.map_err(|e| {
            ApiError::Internal(format!("the PDF of {id} is missing from the store: {e}"))
        })?;
        let length = file.metadata().await.map(|m| m.len()).ok();
        let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
        let mut response = (headers, body).into_response();
        if let Some(length) = length {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        return Ok(response);
    }
    let bytes = store.get(&status.pdf_key).await?;
    Ok((headers, bytes).into_response())
}
