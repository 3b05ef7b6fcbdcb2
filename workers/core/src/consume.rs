//! The one consumer loop every worker shares.
//!
//! A service implements [`Handler`]: it gets a decoded message and returns `Ok` or its error,
//! which becomes an [`Outcome`] by one rule (`From<&Error> for Outcome`).
//! Everything else — pulling, decoding, trace context, progress acks, the ack decision,
//! dead-lettering, bounded concurrency and shutdown — happens here, once:
//!
//! | outcome | what the loop does |
//! |---|---|
//! | [`Outcome::Done`] | double ack (waits for the server to confirm) |
//! | [`Outcome::Retry`] | nak with a delay that grows with the delivery count; on the last delivery, dead-letter instead |
//! | [`Outcome::Reject`] | tell the handler ([`Handler::on_dead_letter`]), dead-letter: publish to `dlq.<subject>`, terminate |
//! | undecodable payload | same as a reject: it will never decode |
//!
//! **Backpressure.** The loop asks the server for at most as many messages as it has free
//! permits (one permit per message in progress), so nothing sits unprocessed in a client
//! buffer where a shutdown would strand it until its ack wait runs out. The server's own bound
//! is the consumer's `max_ack_pending`, shared by every worker on the consumer.
//!
//! **Long work.** While a handler runs, the loop sends in-progress acks every third of the ack
//! wait, so the server does not redeliver a message that is still being worked on.
//!
//! **Shutdown.** When the token is cancelled the loop stops asking for messages, naks any that
//! arrive from the last pull (so another worker gets them at once), lets every handler in
//! progress finish and settle its message, then returns.
//!
//! **Crashes.** A worker that dies mid-message never acks it; the server redelivers it after
//! the ack wait. Handlers are written to be idempotent for exactly that reason.

use std::{future::Future, sync::Arc, time::Duration};

use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use futures::StreamExt;
use pdfmill_schemas::{
    headers,
    payload::{self, Payload},
    subjects,
    v1::ErrorClass,
};
use tokio::{sync::Semaphore, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info_span, warn};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{Error, Publisher, instruments, publish::extract_trace_context};

/// What a handler decided about one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The work is done and durable: acknowledge.
    Done,
    /// A passing failure (a server unreachable, a timeout): deliver again later.
    Retry {
        /// Why, for the log and, after the last delivery, the dead letter.
        reason: String,
    },
    /// The message can never succeed (corrupt input, invalid request): dead-letter it.
    Reject {
        /// Who is at fault, for the dead letter and the failure event.
        class: ErrorClass,
        /// Why, in words a person understands.
        reason: String,
    },
}

/// A message that failed for good, as told to [`Handler::on_dead_letter`].
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Who is at fault.
    pub class: ErrorClass,
    /// Why.
    pub reason: String,
    /// How many times the message was delivered.
    pub delivered: u64,
}

/// One decoded message and what is known about its delivery.
#[derive(Debug)]
pub struct Delivery<M> {
    /// The message.
    pub message: M,
    /// Its dedup id (`Nats-Msg-Id`), or the stream sequence when it has none.
    pub id: String,
    /// 1 on the first delivery, 2 on the first redelivery, …
    pub delivered: u64,
}

impl Outcome {
    /// The failure this outcome dead-letters on delivery `delivered` of at most
    /// `max_deliveries`; `None` when it acks or naks.
    fn failure(&self, delivered: u64, max_deliveries: u64) -> Option<Failure> {
        match self {
            Outcome::Done => None,
            Outcome::Retry { .. } if delivered < max_deliveries => None,
            Outcome::Retry { reason } => Some(Failure {
                class: ErrorClass::Internal,
                reason: format!("gave up after {delivered} deliveries: {reason}"),
                delivered,
            }),
            Outcome::Reject { class, reason } => Some(Failure {
                class: *class,
                reason: reason.clone(),
                delivered,
            }),
        }
    }
}

/// A service's part of the loop.
pub trait Handler: Send + Sync + 'static {
    /// The message type on this consumer's subject.
    type Message: Payload + Send + Sync + 'static;
    /// What can go wrong; the loop turns it into an [`Outcome`] (a service's error delegates
    /// to core's rule for the plumbing's errors, `From<&Error> for Outcome`).
    type Error: Into<Outcome> + Send;

    /// Does the work for one message. Must be idempotent: a message can be delivered again
    /// after a crash.
    fn handle(
        &self,
        delivery: &Delivery<Self::Message>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Called when the loop is about to dead-letter a message, with the message when it
    /// decoded: the place to record the failure beyond the dead letter (a job's status, a
    /// failure event, a failure email). An error makes the loop deliver the message again
    /// instead (on its last delivery it is dead-lettered anyway, with both reasons), so what
    /// this records is never lost. Must be idempotent. Default: nothing.
    fn on_dead_letter(
        &self,
        message: Option<&Self::Message>,
        failure: &Failure,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = (message, failure);
        async { Ok(()) }
    }
}

/// Retry timing for [`Outcome::Retry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failed delivery; doubled for each further one.
    pub first_delay: Duration,
    /// Upper bound of the delay.
    pub max_delay: Duration,
    /// Deliveries after which a retryable failure is dead-lettered; the consumer's
    /// `max_deliver`.
    pub max_deliveries: u64,
}

impl RetryPolicy {
    /// The delay before delivery `delivered + 1`.
    pub fn delay(&self, delivered: u64) -> Duration {
        let doublings = delivered.saturating_sub(1).min(20) as u32;
        self.first_delay
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max_delay)
    }
}

/// A consumer loop: one durable pull consumer, one handler.
pub struct Worker<H> {
    handler: Arc<H>,
    consumer: PullConsumer,
    publisher: Publisher,
    subject: &'static str,
    concurrency: usize,
    retry: RetryPolicy,
    ack_wait: Duration,
}

impl<H: Handler> Worker<H> {
    /// Binds `handler` to the durable consumer `consumer` on `stream`, reading `subject`.
    pub async fn new(
        js: &jetstream::Context,
        stream: &str,
        consumer: &str,
        subject: &'static str,
        handler: H,
        concurrency: usize,
    ) -> Result<Self, Error> {
        let consumer: PullConsumer = js
            .get_stream(stream)
            .await
            .map_err(|e| Error::nats(format!("cannot open stream {stream}"), e))?
            .get_consumer(consumer)
            .await
            .map_err(|e| Error::nats(format!("cannot open consumer {stream}/{consumer}"), e))?;
        let config = &consumer.cached_info().config;
        let retry = RetryPolicy {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_deliveries: u64::try_from(config.max_deliver)
                .ok()
                .filter(|&n| n > 0)
                .unwrap_or(u64::MAX),
        };
        let ack_wait = config.ack_wait;
        Ok(Worker {
            handler: Arc::new(handler),
            consumer,
            publisher: Publisher::new(js.clone()),
            subject,
            concurrency: concurrency.max(1),
            retry,
            ack_wait,
        })
    }

    /// Replaces the retry timing (tests use short delays).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Runs until `shutdown` is cancelled, then drains (see the module docs).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let this = Arc::new(self);
        let mut in_progress = JoinSet::new();
        while !shutdown.is_cancelled() {
            let first = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            };
            let wanted = 1 + permits.available_permits();
            let batch = this
                .consumer
                .batch()
                .max_messages(wanted)
                .expires(Duration::from_secs(2))
                .messages()
                .await;
            let mut batch = match batch {
                Ok(batch) => batch,
                Err(error) => {
                    warn!(%error, "pulling messages failed; trying again in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let mut first = Some(first);
            while let Some(message) = batch.next().await {
                let message = match message {
                    Ok(message) => message,
                    Err(error) => {
                        warn!(%error, "a pull request failed");
                        break;
                    }
                };
                let permit = match first
                    .take()
                    .map(Ok)
                    .unwrap_or_else(|| permits.clone().try_acquire_owned())
                {
                    Ok(permit) if !shutdown.is_cancelled() => permit,
                    _ => {
                        let _ = message.ack_with(AckKind::Nak(None)).await;
                        continue;
                    }
                };
                let this = this.clone();
                in_progress.spawn(async move {
                    this.process(message).await;
                    drop(permit);
                });
            }
            while in_progress.try_join_next().is_some() {}
        }
        while in_progress.join_next().await.is_some() {}
        Ok(())
    }

    /// Pulls and processes at most one message, waiting up to `wait` for it; returns what the
    /// handler decided. For tests that drain a queue step by step.
    pub async fn process_next(&self, wait: Duration) -> Result<Option<Outcome>, Error> {
        let mut batch = self
            .consumer
            .batch()
            .max_messages(1)
            .expires(wait)
            .messages()
            .await
            .map_err(|e| Error::nats("cannot pull", e))?;
        match batch.next().await {
            Some(Ok(message)) => Ok(Some(self.process(message).await)),
            Some(Err(e)) => Err(Error::nats("cannot pull", e)),
            None => Ok(None),
        }
    }

    async fn process(&self, message: jetstream::Message) -> Outcome {
        let started = std::time::Instant::now();
        let delivered = message
            .info()
            .map(|i| i.delivered.max(1) as u64)
            .unwrap_or(1);
        if delivered > 1 {
            metrics::counter!(instruments::REDELIVERIES, "subject" => self.subject).increment(1);
        }
        let sequence = message
            .info()
            .map(|i| i.stream_sequence)
            .unwrap_or_default();
        let header = |name: &str| {
            message
                .headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_string())
        };
        let id = header(headers::NATS_MSG_ID).unwrap_or_else(|| sequence.to_string());
        let span = info_span!(
            "process",
            otel.kind = "consumer",
            messaging.system = "nats",
            messaging.destination.name = self.subject,
            messaging.message.id = %id,
            messaging.nats.delivery_count = delivered,
            otel.status_code = tracing::field::Empty,
        );
        let _ = span.set_parent(extract_trace_context(message.headers.as_ref()));
        async {
            let decoded = payload::decode::<H::Message>(
                header(headers::CONTENT_TYPE).as_deref(),
                &message.payload,
            );
            let (outcome, decoded) = match decoded {
                Ok(decoded) => {
                    let delivery = Delivery {
                        message: decoded,
                        id,
                        delivered,
                    };
                    let outcome = match self.handle_with_progress(&message, &delivery).await {
                        Ok(()) => Outcome::Done,
                        Err(error) => error.into(),
                    };
                    (outcome, Some(delivery.message))
                }
                Err(error) => (
                    Outcome::Reject {
                        class: ErrorClass::InvalidRequest,
                        reason: error.to_string(),
                    },
                    None,
                ),
            };
            let settled = self
                .settle(&message, &outcome, decoded.as_ref(), delivered)
                .await;
            metrics::counter!(instruments::MESSAGES, "subject" => self.subject, "outcome" => settled)
                .increment(1);
            metrics::histogram!(instruments::MESSAGE_PROCESSING, "subject" => self.subject)
                .record(started.elapsed().as_secs_f64());
            outcome
        }
        .instrument(span)
        .await
    }

    /// Runs the handler, sending in-progress acks while it works.
    async fn handle_with_progress(
        &self,
        message: &jetstream::Message,
        delivery: &Delivery<H::Message>,
    ) -> Result<(), H::Error> {
        let work = self.handler.handle(delivery);
        tokio::pin!(work);
        let mut ticks = tokio::time::interval((self.ack_wait / 3).max(Duration::from_millis(100)));
        ticks.tick().await;
        loop {
            tokio::select! {
                outcome = &mut work => return outcome,
                _ = ticks.tick() => {
                    if let Err(error) = message.ack_with(AckKind::Progress).await {
                        warn!(%error, "in-progress ack failed");
                    }
                }
            }
        }
    }

    /// The one place that turns an outcome into an acknowledgement; returns what it did
    /// (`ack`, `nak` or `dead_letter`).
    async fn settle(
        &self,
        message: &jetstream::Message,
        outcome: &Outcome,
        decoded: Option<&H::Message>,
        delivered: u64,
    ) -> &'static str {
        let Some(mut failure) = outcome.failure(delivered, self.retry.max_deliveries) else {
            if let Outcome::Retry { reason } = outcome {
                let delay = self.retry.delay(delivered);
                warn!(%reason, delivered, ?delay, "will retry");
                return self.nak(message, delay).await;
            }
            if let Err(error) = message.double_ack().await {
                warn!(%error, "the ack was not confirmed; the message may be delivered again");
            }
            return "ack";
        };
        tracing::Span::current().record("otel.status_code", "ERROR");
        if let Err(error) = self.handler.on_dead_letter(decoded, &failure).await {
            let reason = match error.into() {
                Outcome::Retry { reason } | Outcome::Reject { reason, .. } => reason,
                Outcome::Done => String::new(),
            };
            if delivered < self.retry.max_deliveries {
                warn!(%reason, "recording the failure failed; the message will be delivered again");
                return self.nak(message, self.retry.delay(delivered)).await;
            }
            failure.reason = format!(
                "{}; and recording the failure failed: {reason}",
                failure.reason
            );
        }
        warn!(reason = %failure.reason, class = failure.class.as_str_name(), "dead-lettering");
        if let Err(error) = self.dead_letter(message, &failure).await {
            // Without a dead letter the message must not be dropped: let it come back.
            warn!(%error, "dead-lettering failed; the message will be delivered again");
            return self.nak(message, self.retry.max_delay).await;
        }
        metrics::counter!(instruments::DEAD_LETTERS, "subject" => self.subject, "class" => failure.class.as_str_name())
            .increment(1);
        if let Err(error) = message.ack_with(AckKind::Term).await {
            warn!(%error, "terminating the message failed");
        }
        "dead_letter"
    }

    /// Asks the server to deliver `message` again after `delay`.
    async fn nak(&self, message: &jetstream::Message, delay: Duration) -> &'static str {
        if let Err(error) = message.ack_with(AckKind::Nak(Some(delay))).await {
            warn!(%error, "nak failed; the message comes back after its ack wait");
        }
        "nak"
    }

    /// Publishes the original payload and headers to `dlq.<subject>`, with the failure.
    async fn dead_letter(
        &self,
        message: &jetstream::Message,
        failure: &Failure,
    ) -> Result<(), Error> {
        let mut map = message.headers.clone().unwrap_or_default();
        let sequence = message
            .info()
            .map(|i| i.stream_sequence)
            .unwrap_or_default();
        // One dead letter per original message, even if this step runs twice.
        map.insert(
            headers::NATS_MSG_ID,
            format!("{}:{sequence}", self.subject).as_str(),
        );
        map.insert(headers::ERROR_CLASS, failure.class.as_str_name());
        map.insert(headers::ERROR_MESSAGE, one_line(&failure.reason).as_str());
        map.insert(headers::ORIGINAL_SUBJECT, self.subject);
        map.insert(
            headers::DELIVERY_COUNT,
            failure.delivered.to_string().as_str(),
        );
        self.publisher
            .publish_raw(
                &subjects::dead_letter_subject(self.subject),
                map,
                message.payload.clone(),
            )
            .await
            .map(drop)
    }
}

/// Header values cannot hold line breaks.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_the_bound() {
        let policy = RetryPolicy {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_deliveries: 5,
        };
        let delays: Vec<u64> = (1..=8).map(|d| policy.delay(d).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn rejects_and_retries_on_the_last_delivery_are_dead_lettered() {
        let retry = Outcome::Retry {
            reason: "relay down".into(),
        };
        let reject = Outcome::Reject {
            class: ErrorClass::Corrupt,
            reason: "bad CRC".into(),
        };
        assert_eq!(Outcome::Done.failure(5, 5), None);
        assert_eq!(retry.failure(4, 5), None);
        assert_eq!(
            retry.failure(5, 5),
            Some(Failure {
                class: ErrorClass::Internal,
                reason: "gave up after 5 deliveries: relay down".into(),
                delivered: 5,
            })
        );
        assert_eq!(
            reject.failure(1, 5),
            Some(Failure {
                class: ErrorClass::Corrupt,
                reason: "bad CRC".into(),
                delivered: 1,
            })
        );
    }
}
