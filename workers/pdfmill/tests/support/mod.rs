//! A real pdfmill system for tests: a `nats-server` child (JetStream in a temp dir, a free
//! port on 127.0.0.1), an in-process SMTP server, a filesystem or S3 store, and the workers,
//! in this process or as real `pdfmill worker` processes.
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub use pdfmill_core::testing::NatsServer;
use pdfmill_core::{Context, Settings, Worker};
use pdfmill_email::{Mailer, testing::SmtpCapture};
use pdfmill_schemas::{
    streams, subjects,
    v1::{ConvertRequest, ImageRef, JobState, JobStatus},
};
use tokio_util::sync::CancellationToken;

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A PngSuite image.
pub fn suite(name: &str) -> PathBuf {
    root().join("workers/pdf/tests/pngsuite").join(name)
}

/// A `width`×`height` RGBA PNG of noise: slow to convert (decode, split, re-compress), for
/// tests that need a job still in progress.
pub fn noise_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let pixels: Vec<u8> = (0..width * height * 4)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let mut file = Vec::new();
    let mut encoder = png::Encoder::new(&mut file, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_compression(png::Compression::Fastest);
    encoder
        .write_header()
        .unwrap()
        .write_image_data(&pixels)
        .unwrap();
    file
}

/// A running system and typed helpers to drive it.
pub struct TestSystem {
    pub nats: NatsServer,
    pub smtp: SmtpCapture,
    pub settings: Settings,
    pub ctx: Context,
    pub dir: tempfile::TempDir,
    workers: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl TestSystem {
    /// NATS, SMTP and a filesystem store, with no workers yet.
    pub async fn start() -> TestSystem {
        Self::start_with(|_| {}).await
    }

    /// As [`TestSystem::start`], with the settings adjusted first.
    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> TestSystem {
        let nats = NatsServer::start();
        let smtp = SmtpCapture::start();
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings {
            nats_url: nats.url.clone(),
            store_url: format!("file://{}", dir.path().join("store").display()),
            email_url: smtp.url(),
            email_from: "pdfmill <pdfmill@test.local>".into(),
            public_url: "http://pdfmill.test".into(),
            ack_wait_seconds: Some(2),
            convert_concurrency: 2,
            ..Settings::default()
        };
        adjust(&mut settings);
        let ctx = Context::connect_and_declare(settings.clone(), "test")
            .await
            .expect("the test system connects");
        TestSystem {
            nats,
            smtp,
            settings,
            ctx,
            dir,
            workers: CancellationToken::new(),
            tasks: Vec::new(),
        }
    }

    /// NATS, SMTP, a filesystem store, and one convert and one email worker in this process.
    pub async fn spawn() -> TestSystem {
        let mut system = Self::start().await;
        system.start_workers().await;
        system
    }

    /// Starts one convert and one email worker in this process.
    pub async fn start_workers(&mut self) {
        self.start_workers_with(|email| email).await
    }

    /// As [`TestSystem::start_workers`], with the email worker adjusted first (its retry
    /// timing, say).
    pub async fn start_workers_with(
        &mut self,
        adjust: impl FnOnce(Worker<Mailer>) -> Worker<Mailer>,
    ) {
        let convert = pdfmill_convert::worker(self.ctx.clone()).await.unwrap();
        let email = adjust(pdfmill_email::worker(self.ctx.clone()).await.unwrap());
        let (a, b) = (self.workers.clone(), self.workers.clone());
        self.tasks
            .push(tokio::spawn(async move { convert.run(a).await.unwrap() }));
        self.tasks
            .push(tokio::spawn(async move { email.run(b).await.unwrap() }));
    }

    /// Stops the in-process workers (they drain) and waits for them.
    pub async fn stop_workers(&mut self) {
        self.workers.cancel();
        for task in self.tasks.drain(..) {
            task.await.unwrap();
        }
        self.workers = CancellationToken::new();
    }

    /// Environment for a `pdfmill` process joining this system.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PDFMILL_NATS_URL", self.settings.nats_url.clone()),
            ("PDFMILL_STORE_URL", self.settings.store_url.clone()),
            ("PDFMILL_EMAIL_URL", self.settings.email_url.clone()),
            ("PDFMILL_EMAIL_FROM", self.settings.email_from.clone()),
            ("PDFMILL_PUBLIC_URL", self.settings.public_url.clone()),
            ("PDFMILL_ACK_WAIT_SECONDS", "2".into()),
            ("RUST_LOG", "info".into()),
        ]
    }

    /// Starts `pdfmill worker ROLE` as a real process.
    pub fn spawn_worker_process(&self, role: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_pdfmill"))
            .args(["worker", role])
            .envs(self.env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Puts images in the store and builds a request for them.
    pub async fn request(
        &self,
        job_id: &str,
        images: &[Vec<u8>],
        email: Option<&str>,
    ) -> ConvertRequest {
        let mut refs = Vec::new();
        for (i, bytes) in images.iter().enumerate() {
            let key = format!("uploads/{job_id}/{i}.img");
            self.ctx
                .store
                .put(&key, bytes.clone().into())
                .await
                .unwrap();
            refs.push(ImageRef {
                key,
                ..ImageRef::default()
            });
        }
        ConvertRequest {
            job_id: job_id.into(),
            images: refs,
            notify_email: email.unwrap_or_default().into(),
            ..ConvertRequest::default()
        }
    }

    /// Publishes a request with the job id as its dedup id; returns whether the server kept it.
    pub async fn publish(&self, request: &ConvertRequest) -> bool {
        !self
            .ctx
            .publisher
            .publish(subjects::IMAGE_CONVERT, &request.job_id, request)
            .await
            .unwrap()
            .duplicate
    }

    /// Stores the images and publishes the request.
    pub async fn submit(&self, job_id: &str, images: &[Vec<u8>], email: Option<&str>) {
        let request = self.request(job_id, images, email).await;
        assert!(self.publish(&request).await);
    }

    /// Waits until the job reaches `state`; panics with the last status after `timeout`.
    pub async fn wait_for_state(
        &self,
        job_id: &str,
        state: JobState,
        timeout: Duration,
    ) -> JobStatus {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.ctx.jobs.get(&job_id.parse().unwrap()).await.unwrap();
            if let Some(status) = &status
                && status.state() == state
            {
                return status.clone();
            }
            assert!(
                Instant::now() < deadline,
                "job {job_id} did not reach {state:?} in {timeout:?}; last status: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `count` emails have arrived (and a little longer, to catch extra ones).
    pub async fn wait_for_emails(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<pdfmill_email::testing::CapturedMail> {
        let deadline = Instant::now() + timeout;
        while self.smtp.messages().len() < count {
            assert!(
                Instant::now() < deadline,
                "{} of {count} emails arrived in {timeout:?}",
                self.smtp.messages().len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.smtp.messages()
    }

    /// Waits until the DLQ holds `count` dead letters, and returns them.
    pub async fn wait_for_dead_letters(
        &self,
        count: u64,
        timeout: Duration,
    ) -> Vec<(String, async_nats::HeaderMap)> {
        let deadline = Instant::now() + timeout;
        while self.stream_messages(streams::DLQ).await < count {
            assert!(
                Instant::now() < deadline,
                "{count} dead letters did not arrive in {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stream_subjects(streams::DLQ).await
    }

    /// Number of PDF objects in the store.
    pub async fn pdf_objects(&self) -> usize {
        self.ctx.store.count("pdfs").await.unwrap()
    }

    /// Messages now in a stream.
    pub async fn stream_messages(&self, stream: &str) -> u64 {
        self.ctx
            .js
            .get_stream(stream)
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .messages
    }

    /// The subjects of the messages in a stream, in order.
    pub async fn stream_subjects(&self, stream: &str) -> Vec<(String, async_nats::HeaderMap)> {
        let stream = self.ctx.js.get_stream(stream).await.unwrap();
        let state = stream.cached_info().state.clone();
        let mut found = Vec::new();
        if state.messages > 0 {
            for sequence in state.first_sequence..=state.last_sequence {
                if let Ok(message) = stream.get_raw_message(sequence).await {
                    found.push((message.subject.to_string(), message.headers.clone()));
                }
            }
        }
        found
    }
}

impl Drop for TestSystem {
    fn drop(&mut self) {
        self.workers.cancel();
    }
}
