//! Publishing to JetStream with the headers every message carries: the dedup id
//! (`Nats-Msg-Id`, so a re-publish inside the stream's duplicate window is dropped by the
//! server), the content type, and the W3C trace context of the current span.

use async_nats::{HeaderMap, jetstream};
use opentelemetry::propagation::{Extractor, Injector};
use pdfmill_schemas::{content_types, headers};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::Error;

/// What the server said about a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The message's sequence in its stream.
    pub sequence: u64,
    /// The server already had a message with this dedup id and dropped this one.
    pub duplicate: bool,
}

/// Publishes protobuf messages with dedup ids and trace context.
#[derive(Clone)]
pub struct Publisher {
    js: jetstream::Context,
}

impl Publisher {
    /// A publisher on this JetStream context.
    pub fn new(js: jetstream::Context) -> Self {
        Publisher { js }
    }

    /// Publishes `message` as protobuf to `subject` with dedup id `id`, and waits for the
    /// stream to store it.
    #[tracing::instrument(name = "publish", skip_all, fields(
        otel.kind = "producer", messaging.system = "nats",
        messaging.destination.name = subject, messaging.message.id = id))]
    pub async fn publish<M: prost::Message>(
        &self,
        subject: &str,
        id: &str,
        message: &M,
    ) -> Result<Published, Error> {
        let mut map = HeaderMap::new();
        map.insert(headers::NATS_MSG_ID, id);
        map.insert(headers::CONTENT_TYPE, content_types::PROTOBUF);
        inject_trace_context(&mut map);
        self.publish_raw(subject, map, message.encode_to_vec().into())
            .await
    }

    /// Publishes prepared headers and payload (dead letters, replays).
    pub async fn publish_raw(
        &self,
        subject: &str,
        headers: HeaderMap,
        payload: bytes::Bytes,
    ) -> Result<Published, Error> {
        let ack = self
            .js
            .publish_with_headers(subject.to_string(), headers, payload)
            .await
            .map_err(|e| Error::nats(format!("cannot publish to {subject}"), e))?
            .await
            .map_err(|e| Error::nats(format!("{subject} did not confirm the publish"), e))?;
        Ok(Published {
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }
}

/// Writes the current span's trace context into `traceparent`/`tracestate`.
pub fn inject_trace_context(map: &mut HeaderMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderWriter(map))
    });
}

/// Reads the trace context a message carries; an empty context when it has none.
pub fn extract_trace_context(map: Option<&HeaderMap>) -> opentelemetry::Context {
    let Some(map) = map else {
        return opentelemetry::Context::new();
    };
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderReader(map))
    })
}

struct HeaderWriter<'a>(&'a mut HeaderMap);

struct HeaderReader<'a>(&'a HeaderMap);

impl Injector for HeaderWriter<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value.as_str());
    }
}

impl Extractor for HeaderReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_ref()).collect()
    }
}
