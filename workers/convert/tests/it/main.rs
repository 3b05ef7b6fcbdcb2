//! The convert worker driven one message at a time (`Worker::process_next`) against a real
//! nats-server and a filesystem store: what it decides, what it records, what it announces.

use std::time::Duration;

use pdfmill_convert::Converter;
use pdfmill_core::{Context, Outcome, Settings, StoredPdf, Worker, testing::NatsServer};
use pdfmill_schemas::{
    domain::JobId,
    streams, subjects,
    v1::{ConvertRequest, ErrorClass, ImageRef, JobState, PageOptions},
};

/// NATS, a store, and a convert worker that only runs when a test steps it.
struct Harness {
    _nats: NatsServer,
    _dir: tempfile::TempDir,
    ctx: Context,
    worker: Worker<Converter>,
}

impl Harness {
    async fn start() -> Harness {
        let nats = NatsServer::start();
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            nats_url: nats.url.clone(),
            store_url: format!("file://{}", dir.path().display()),
            public_url: "http://pdfmill.test".into(),
            ..Settings::default()
        };
        let ctx = Context::connect_and_declare(settings, "convert-test")
            .await
            .unwrap();
        let worker = pdfmill_convert::worker(ctx.clone()).await.unwrap();
        Harness {
            _nats: nats,
            _dir: dir,
            ctx,
            worker,
        }
    }

    /// Stores `image` and publishes a request for it under dedup id `message_id`.
    async fn publish(&self, job: &str, message_id: &str, image: Vec<u8>, page: PageOptions) {
        let key = format!("uploads/{job}/000-a.png");
        self.ctx.store.put(&key, image.into()).await.unwrap();
        let request = ConvertRequest {
            job_id: job.into(),
            images: vec![ImageRef {
                key,
                ..Default::default()
            }],
            notify_email: "ada@example.com".into(),
            page: Some(page),
            ..Default::default()
        };
        self.ctx
            .publisher
            .publish(subjects::IMAGE_CONVERT, message_id, &request)
            .await
            .unwrap();
    }

    async fn step(&self) -> Outcome {
        self.worker
            .process_next(Duration::from_secs(5))
            .await
            .unwrap()
            .expect("a message to process")
    }

    async fn state(&self, job: &str) -> JobState {
        let job = JobId::parse(job).unwrap();
        self.ctx.jobs.get(&job).await.unwrap().unwrap().state()
    }

    async fn messages(&self, stream: &str) -> u64 {
        let mut stream = self.ctx.js.get_stream(stream).await.unwrap();
        stream.info().await.unwrap().state.messages
    }
}

fn png() -> Vec<u8> {
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, 4, 4);
    encoder.set_color(png::ColorType::Rgb);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&[200; 4 * 4 * 3]).unwrap();
    writer.finish().unwrap();
    png
}

#[tokio::test]
async fn a_job_is_converted_marked_then_announced() {
    let h = Harness::start().await;
    h.publish("j1", "j1", png(), PageOptions::default()).await;
    assert_eq!(h.step().await, Outcome::Done);
    assert_eq!(h.state("j1").await, JobState::Converted);
    assert!(h.ctx.store.exists("pdfs/j1.pdf").await.unwrap());
    assert_eq!(
        h.messages(streams::EMAIL).await,
        1,
        "the PDF-ready email is requested"
    );
    assert_eq!(h.messages(streams::EVENTS).await, 1, "image.converted.v1");
}

#[tokio::test]
async fn a_page_size_typo_published_by_hand_is_refused_with_the_reason() {
    let h = Harness::start().await;
    let typo = PageOptions {
        page_size: "a44".into(),
        ..Default::default()
    };
    h.publish("typo", "typo", png(), typo).await;
    let Outcome::Reject { class, reason } = h.step().await else {
        panic!("a typo must be refused, not guessed")
    };
    assert_eq!(class, ErrorClass::InvalidRequest);
    assert!(
        reason.contains("page_size") && reason.contains("a44"),
        "{reason}"
    );
    assert_eq!(h.state("typo").await, JobState::Failed);
    assert_eq!(h.messages(streams::DLQ).await, 1);
    assert!(!h.ctx.store.exists("pdfs/typo.pdf").await.unwrap());
}

#[tokio::test]
async fn a_corrupt_image_fails_the_job_with_a_readable_reason() {
    let h = Harness::start().await;
    let mut corrupt = png();
    let last = corrupt.len() - 20;
    corrupt[last] ^= 0xff;
    h.publish("bad", "bad", corrupt, PageOptions::default())
        .await;
    let Outcome::Reject { class, .. } = h.step().await else {
        panic!("a corrupt image is rejected")
    };
    assert_eq!(class, ErrorClass::Corrupt);
    let status = h
        .ctx
        .jobs
        .get(&JobId::parse("bad").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.state(), JobState::Failed);
    assert!(!status.error_message.is_empty());
    assert_eq!(
        h.messages(streams::EMAIL).await,
        1,
        "the failure email is requested"
    );
}

#[tokio::test]
async fn a_late_redelivery_never_moves_an_emailed_job_back() {
    let h = Harness::start().await;
    h.publish("race", "race-1", png(), PageOptions::default())
        .await;
    assert_eq!(h.step().await, Outcome::Done);
    let job = JobId::parse("race").unwrap();
    h.ctx.jobs.mark_emailed(&job).await.unwrap();
    // The same job again, as a redelivery after a crash would bring it.
    h.publish("race", "race-2", png(), PageOptions::default())
        .await;
    assert_eq!(h.step().await, Outcome::Done);
    assert_eq!(h.state("race").await, JobState::Emailed);
    let kept = h
        .ctx
        .jobs
        .mark_converted(
            &job,
            &StoredPdf {
                key: job.pdf_key(),
                pages: 1,
                size_bytes: 1,
            },
        )
        .await
        .unwrap();
    assert!(matches!(kept, pdfmill_core::Marked::Kept(_)));
}
