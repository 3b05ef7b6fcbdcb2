//! The event pipeline against real servers: nats-server, an SMTP server, the workers.

mod support;

use std::time::Duration;

use async_nats::HeaderMap;
use pdfmill_core::RetryPolicy;
use pdfmill_email::testing::Reply;
use pdfmill_schemas::{
    content_types, headers, streams, subjects,
    v1::{ErrorClass, JobState},
};
use support::{TestSystem, suite};

const WAIT: Duration = Duration::from_secs(30);

fn image(name: &str) -> Vec<u8> {
    std::fs::read(suite(name)).unwrap()
}

#[tokio::test]
async fn a_job_ends_with_a_pdf_an_email_with_its_link_and_events() {
    let system = TestSystem::spawn().await;
    system
        .submit(
            "job-1",
            &[image("basn2c08.png"), image("basi6a16.png")],
            Some("alice@example.com"),
        )
        .await;

    let status = system
        .wait_for_state("job-1", JobState::Emailed, WAIT)
        .await;
    assert_eq!(
        (status.pages, status.pdf_key.as_str()),
        (2, "pdfs/job-1.pdf")
    );
    let pdf = system.ctx.store.get("pdfs/job-1.pdf").await.unwrap();
    assert!(pdf.starts_with(b"%PDF-") && pdf.len() as u64 == status.pdf_size_bytes);

    let emails = system.wait_for_emails(1, WAIT).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].to, ["alice@example.com"]);
    assert!(
        emails[0]
            .body_text()
            .contains("http://pdfmill.test/v1/conversions/job-1/pdf"),
        "{}",
        emails[0].body_text()
    );
    assert_eq!(
        emails[0].header("Message-ID").as_deref(),
        Some("<job-1%3Aconversion_completed@pdfmill>")
    );

    let events: Vec<String> = system
        .stream_subjects(streams::EVENTS)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(events, [subjects::IMAGE_CONVERTED, subjects::EMAIL_SENT]);
}

#[tokio::test]
async fn a_request_published_by_hand_as_json_is_converted() {
    let system = TestSystem::spawn().await;
    system
        .ctx
        .store
        .put("uploads/a.png", image("basn0g08.png").into())
        .await
        .unwrap();
    let json = r#"{"jobId": "by-hand", "images": [{"key": "uploads/a.png"}], "notifyEmail": "me@example.com"}"#;
    let mut map = HeaderMap::new();
    map.insert(headers::CONTENT_TYPE, content_types::JSON);
    map.insert(headers::NATS_MSG_ID, "by-hand");
    system
        .ctx
        .publisher
        .publish_raw(subjects::IMAGE_CONVERT, map, json.into())
        .await
        .unwrap();

    system
        .wait_for_state("by-hand", JobState::Emailed, WAIT)
        .await;
    assert!(system.ctx.store.exists("pdfs/by-hand.pdf").await.unwrap());
    assert_eq!(system.wait_for_emails(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn the_same_request_twice_gives_one_pdf_and_one_email() {
    let system = TestSystem::spawn().await;
    let request = system
        .request("twice", &[image("basn2c08.png")], Some("bob@example.com"))
        .await;
    assert!(
        system.publish(&request).await,
        "the first publish is stored"
    );
    assert!(
        !system.publish(&request).await,
        "the server drops the same dedup id"
    );
    system
        .wait_for_state("twice", JobState::Emailed, WAIT)
        .await;

    // Past the dedup window a request can come again with another id: the job is done,
    // so the worker acknowledges it without work and no second email goes out.
    let mut map = HeaderMap::new();
    map.insert(headers::NATS_MSG_ID, "twice-again");
    map.insert(headers::CONTENT_TYPE, content_types::PROTOBUF);
    system
        .ctx
        .publisher
        .publish_raw(
            subjects::IMAGE_CONVERT,
            map,
            prost::Message::encode_to_vec(&request).into(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        system.stream_messages(streams::CONVERT).await,
        0,
        "both requests were consumed"
    );

    assert_eq!(system.wait_for_emails(1, WAIT).await.len(), 1);
    assert_eq!(system.pdf_objects().await, 1);
}

#[tokio::test]
async fn a_corrupt_image_fails_its_job_is_dead_lettered_and_the_worker_goes_on() {
    let system = TestSystem::spawn().await;
    system
        .submit(
            "corrupt",
            &[image("xcsn0g01.png")],
            Some("carol@example.com"),
        )
        .await;
    let status = system
        .wait_for_state("corrupt", JobState::Failed, WAIT)
        .await;
    assert_eq!(status.error_class(), ErrorClass::Corrupt);
    assert!(
        status
            .error_message
            .contains("IDAT chunk fails its CRC check"),
        "{}",
        status.error_message
    );

    let letters = system.stream_subjects(streams::DLQ).await;
    assert_eq!(letters.len(), 1);
    let (subject, map) = &letters[0];
    assert_eq!(subject, "dlq.image.convert.v1");
    assert_eq!(
        map.get(headers::ERROR_CLASS).unwrap().as_str(),
        "ERROR_CLASS_CORRUPT"
    );
    assert!(
        map.get(headers::ERROR_MESSAGE)
            .unwrap()
            .as_str()
            .contains("CRC")
    );

    let emails = system.wait_for_emails(1, WAIT).await;
    assert!(
        emails[0]
            .body_text()
            .contains("IDAT chunk fails its CRC check"),
        "the failure email says why: {}",
        emails[0].body_text()
    );

    system.submit("after", &[image("basn2c08.png")], None).await;
    system
        .wait_for_state("after", JobState::Converted, WAIT)
        .await;
}

#[tokio::test]
async fn a_payload_that_is_not_a_message_is_dead_lettered_once() {
    let system = TestSystem::spawn().await;
    let mut map = HeaderMap::new();
    map.insert(headers::CONTENT_TYPE, content_types::JSON);
    system
        .ctx
        .publisher
        .publish_raw(subjects::IMAGE_CONVERT, map, "{not json".into())
        .await
        .unwrap();
    let mut map = HeaderMap::new();
    map.insert(headers::NATS_MSG_ID, "garbage-2");
    system
        .ctx
        .publisher
        .publish_raw(subjects::IMAGE_CONVERT, map, vec![0xff, 0xff, 0xff].into())
        .await
        .unwrap();

    system.wait_for_dead_letters(2, WAIT).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        system.stream_messages(streams::DLQ).await,
        2,
        "dead-lettered once each, not retried"
    );
    assert_eq!(system.stream_messages(streams::CONVERT).await, 0);
    let letters = system.stream_subjects(streams::DLQ).await;
    assert!(letters.iter().all(
        |(_, m)| m.get(headers::ERROR_CLASS).unwrap().as_str() == "ERROR_CLASS_INVALID_REQUEST"
    ));
}

#[tokio::test]
async fn emails_wait_out_an_smtp_outage_and_all_arrive_once() {
    let port = pdfmill_email::testing::refused_port();
    let mut system =
        TestSystem::start_with(|s| s.email_url = format!("smtp://127.0.0.1:{port}")).await;
    system.start_workers().await;
    for job in ["down-1", "down-2", "down-3"] {
        system
            .submit(job, &[image("basn2c08.png")], Some("dave@example.com"))
            .await;
    }
    for job in ["down-1", "down-2", "down-3"] {
        system.wait_for_state(job, JobState::Converted, WAIT).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let redelivered = system
        .ctx
        .js
        .get_stream(streams::EMAIL)
        .await
        .unwrap()
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>("email")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .num_redelivered;
    assert!(
        redelivered > 0,
        "sends were retried while the server was down"
    );

    let smtp = pdfmill_email::testing::SmtpCapture::start_on(port);
    for job in ["down-1", "down-2", "down-3"] {
        system.wait_for_state(job, JobState::Emailed, WAIT).await;
    }
    let deadline = std::time::Instant::now() + WAIT;
    while smtp.messages().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "all three emails arrive"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 3, "each email arrives once");
    assert_eq!(system.stream_messages(streams::DLQ).await, 0);
    system.stop_workers().await;
}

#[tokio::test]
async fn a_refused_email_ends_its_job_email_failed_with_the_pdf_kept_and_one_dead_letter() {
    let system = TestSystem::spawn().await;
    system.smtp.reply_with(Reply::REJECT);
    system
        .submit(
            "refused",
            &[image("basn2c08.png")],
            Some("nobody@example.com"),
        )
        .await;

    let status = system
        .wait_for_state("refused", JobState::EmailFailed, WAIT)
        .await;
    assert_eq!(status.error_class(), ErrorClass::InvalidRequest);
    assert!(
        status.error_message.contains("refused the email for good")
            && status.error_message.contains("550"),
        "the job says why: {}",
        status.error_message
    );
    assert_eq!(status.pdf_key, "pdfs/refused.pdf");
    let pdf = system.ctx.store.get("pdfs/refused.pdf").await.unwrap();
    assert!(pdf.starts_with(b"%PDF-") && pdf.len() as u64 == status.pdf_size_bytes);

    // Dead-lettered on its first delivery, and gone from the work queue: past the first retry
    // delay (1 s) nothing came back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let letters = system.stream_subjects(streams::DLQ).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let (subject, map) = &letters[0];
    assert_eq!(
        *subject,
        subjects::dead_letter_subject(subjects::EMAIL_SEND)
    );
    assert_eq!(map.get(headers::DELIVERY_COUNT).unwrap().as_str(), "1");
    assert!(
        map.get(headers::ERROR_MESSAGE)
            .unwrap()
            .as_str()
            .contains("550")
    );
    assert_eq!(system.stream_messages(streams::EMAIL).await, 0);
    assert!(system.smtp.messages().is_empty());
    let status = system
        .ctx
        .jobs
        .get(&"refused".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.state(), JobState::EmailFailed, "and it stays there");
}

#[tokio::test]
async fn an_email_still_failing_on_its_last_delivery_ends_its_job_email_failed() {
    let mut system = TestSystem::start().await;
    system.smtp.reply_with(Reply::TRY_LATER);
    system
        .start_workers_with(|email| {
            email.with_retry(RetryPolicy {
                first_delay: Duration::from_millis(100),
                max_delay: Duration::from_millis(100),
                max_deliveries: 3,
            })
        })
        .await;
    system
        .submit(
            "greylisted",
            &[image("basn2c08.png")],
            Some("eve@example.com"),
        )
        .await;

    let status = system
        .wait_for_state("greylisted", JobState::EmailFailed, WAIT)
        .await;
    assert_eq!(status.error_class(), ErrorClass::Internal);
    assert!(
        status
            .error_message
            .starts_with("gave up after 3 deliveries: the SMTP relay asked to try again later"),
        "{}",
        status.error_message
    );
    assert!(
        system
            .ctx
            .store
            .exists("pdfs/greylisted.pdf")
            .await
            .unwrap()
    );
    let letters = system.wait_for_dead_letters(1, WAIT).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(
        letters[0].1.get(headers::DELIVERY_COUNT).unwrap().as_str(),
        "3"
    );
    system.stop_workers().await;
}
