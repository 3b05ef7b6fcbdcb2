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
//! the reason, before the loop dead-letters the request: whoever follows the job sees it end
//! instead of waiting forever. The decision is the one the loop makes
//! ([`Delivery::failure`]), asked where the handler decides its outcome. Should the status
//! write fail, the request is retried rather than dead-lettered; on its last delivery it goes
//! to the dead letters with both reasons, and a replay finishes the job. A replayed email that
//! is sent moves an `EMAIL_FAILED` job to `EMAILED`.

use async_nats::jetstream::kv;
use pdfmill_core::{Context, Delivery, Failure, Handler, Outcome, Worker, instruments};
use pdfmill_schemas::{
    buckets, consumers, streams, subjects,
    v1::{EmailRequest, EmailResult, ErrorClass, JobState},
};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{
    EmailError, Mailbox, Transport, build_message, message_id, parse_mailbox, render,
    sanitise_email_id, templates,
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
        .map_err(|e| pdfmill_core::Error::Nats(format!("cannot open the email ledger: {e}")))?;
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

/// The email handler.
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

    #[tracing::instrument(name = "email", skip_all, fields(email.id = %delivery.message.email_id, job.id = %delivery.message.job_id, template = %delivery.message.template))]
    async fn handle(&self, delivery: &Delivery<EmailRequest>) -> Outcome {
        let request = &delivery.message;
        let outcome = match self.send_once(request).await {
            Ok(Sent::Now) => Outcome::Done,
            Ok(Sent::Before) => {
                metrics::counter!(instruments::EMAILS, "template" => request.template.clone(), "outcome" => "duplicate").increment(1);
                return Outcome::Done;
            }
            Err(Failed::Email(error)) if error.is_transient() => Outcome::Retry {
                reason: error.to_string(),
            },
            Err(Failed::Email(error)) => Outcome::Reject {
                class: ErrorClass::InvalidRequest,
                reason: error.to_string(),
            },
            Err(Failed::Plumbing(error)) => Outcome::Retry {
                reason: error.to_string(),
            },
        };
        let label = match &outcome {
            Outcome::Done => "sent",
            Outcome::Retry { .. } => "retry",
            Outcome::Reject { .. } => "rejected",
        };
        metrics::counter!(instruments::EMAILS, "template" => request.template.clone(), "outcome" => label).increment(1);
        if let (Some(failure), Outcome::Retry { reason } | Outcome::Reject { reason, .. }) =
            (delivery.failure(&outcome), &outcome)
            && let Err(error) = self.mark_email_failed(request, &failure).await
        {
            return Outcome::Retry {
                reason: format!("{reason}; and the job could not be marked: {error}"),
            };
        }
        outcome
    }

    async fn dead_lettered(&self, request: Option<&EmailRequest>, failure: &Failure) {
        let Some(request) = request else { return };
        let result = EmailResult {
            email_id: request.email_id.clone(),
            job_id: request.job_id.clone(),
            to: request.to.clone(),
            template: request.template.clone(),
            sent: false,
            error: failure.reason.clone(),
            ..EmailResult::default()
        };
        let id = format!("{}:failed", request.email_id);
        if let Err(error) = self
            .ctx
            .publisher
            .publish(subjects::EMAIL_SENT, &id, &result)
            .await
        {
            tracing::warn!(%error, "could not publish the email failure");
        }
    }
}

/// Whether this delivery sent the email or found it sent before.
enum Sent {
    Now,
    Before,
}

/// Why sending failed: the email itself, or the plumbing around it (always worth a retry).
enum Failed {
    Email(EmailError),
    Plumbing(pdfmill_core::Error),
}

impl From<EmailError> for Failed {
    fn from(error: EmailError) -> Self {
        Failed::Email(error)
    }
}

impl From<pdfmill_core::Error> for Failed {
    fn from(error: pdfmill_core::Error) -> Self {
        Failed::Plumbing(error)
    }
}

impl Mailer {
    async fn send_once(&self, request: &EmailRequest) -> Result<Sent, Failed> {
        let key = ledger_key(&request.email_id)?;
        let nats = |context: &str, e: &dyn std::fmt::Display| {
            pdfmill_core::Error::Nats(format!("{context}: {e}"))
        };
        let recorded = self
            .ledger
            .get(&key)
            .await
            .map_err(|e| nats("cannot read the email ledger", &e))?;
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
            self.ledger
                .put(&key, SENT.into())
                .await
                .map_err(|e| nats("cannot record the email in the ledger", &e))?;
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
                &format!("{}:sent", request.email_id),
                &result,
            )
            .await?;
        if let Some(job_id) = pdf_ready_job(request) {
            let mut now_emailed = false;
            let status = self
                .ctx
                .jobs
                .update(job_id, |s| {
                    // EMAIL_FAILED too: a dead letter replayed once the cause is fixed.
                    now_emailed = matches!(s.state(), JobState::Converted | JobState::EmailFailed);
                    if now_emailed {
                        s.set_state(JobState::Emailed);
                        s.updated_at = Some(pdfmill_schemas::timestamp_now());
                        s.error_class = 0;
                        s.error_message.clear();
                    }
                })
                .await?;
            if let Some(latency) =
                instruments::seconds_since(status.submitted_at.as_ref()).filter(|_| now_emailed)
            {
                metrics::histogram!(instruments::JOB_LATENCY, "stage" => "emailed").record(latency);
            }
        }
        Ok(sent)
    }

    /// Called with a request the loop is about to dead-letter: when it is a job's "PDF ready"
    /// email, the job ends `EMAIL_FAILED` with the reason (a job already `EMAILED`, or not
    /// converted, is left as it is). An error means the request must be retried instead.
    async fn mark_email_failed(
        &self,
        request: &EmailRequest,
        failure: &Failure,
    ) -> Result<(), pdfmill_core::Error> {
        let Some(job_id) = pdf_ready_job(request) else {
            return Ok(());
        };
        self.ctx
            .jobs
            .update(job_id, |s| {
                if s.state() == JobState::Converted {
                    s.set_state(JobState::EmailFailed);
                    s.updated_at = Some(pdfmill_schemas::timestamp_now());
                    s.set_error_class(failure.class);
                    s.error_message = failure.reason.clone();
                }
            })
            .await
            .map(drop)
    }
}

/// KV keys allow `[-/_=.a-zA-Z0-9]`: the sanitised id's `%XX` escapes become `=XX`, which
/// keeps the mapping one to one (a literal `=` was itself escaped).
fn ledger_key(email_id: &str) -> Result<String, EmailError> {
    Ok(sanitise_email_id(email_id)?.replace('%', "="))
}

/// The job a "PDF ready" email is about; other emails move no job.
fn pdf_ready_job(request: &EmailRequest) -> Option<&str> {
    (request.template == templates::CONVERSION_COMPLETED && !request.job_id.is_empty())
        .then_some(request.job_id.as_str())
}
