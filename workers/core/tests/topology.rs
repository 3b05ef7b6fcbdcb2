//! The topology the services declare is exactly the one in `nats/*.json`: the server, after
//! a declaration, reports every field each file sets with the file's value.

use pdfmill_core::{testing::NatsServer, topology};
use serde_json::Value;

fn file(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/../../nats/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every key the file sets has the same value on the server (async-nats leaves out fields
/// that hold their zero value, so a missing field matches `false`, `0` or `""`).
fn assert_subset(file_name: &str, expected: &Value, found: &Value) {
    let zero = |v: &Value| {
        matches!(v, Value::Bool(false)) || v.as_i64() == Some(0) || v.as_str() == Some("")
    };
    for (key, value) in expected.as_object().unwrap() {
        let found_value = found.get(key).unwrap_or(&Value::Null);
        let equal = found_value == value || (zero(value) && found_value.is_null());
        assert!(
            equal,
            "{file_name}: `{key}` is {value} in the file but {found_value} on the server"
        );
    }
}

#[tokio::test]
async fn declared_streams_and_consumers_match_the_files_and_declaring_twice_is_harmless() {
    let nats = NatsServer::start();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    topology::declare(&js, 1, None).await.unwrap();
    topology::declare(&js, 1, None)
        .await
        .expect("a second declaration changes nothing");

    for name in [
        "streams/CONVERT.json",
        "streams/EMAIL.json",
        "streams/EVENTS.json",
        "streams/DLQ.json",
        "kv/jobs.json",
        "kv/email_ledger.json",
    ] {
        let expected = file(name);
        let mut stream = js
            .get_stream(expected["name"].as_str().unwrap())
            .await
            .unwrap();
        let found = serde_json::to_value(&stream.info().await.unwrap().config).unwrap();
        assert_subset(name, &expected, &found);
    }
    for (stream, name) in [
        ("CONVERT", "consumers/CONVERT-convert.json"),
        ("EMAIL", "consumers/EMAIL-email.json"),
    ] {
        let expected = file(name);
        let mut consumer = js
            .get_stream(stream)
            .await
            .unwrap()
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
                expected["durable_name"].as_str().unwrap(),
            )
            .await
            .unwrap();
        let found = serde_json::to_value(&consumer.info().await.unwrap().config).unwrap();
        assert_subset(name, &expected, &found);
    }

    // The KV buckets behind the files work as buckets.
    let jobs = js.get_key_value("jobs").await.unwrap();
    jobs.put("j", "v".into()).await.unwrap();
    assert_eq!(jobs.get("j").await.unwrap().as_deref(), Some(&b"v"[..]));
}

#[tokio::test]
async fn an_ack_wait_override_replaces_the_files_timing() {
    let nats = NatsServer::start();
    let js = async_nats::jetstream::new(async_nats::connect(&nats.url).await.unwrap());
    topology::declare(&js, 1, Some(std::time::Duration::from_secs(3)))
        .await
        .unwrap();
    let mut consumer = js
        .get_stream("CONVERT")
        .await
        .unwrap()
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>("convert")
        .await
        .unwrap();
    let config = consumer.info().await.unwrap().config.clone();
    assert_eq!(config.ack_wait, std::time::Duration::from_secs(3));
    assert!(config.backoff.is_empty());
}
