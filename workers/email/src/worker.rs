//! The email worker: consumes `email.send.v1`, renders and sends each email once, and
//! publishes `email.sent.v1`.
//!
//! **Why a ledger before SMTP.** JetStream delivers at least once: a worker can crash after
//! the relay accepted an email and before the ack, and the request comes back. The
//! `email_ledger` bucket records every email id once it is sent; a request whose id is in it
//! is acknowledged without sending. What remains at-least-once is the window between the
//! relay's `250` and the ledger write (milliseconds); the deterministic Message-ID lets the
//! receiving side spot a duplicate from that window.
//!
//! **A job's "PDF ready" email moves the job.** Sent, the job becomes `EMAILED`. Given up on
//! (refused for good, or still failing on the last delivery), it becomes `EMAIL_FAILED` with
//! the reason, before the loop dead-letters the request ([`Handler::on_dead_letter`]): whoever
//! follows the job sees it end instead of waiting forever. Should the status write fail, the
//! loop retries the request rather than dead-lettering it; on its last delivery it goes to
//! the dead letters with both reasons, and a replay finishes the job. A replayed email that
//! is sent moves an `EMAIL_FAILED` job to `EMAILED`.

use async_nats::jetstream::kv;
use pdfmill_core::{Context, Delivery, Failure, Handler, Marked, Outcome, Worker, instruments};
use pdfmill_schemas::{
    buckets, consumers,
    domain::{self, JobId, Template},
    streams, subjects,
    v1::{EmailRequest, EmailResult, ErrorClass},
};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{
    EmailError, Mailbox, Transport, build_message, message_id, parse_mailbox, render,
    sanitise_email_id,
};

/// Runs an email worker until `shutdown` is cancelled, then drains.
pub async fn run(ctx: Context, shutdown: CancellationToken) -> Result<(), pdfmill_core::Error> {
    worker(ctx).await?.run(shutdown).await
}

/// The worker, for callers (tests) that drive it step by step.
pub async fn worker(ctx: Context) -> Result<Worker<Mailer>, pdfmill_core::Error> {
    let config_error = |e: EmailError| pdfmill_core::Error::Config(e.to_string());
    let transport = Transport::from_url(&ctx.settings.email_url).map_err(config_error)?;
    let from = parse_mailbox(&ctx.settings.email_from).map_err(config_error)?;
    let ledger = ctx
        .js
        .get_key_value(buckets::EMAIL_LEDGER)
        .await
        .map_err(|_| pdfmill_core::Error::NotDeclared {
            what: format!("KV bucket {}", buckets::EMAIL_LEDGER),
        })?;
    let concurrency = ctx.settings.email_concurrency;
    let js = ctx.js.clone();
    let mailer = Mailer {
        ctx,
        transport,
        from,
        ledger,
    };
    Worker::new(
        &js,
        streams::EMAIL,
        consumers::EMAIL,
        subjects::EMAIL_SEND,
        mailer,
        concurrency,
    )
    .await
}

/// Sends each `email.send.v1` request once.
pub struct Mailer {
    ctx: Context,
    transport: Transport,
    from: Mailbox,
    ledger: kv::Store,
}

/// The value recorded in the ledger for a sent email.
const SENT: &[u8] = b"sent";

impl Handler for Mailer {
    type Message = EmailRequest;
    type Error = SendError;

    #[tracing::instrument(name = "email", skip_all, fields(email.id = %delivery.message.email_id, job.id = %delivery.message.job_id, template = %delivery.message.template))]
    async fn handle(&self, delivery: &Delivery<EmailRequest>) -> Result<(), SendError> {
        let request = &delivery.message;
        let result = self.send_once(request).await;
        let label = match &result {
            Ok(Sent::Now) => "sent",
            Ok(Sent::Before) => "duplicate",
            Err(error) => match Outcome::from(error) {
                Outcome::Retry { .. } => "retry",
                _ => "rejected",
            },
        };
        metrics::counter!(instruments::EMAILS, "template" => request.template.clone(), "outcome" => label).increment(1);
        result.map(drop)
    }

    /// A job's "PDF ready" email ends the job `EMAIL_FAILED` (a job already `EMAILED`, or not
    /// converted, is left as it is), and `email.sent.v1` says the email was given up on.
    async fn on_dead_letter(
        &self,
        request: Option<&EmailRequest>,
        failure: &Failure,
    ) -> Result<(), SendError> {
        let Some(request) = request else {
            return Ok(());
        };
        if let Some(job) = pdf_ready_job(request) {
            self.ctx.jobs.mark_email_failed(&job, failure).await?;
        }
        let result = EmailResult {
            email_id: request.email_id.clone(),
            job_id: request.job_id.clone(),
            to: request.to.clone(),
            template: request.template.clone(),
            sent: false,
            error: failure.reason.clone(),
            ..EmailResult::default()
        };
        let id = domain::email_event_id(&request.email_id, false);
        self.ctx
            .publisher
            .publish(subjects::EMAIL_SENT, &id, &result)
            .await?;
        Ok(())
    }
}

/// Whether this delivery sent the email or found it sent before.
enum Sent {
    Now,
    Before,
}

/// Why sending failed: the email itself, or the plumbing around it.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The email cannot be sent, now ([`EmailError::is_transient`]) or ever.
    #[error(transparent)]
    Email(#[from] EmailError),
    /// NATS or the store failed.
    #[error(transparent)]
    Plumbing(#[from] pdfmill_core::Error),
}

impl From<&SendError> for Outcome {
    fn from(error: &SendError) -> Self {
        match error {
            SendError::Plumbing(error) => error.into(),
            SendError::Email(email) if email.is_transient() => Outcome::Retry {
                reason: email.to_string(),
            },
            SendError::Email(email) => Outcome::Reject {
                class: ErrorClass::InvalidRequest,
                reason: email.to_string(),
            },
        }
    }
}

impl From<SendError> for Outcome {
    fn from(error: SendError) -> Self {
        Outcome::from(&error)
    }
}

impl Mailer {
    async fn send_once(&self, request: &EmailRequest) -> Result<Sent, SendError> {
        let key = ledger_key(&request.email_id)?;
        let recorded = self
            .ledger
            .get(&key)
            .await
            .map_err(|e| pdfmill_core::Error::nats("cannot read the email ledger", e))?;
        let sent = if recorded.as_deref() == Some(SENT) {
            info!("already sent; not sending again");
            Sent::Before
        } else {
            let rendered = render(request)?;
            let message = build_message(&self.from, request, &rendered)?;
            let started = std::time::Instant::now();
            self.transport.send(&message, &request.email_id).await?;
            metrics::histogram!(instruments::SMTP_SEND_DURATION)
                .record(started.elapsed().as_secs_f64());
            self.ledger.put(&key, SENT.into()).await.map_err(|e| {
                pdfmill_core::Error::nats("cannot record the email in the ledger", e)
            })?;
            info!(to = %request.to, "sent");
            Sent::Now
        };
        let result = EmailResult {
            email_id: request.email_id.clone(),
            job_id: request.job_id.clone(),
            to: request.to.clone(),
            template: request.template.clone(),
            message_id: message_id(&request.email_id)?,
            sent: true,
            sent_at: Some(pdfmill_schemas::timestamp_now()),
            ..EmailResult::default()
        };
        self.ctx
            .publisher
            .publish(
                subjects::EMAIL_SENT,
                &domain::email_event_id(&request.email_id, true),
                &result,
            )
            .await?;
        if let Some(job) = pdf_ready_job(request)
            && let Marked::Moved(status) = self.ctx.jobs.mark_emailed(&job).await?
            && let Some(latency) = instruments::seconds_since(status.submitted_at.as_ref())
        {
            metrics::histogram!(instruments::JOB_LATENCY, "stage" => "emailed").record(latency);
        }
        Ok(sent)
    }
}

/// KV keys allow `[-/_=.a-zA-Z0-9]`: the sanitised id's `%XX` escapes become `=XX`, which
/// keeps the mapping one to one (a literal `=` was itself escaped).
fn ledger_key(email_id: &str) -> Result<String, EmailError> {
    Ok(sanitise_email_id(email_id)?.replace('%', "="))
}

/// The job a "PDF ready" email is about; other emails (and ids that name no job) move none.
fn pdf_ready_job(request: &EmailRequest) -> Option<JobId> {
    (request.template == Template::ConversionCompleted.name())
        .then(|| JobId::parse(&request.job_id).ok())
        .flatten()
}
