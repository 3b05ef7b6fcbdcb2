//! The stream, consumer and KV files in `nats/` use the names defined here, so the `nats`
//! CLI and the services can never disagree about a subject. (Whether async-nats accepts the
//! files is checked where async-nats is a dependency, not here.)

use std::path::PathBuf;

use pdfmill_schemas::{buckets, consumers, streams, subjects};
use serde_json::Value;

fn nats_file(path: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../nats")
        .join(path);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_str().expect("a string"))
        .collect()
}

#[test]
fn streams_carry_the_subjects_named_here() {
    for (file, name, expected) in [
        (
            "streams/CONVERT.json",
            streams::CONVERT,
            vec![subjects::IMAGE_CONVERT],
        ),
        (
            "streams/EMAIL.json",
            streams::EMAIL,
            vec![subjects::EMAIL_SEND],
        ),
        (
            "streams/EVENTS.json",
            streams::EVENTS,
            vec![subjects::IMAGE_CONVERTED, subjects::EMAIL_SENT],
        ),
        (
            "streams/DLQ.json",
            streams::DLQ,
            vec![subjects::DEAD_LETTERS],
        ),
    ] {
        let stream = nats_file(file);
        assert_eq!(stream["name"], name, "{file}");
        assert_eq!(strings(&stream["subjects"]), expected, "{file}");
    }
}

#[test]
fn consumers_use_the_names_and_subjects_here() {
    for (file, name, subject) in [
        (
            "consumers/CONVERT-convert.json",
            consumers::CONVERT,
            subjects::IMAGE_CONVERT,
        ),
        (
            "consumers/EMAIL-email.json",
            consumers::EMAIL,
            subjects::EMAIL_SEND,
        ),
    ] {
        let consumer = nats_file(file);
        assert_eq!(consumer["durable_name"], name, "{file}");
        assert_eq!(consumer["filter_subject"], subject, "{file}");
        // The server replaces ack_wait with backoff[0] whenever a backoff list is set.
        assert_eq!(consumer["backoff"][0], consumer["ack_wait"], "{file}");
    }
}

#[test]
fn kv_buckets_use_the_names_here() {
    for (file, bucket) in [
        ("kv/jobs.json", buckets::JOBS),
        ("kv/email_ledger.json", buckets::EMAIL_LEDGER),
    ] {
        let stream = nats_file(file);
        assert_eq!(stream["name"], format!("KV_{bucket}"), "{file}");
        assert_eq!(
            strings(&stream["subjects"]),
            [format!("$KV.{bucket}.>")],
            "{file}"
        );
    }
}

#[test]
fn dead_letter_subjects_fall_in_the_dlq_stream() {
    let dlq = nats_file("streams/DLQ.json");
    let pattern = strings(&dlq["subjects"])[0].trim_end_matches('>');
    for subject in [subjects::IMAGE_CONVERT, subjects::EMAIL_SEND] {
        assert!(subjects::dead_letter_subject(subject).starts_with(pattern));
    }
}
