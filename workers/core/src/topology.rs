//! The JetStream topology: streams, consumers and KV buckets.
//!
//! The definitions are the JSON files in `nats/` (the ones people load with the `nats` CLI),
//! compiled into the binary, so the services and the CLI cannot disagree. Every role (and
//! `pdfmill up`) declares the whole topology at start-up, create-or-update, which is
//! idempotent: any number of workers can start at once, in any order. Connecting declares
//! nothing: the read-only commands (`status`, `streams`, `dlq list`, `submit`) run from a
//! laptop with its own settings and must never rewrite a production stream's replicas or a
//! consumer's ack wait.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};

use crate::Error;

/// One stream definition with its file name, for error messages.
struct Definition {
    file: &'static str,
    json: &'static str,
}

macro_rules! definition {
    ($path:literal) => {
        Definition {
            file: $path,
            json: include_str!(concat!("../../../nats/", $path)),
        }
    };
}

/// Every stream, including the streams behind the KV buckets (`KV_<bucket>`).
const STREAMS: [Definition; 6] = [
    definition!("streams/CONVERT.json"),
    definition!("streams/EMAIL.json"),
    definition!("streams/EVENTS.json"),
    definition!("streams/DLQ.json"),
    definition!("kv/jobs.json"),
    definition!("kv/email_ledger.json"),
];

/// Every durable consumer, with the stream it reads.
const CONSUMERS: [(&str, Definition); 2] = [
    (
        pdfmill_schemas::streams::CONVERT,
        definition!("consumers/CONVERT-convert.json"),
    ),
    (
        pdfmill_schemas::streams::EMAIL,
        definition!("consumers/EMAIL-email.json"),
    ),
];

/// The stream configurations, with `replicas` applied.
pub fn stream_configs(replicas: usize) -> Vec<stream::Config> {
    STREAMS
        .iter()
        .map(|d| {
            let mut config: stream::Config = parse(d);
            config.num_replicas = replicas;
            config
        })
        .collect()
}

/// The durable pull consumer configurations with the stream each reads; `ack_wait`, when
/// given, replaces the files' ack wait and backoff.
pub fn consumer_configs(ack_wait: Option<Duration>) -> Vec<(&'static str, consumer::pull::Config)> {
    CONSUMERS
        .iter()
        .map(|(stream, definition)| {
            let mut config: consumer::pull::Config = parse(definition);
            if let Some(ack_wait) = ack_wait {
                config.ack_wait = ack_wait;
                config.backoff.clear();
            }
            (*stream, config)
        })
        .collect()
}

fn parse<T: serde::de::DeserializeOwned>(definition: &Definition) -> T {
    serde_json::from_str(definition.json)
        .unwrap_or_else(|e| panic!("nats/{} does not parse: {e}", definition.file))
}

/// Creates or updates every stream and consumer. Safe to run from every process at once.
pub async fn declare(
    js: &jetstream::Context,
    replicas: usize,
    ack_wait: Option<Duration>,
) -> Result<(), Error> {
    for config in stream_configs(replicas) {
        let name = config.name.clone();
        js.create_or_update_stream(config)
            .await
            .map_err(|e| Error::nats(format!("cannot declare stream {name}"), e))?;
    }
    for (stream, config) in consumer_configs(ack_wait) {
        let name = config.durable_name.clone().unwrap_or_default();
        js.get_stream(stream)
            .await
            .map_err(|e| Error::nats(format!("cannot open stream {stream}"), e))?
            .create_consumer(config)
            .await
            .map_err(|e| Error::nats(format!("cannot declare consumer {stream}/{name}"), e))?;
    }
    Ok(())
}
