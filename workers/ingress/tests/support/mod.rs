//! A real pdfmill behind a real HTTP listener, for the ingress tests: a `nats-server` child,
//! an in-process SMTP server (or an outbox folder), a filesystem store, the convert and email
//! workers in this process, and the ingress router on a free port of 127.0.0.1.
#![allow(dead_code)]

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

pub use pdfmill_core::testing::NatsServer;
use pdfmill_core::{Context, Settings};
use pdfmill_email::testing::SmtpCapture;
use pdfmill_ingress::{Ingress, IngressSettings, router};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A running system and typed helpers to drive it over HTTP.
pub struct TestApp {
    pub nats: Option<NatsServer>,
    pub smtp: SmtpCapture,
    pub ctx: Context,
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub http: reqwest::Client,
    stop: CancellationToken,
}

/// How to start a [`TestApp`].
pub struct Options {
    pub workers: bool,
    pub outbox: bool,
    pub ingress: IngressSettings,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: true,
            outbox: false,
            ingress: IngressSettings::default(),
        }
    }
}

impl TestApp {
    /// Everything, with default limits and no API keys.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(mut options: Options) -> TestApp {
        let nats = NatsServer::start();
        let smtp = SmtpCapture::start();
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        let settings = Settings {
            nats_url: nats.url.clone(),
            store_url: format!("file://{}", dir.path().join("store").display()),
            email_url: if options.outbox {
                format!("file://{}", outbox.display())
            } else {
                smtp.url()
            },
            email_from: "pdfmill <pdfmill@test.local>".into(),
            public_url: "http://pdfmill.test".into(),
            ack_wait_seconds: Some(2),
            convert_concurrency: 2,
            ..Settings::default()
        };
        let ctx = Context::connect_and_declare(settings, "ingress-test")
            .await
            .unwrap();
        let stop = CancellationToken::new();
        if options.workers {
            let convert = pdfmill_convert::worker(ctx.clone()).await.unwrap();
            let email = pdfmill_email::worker(ctx.clone()).await.unwrap();
            let (a, b) = (stop.clone(), stop.clone());
            tokio::spawn(async move { convert.run(a).await.unwrap() });
            tokio::spawn(async move { email.run(b).await.unwrap() });
        }
        if options.outbox {
            options.ingress.outbox_dir = Some(outbox);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Ingress::with_shutdown(ctx.clone(), options.ingress, stop.clone());
        let shutdown = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, router(state))
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await
                .unwrap()
        });
        TestApp {
            nats: Some(nats),
            smtp,
            ctx,
            dir,
            base,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn outbox(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    /// `POST /v1/conversions` with these images and text fields.
    pub async fn submit(
        &self,
        images: &[(&str, Vec<u8>)],
        fields: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new();
        for (name, bytes) in images {
            form = form.part(
                "image",
                reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
            );
        }
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        let mut request = self.http.post(self.url("/v1/conversions")).multipart(form);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.unwrap()
    }

    /// Submits and returns the accepted job's id.
    pub async fn submit_ok(&self, images: &[(&str, Vec<u8>)], fields: &[(&str, &str)]) -> String {
        let response = self.submit(images, fields, None).await;
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_string()
    }

    /// `GET /v1/conversions/{id}` as JSON.
    pub async fn status(&self, id: &str) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(&format!("/v1/conversions/{id}")))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Polls the status until `state`; panics with the last status after `timeout`.
    pub async fn wait_for_state(&self, id: &str, state: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (code, status) = self.status(id).await;
            if code == 200 && status["state"] == state {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} did not reach {state} in {timeout:?}; last: {code} {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for `count` emails at the SMTP capture.
    pub async fn wait_for_emails(&self, count: usize) -> Vec<pdfmill_email::testing::CapturedMail> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.smtp.messages().len() < count {
            assert!(Instant::now() < deadline, "{count} emails did not arrive");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.smtp.messages()
    }

    /// Stops the NATS server (the connection drops).
    pub async fn stop_nats(&mut self) {
        drop(self.nats.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.ctx.client.connection_state() == async_nats::connection::State::Connected {
            assert!(Instant::now() < deadline, "the client did not notice");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A small RGB PNG of `width`×`height`, made here.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    let data: Vec<u8> = (0..width * height * 3)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    writer.write_image_data(&data).unwrap();
    writer.finish().unwrap();
    out
}

/// The body of an error response: `(code, message)`.
pub async fn error_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}
