//! Observability end to end, on real processes and a real NATS: `pdfmill ingress`,
//! `pdfmill worker convert` and `pdfmill worker email` export their spans over OTLP/HTTP to a
//! receiver inside this test, serve `/metrics`, and write JSON logs to stdout.
//!
//! One scenario runs once and every test reads what it recorded:
//!
//! - job **A**: a PNG with an email, through ingress → convert → email;
//! - job **B**: a PNG with an email, taken off the queue once by the test and never
//!   acknowledged, so the convert worker receives it as a redelivery (delivery 2); its POST is
//!   repeated with the same `Idempotency-Key` (one job, nothing queued twice);
//! - job **C**: a corrupt PNG (an IDAT chunk that fails its CRC): a dead letter.
//!
//! The processes batch their spans for minutes (`OTEL_BSP_SCHEDULE_DELAY`), so every span
//! the receiver gets was flushed by the process on its way out after SIGTERM.
//!
//! `cargo test -p pdfmill --test observability -- --nocapture` prints the span tree of job A
//! and the metrics each role exports.

#[path = "support/otlp.rs"]
mod otlp;
mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Write as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use otlp::{CapturedSpan, OtlpReceiver};
use pdfmill_schemas::{headers, streams, subjects, v1::JobState};
use serde_json::Value;
use support::TestSystem;

const WAIT: Duration = Duration::from_secs(60);

/// What the scenario recorded.
struct Scenario {
    /// Job ids.
    a: String,
    b: String,
    c: String,
    /// Every span the three processes exported.
    spans: Vec<CapturedSpan>,
    /// OTLP requests that arrived before the processes were told to stop.
    requests_before_stop: usize,
    /// `/metrics` of each role, by service name.
    scrapes: BTreeMap<&'static str, String>,
    /// Stdout of each role, by service name.
    logs: BTreeMap<&'static str, String>,
}

static SCENARIO: OnceLock<Result<Scenario, String>> = OnceLock::new();

/// Runs the scenario once (on its own runtime) for every test of this file.
fn scenario() -> &'static Scenario {
    let result = SCENARIO.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(run())
        })
        .join()
        .map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into())
        })
    });
    match result {
        Ok(scenario) => scenario,
        Err(error) => panic!("the observability scenario failed: {error}"),
    }
}

/// A `pdfmill` child process with its stdout and stderr in files; killed on drop.
struct Process {
    service: &'static str,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Process {
    fn start(
        system: &TestSystem,
        service: &'static str,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Process {
        let stdout = system.dir.path().join(format!("{service}.stdout"));
        let stderr = system.dir.path().join(format!("{service}.stderr"));
        let child = Command::new(env!("CARGO_BIN_EXE_pdfmill"))
            .args(args)
            .envs(system.env())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Process {
            service,
            child,
            stdout,
            stderr,
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {} failed", self.service);
    }

    /// Waits for the process to exit after SIGTERM; it must exit cleanly.
    fn wait_exit(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "{} exited with {status}; stderr:\n{}",
                    self.service,
                    self.stderr_text()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?} of SIGTERM",
                self.service
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A small RGB PNG.
fn png_image(width: u32, height: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..width * height)
        .flat_map(|i| [(i % width * 8) as u8, (i / width * 8) as u8, 128])
        .collect();
    let mut file = Vec::new();
    let mut encoder = png::Encoder::new(&mut file, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder
        .write_header()
        .unwrap()
        .write_image_data(&pixels)
        .unwrap();
    file
}

/// Polls `url` until it answers 200 (or `process` dies, or a timeout).
async fn wait_until_up(http: &reqwest::Client, url: &str, process: &mut Process) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = http.get(url).send().await
            && response.status().is_success()
        {
            return;
        }
        if let Some(status) = process.child.try_wait().unwrap() {
            panic!(
                "{} exited ({status}) before {url} answered; stderr:\n{}",
                process.service,
                process.stderr_text()
            );
        }
        assert!(Instant::now() < deadline, "{url} did not answer in 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `POST /v1/conversions` with one image; returns the job id.
async fn submit(
    http: &reqwest::Client,
    base: &str,
    image: Vec<u8>,
    email: Option<&str>,
    idempotency_key: Option<&str>,
) -> String {
    let mut form = reqwest::multipart::Form::new().part(
        "image",
        reqwest::multipart::Part::bytes(image).file_name("scan.png"),
    );
    if let Some(email) = email {
        form = form.text("email", email.to_string());
    }
    let mut request = http.post(format!("{base}/v1/conversions")).multipart(form);
    if let Some(key) = idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// Takes the one message on the CONVERT consumer and drops it without an ack: the server
/// delivers it again after the ack wait.
async fn take_without_ack(system: &TestSystem, expected_id: &str) {
    let consumer: async_nats::jetstream::consumer::PullConsumer = system
        .ctx
        .js
        .get_stream(streams::CONVERT)
        .await
        .unwrap()
        .get_consumer(pdfmill_schemas::consumers::CONVERT)
        .await
        .unwrap();
    let mut batch = consumer
        .batch()
        .max_messages(1)
        .expires(Duration::from_secs(10))
        .messages()
        .await
        .unwrap();
    let message = batch
        .next()
        .await
        .expect("the request is on the queue")
        .unwrap();
    let id = message
        .headers
        .as_ref()
        .and_then(|h| h.get(headers::NATS_MSG_ID))
        .map(|v| v.as_str().to_string());
    assert_eq!(id.as_deref(), Some(expected_id));
}

/// A sample sum a scrape must show: service, metric, labels, value.
type Expected = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    f64,
);

/// What the scrapes must show once every job has ended (see the module docs).
fn expectations() -> Vec<Expected> {
    let convert = subjects::IMAGE_CONVERT;
    let email = subjects::EMAIL_SEND;
    vec![
        // ingress: 3 jobs, 4 accepted POSTs (the repeat answers 202 with the same job).
        (
            "pdfmill-ingress",
            "pdfmill_jobs_submitted_total",
            vec![("source", "http")],
            3.0,
        ),
        (
            "pdfmill-ingress",
            "pdfmill_http_requests_total",
            vec![
                ("method", "POST"),
                ("route", "/v1/conversions"),
                ("status", "202"),
            ],
            4.0,
        ),
        (
            "pdfmill-ingress",
            "pdfmill_http_request_duration_seconds_count",
            vec![("method", "POST"), ("route", "/v1/conversions")],
            4.0,
        ),
        // convert: A and B converted, C corrupt and dead-lettered, B delivered twice.
        (
            "pdfmill-convert",
            "pdfmill_conversions_total",
            vec![("outcome", "success")],
            2.0,
        ),
        (
            "pdfmill-convert",
            "pdfmill_conversions_total",
            vec![("outcome", "corrupt")],
            1.0,
        ),
        ("pdfmill-convert", "pdfmill_conversions_total", vec![], 3.0),
        (
            "pdfmill-convert",
            "pdfmill_dead_letters_total",
            vec![("subject", convert), ("class", "ERROR_CLASS_CORRUPT")],
            1.0,
        ),
        ("pdfmill-convert", "pdfmill_dead_letters_total", vec![], 1.0),
        (
            "pdfmill-convert",
            "pdfmill_redeliveries_total",
            vec![("subject", convert)],
            1.0,
        ),
        (
            "pdfmill-convert",
            "pdfmill_messages_total",
            vec![("subject", convert), ("outcome", "ack")],
            2.0,
        ),
        (
            "pdfmill-convert",
            "pdfmill_messages_total",
            vec![("subject", convert), ("outcome", "dead_letter")],
            1.0,
        ),
        (
            "pdfmill-convert",
            "pdfmill_message_processing_seconds_count",
            vec![("subject", convert)],
            3.0,
        ),
        (
            "pdfmill-convert",
            "pdfmill_conversion_duration_seconds_count",
            vec![],
            2.0,
        ),
        (
            "pdfmill-convert",
            "pdfmill_conversion_input_bytes_count",
            vec![],
            2.0,
        ),
        (
            "pdfmill-convert",
            "pdfmill_conversion_output_bytes_count",
            vec![],
            2.0,
        ),
        (
            "pdfmill-convert",
            "pdfmill_conversion_pages_count",
            vec![],
            2.0,
        ),
        (
            "pdfmill-convert",
            "pdfmill_conversion_pages_sum",
            vec![],
            2.0,
        ),
        (
            "pdfmill-convert",
            "pdfmill_job_latency_seconds_count",
            vec![("stage", "converted")],
            2.0,
        ),
        // email: A's and B's "PDF ready" emails, sent once each.
        (
            "pdfmill-email",
            "pdfmill_emails_total",
            vec![("template", "conversion_completed"), ("outcome", "sent")],
            2.0,
        ),
        ("pdfmill-email", "pdfmill_emails_total", vec![], 2.0),
        (
            "pdfmill-email",
            "pdfmill_smtp_send_duration_seconds_count",
            vec![],
            2.0,
        ),
        (
            "pdfmill-email",
            "pdfmill_job_latency_seconds_count",
            vec![("stage", "emailed")],
            2.0,
        ),
        (
            "pdfmill-email",
            "pdfmill_messages_total",
            vec![("subject", email), ("outcome", "ack")],
            2.0,
        ),
        ("pdfmill-email", "pdfmill_dead_letters_total", vec![], 0.0),
        ("pdfmill-email", "pdfmill_redeliveries_total", vec![], 0.0),
    ]
}

/// The samples of a Prometheus text exposition: (name, labels, value).
fn samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or(f64::NAN);
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').unwrap()),
            None => (series, ""),
        };
        let mut map = BTreeMap::new();
        // Label values here never hold `",`; split on that boundary.
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap();
            map.insert(
                k.trim().to_string(),
                v.trim_matches('"').replace("\\\"", "\""),
            );
        }
        out.push((name.to_string(), map, value));
    }
    out
}

/// The sum of the samples of `name` whose labels include `labels`.
fn total(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text)
        .into_iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

/// Metric families by `# TYPE` line: name → type.
fn families(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, t)| (n.to_string(), t.trim().to_string()))
        .collect()
}

/// Scrapes every role until the expected counts are there (counters move a moment after a
/// job's status does, backlog gauges are sampled every 5 s) or 20 s pass; returns the last
/// scrapes.
async fn scrape_settled(
    http: &reqwest::Client,
    urls: &[(&'static str, String)],
) -> BTreeMap<&'static str, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut scrapes = BTreeMap::new();
        for (service, url) in urls {
            let response = http.get(url).send().await.unwrap();
            assert!(response.status().is_success(), "GET {url}");
            scrapes.insert(*service, response.text().await.unwrap());
        }
        let settled = expectations()
            .iter()
            .all(|(service, name, labels, want)| total(&scrapes[service], name, labels) == *want)
            && scrapes.values().all(|s| {
                families(s).contains_key("pdfmill_consumer_pending_messages")
                    && families(s).contains_key("process_cpu_seconds_total")
                    // Sampled from JetStream every 5 s: wait for the drained queues.
                    && total(s, "pdfmill_consumer_pending_messages", &[]) == 0.0
                    && total(s, "pdfmill_consumer_ack_pending_messages", &[]) == 0.0
            });
        if settled || Instant::now() > deadline {
            return scrapes;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn run() -> Scenario {
    let receiver = OtlpReceiver::start().await;
    let system = TestSystem::start().await;
    let http_port = free_port();
    let convert_metrics = free_port();
    let email_metrics = free_port();
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.clone()),
        // Export only when the process stops: proves the shutdown flush.
        ("OTEL_BSP_SCHEDULE_DELAY", "600000".to_string()),
    ];
    let with = |extra: (&'static str, String)| {
        let mut env = otel.to_vec();
        env.push(extra);
        env
    };
    let mut ingress = Process::start(
        &system,
        "pdfmill-ingress",
        &["ingress"],
        &with(("PDFMILL_HTTP_ADDR", format!("127.0.0.1:{http_port}"))),
    );
    let mut email = Process::start(
        &system,
        "pdfmill-email",
        &["worker", "email"],
        &with(("PDFMILL_METRICS_ADDR", format!("127.0.0.1:{email_metrics}"))),
    );
    let base = format!("http://127.0.0.1:{http_port}");
    let http = reqwest::Client::new();
    wait_until_up(&http, &format!("{base}/readyz"), &mut ingress).await;
    let email_url = format!("http://127.0.0.1:{email_metrics}/metrics");
    wait_until_up(&http, &email_url, &mut email).await;

    // B: accepted, then taken off the queue and left unacknowledged (no convert worker yet).
    let b = submit(
        &http,
        &base,
        png_image(24, 16),
        Some("bob@example.com"),
        Some("job-b"),
    )
    .await;
    take_without_ack(&system, &b).await;
    // The same POST again: the same job, nothing stored or queued twice.
    let again = submit(
        &http,
        &base,
        png_image(24, 16),
        Some("bob@example.com"),
        Some("job-b"),
    )
    .await;
    assert_eq!(again, b);

    let mut convert = Process::start(
        &system,
        "pdfmill-convert",
        &["worker", "convert"],
        &with((
            "PDFMILL_METRICS_ADDR",
            format!("127.0.0.1:{convert_metrics}"),
        )),
    );
    let convert_url = format!("http://127.0.0.1:{convert_metrics}/metrics");
    wait_until_up(&http, &convert_url, &mut convert).await;
    let a = submit(
        &http,
        &base,
        png_image(32, 24),
        Some("alice@example.com"),
        None,
    )
    .await;
    let corrupt = std::fs::read(support::suite("xcsn0g01.png")).unwrap();
    let c = submit(&http, &base, corrupt, None, None).await;

    system.wait_for_state(&a, JobState::Emailed, WAIT).await;
    system.wait_for_state(&b, JobState::Emailed, WAIT).await;
    system.wait_for_state(&c, JobState::Failed, WAIT).await;

    let scrapes = scrape_settled(
        &http,
        &[
            ("pdfmill-ingress", format!("{base}/metrics")),
            ("pdfmill-convert", convert_url),
            ("pdfmill-email", email_url),
        ],
    )
    .await;

    let requests_before_stop = receiver.requests();
    for process in [&ingress, &convert, &email] {
        process.terminate();
    }
    for process in [&mut ingress, &mut convert, &mut email] {
        process.wait_exit(Duration::from_secs(30));
    }
    // The exports finished before the processes exited; give the receiver a moment to decode.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = [&ingress, &convert, &email]
        .iter()
        .map(|p| (p.service, p.stdout_text()))
        .collect();
    Scenario {
        a,
        b,
        c,
        spans: receiver.spans(),
        requests_before_stop,
        scrapes,
        logs,
    }
}

// ---------------------------------------------------------------------------------------
// Traces

/// The spans of one trace.
fn trace(spans: &[CapturedSpan], trace_id: &str) -> Vec<CapturedSpan> {
    spans
        .iter()
        .filter(|s| s.trace_id == trace_id)
        .cloned()
        .collect()
}

/// The one span matching `pred`; panics (printing the candidates) unless there is exactly one.
fn one<'a>(
    spans: &'a [CapturedSpan],
    what: &str,
    pred: impl Fn(&CapturedSpan) -> bool,
) -> &'a CapturedSpan {
    let found: Vec<&CapturedSpan> = spans.iter().filter(|s| pred(s)).collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {what}, found {}: {found:#?}",
        found.len()
    );
    found[0]
}

/// Whether `ancestor` is `span` or on its parent chain.
fn descends_from(spans: &[CapturedSpan], span: &CapturedSpan, ancestor: &CapturedSpan) -> bool {
    let mut current = Some(span);
    while let Some(s) = current {
        if s.span_id == ancestor.span_id {
            return true;
        }
        current = spans.iter().find(|p| p.span_id == s.parent_span_id);
    }
    false
}

/// The tree of a trace: one line per span, indented under its parent.
fn render_tree(spans: &[CapturedSpan]) -> String {
    const SHOWN: &[&str] = &[
        "http.route",
        "http.response.status_code",
        "job.id",
        "messaging.system",
        "messaging.destination.name",
        "messaging.message.id",
        "messaging.nats.delivery_count",
        "email.id",
        "template",
        "images",
        "input_bytes",
        "pages",
        "pdf.size_bytes",
        "email.transport",
    ];
    fn walk(spans: &[CapturedSpan], parent: &str, depth: usize, out: &mut String, shown: &[&str]) {
        let mut children: Vec<&CapturedSpan> = spans
            .iter()
            .filter(|s| s.parent_span_id == parent)
            .collect();
        children.sort_by_key(|s| s.start_unix_nano);
        for span in children {
            let attrs: Vec<String> = shown
                .iter()
                .filter_map(|k| span.attr(k).map(|v| format!("{k}={v}")))
                .collect();
            out.push_str(&format!(
                "{}{} [{}, {}] span={} parent={}{}{}\n",
                "  ".repeat(depth),
                span.name,
                span.service,
                span.kind_name(),
                span.span_id,
                if span.parent_span_id.is_empty() {
                    "-"
                } else {
                    &span.parent_span_id
                },
                if attrs.is_empty() { "" } else { "  " },
                attrs.join(" "),
            ));
            walk(spans, &span.span_id, depth + 1, out, shown);
        }
    }
    let mut out = String::new();
    walk(spans, "", 0, &mut out, SHOWN);
    out
}

/// The trace of a job: the one holding the ingress's publish of its request.
fn job_trace_id(spans: &[CapturedSpan], job: &str) -> String {
    one(spans, "ingress publish of the job", |s| {
        s.service == "pdfmill-ingress"
            && s.name == "publish"
            && s.attr("messaging.message.id") == Some(job)
    })
    .trace_id
    .clone()
}

#[test]
fn one_trace_per_job_crosses_both_nats_hops() {
    let scenario = scenario();
    let spans = &scenario.spans;
    assert_eq!(
        scenario.requests_before_stop, 0,
        "spans were exported before the processes stopped; the test expects them batched \
         until the shutdown flush"
    );
    assert!(
        !spans.is_empty(),
        "no span arrived: the shutdown did not flush"
    );

    let a = &scenario.a;
    let trace_id = job_trace_id(spans, a);
    let job = trace(spans, &trace_id);
    println!(
        "span tree of job {a} (trace {trace_id}, {} spans):\n{}",
        job.len(),
        render_tree(&job)
    );

    // Every span that names the job is in that one trace.
    for span in spans
        .iter()
        .filter(|s| s.attributes.values().any(|v| v.contains(a.as_str())))
    {
        assert_eq!(
            span.trace_id, trace_id,
            "a span of job {a} in another trace: {span:#?}"
        );
    }
    // The trace is whole: one root, every other span's parent is in it.
    let roots: Vec<&CapturedSpan> = job.iter().filter(|s| s.parent_span_id.is_empty()).collect();
    assert_eq!(roots.len(), 1, "{roots:#?}");
    for span in &job {
        assert!(
            span.parent_span_id.is_empty() || job.iter().any(|p| p.span_id == span.parent_span_id),
            "the parent of {span:#?} was not exported"
        );
    }
    let services: BTreeSet<&str> = job.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(
        services,
        BTreeSet::from(["pdfmill-convert", "pdfmill-email", "pdfmill-ingress"])
    );

    // ingress: the HTTP request, the submit handler, the publish of image.convert.v1.
    let root = roots[0];
    assert_eq!(root.service, "pdfmill-ingress");
    assert_eq!(root.kind_name(), "server");
    assert_eq!(root.name, "POST /v1/conversions");
    assert_eq!(root.attr("http.route"), Some("/v1/conversions"));
    assert_eq!(root.attr("http.response.status_code"), Some("202"));
    let submit = one(&job, "submit span", |s| s.name == "submit");
    assert_eq!(submit.parent_span_id, root.span_id);
    assert_eq!(submit.attr("job.id"), Some(a.as_str()));
    let publish_request = one(&job, "publish of image.convert.v1", |s| {
        s.name == "publish" && s.attr("messaging.destination.name") == Some(subjects::IMAGE_CONVERT)
    });
    assert_eq!(publish_request.service, "pdfmill-ingress");
    assert_eq!(publish_request.kind_name(), "producer");
    assert_eq!(publish_request.parent_span_id, submit.span_id);
    assert_eq!(publish_request.attr("messaging.system"), Some("nats"));
    assert_eq!(
        publish_request.attr("messaging.message.id"),
        Some(a.as_str())
    );

    // First hop: the convert worker's consumer span is a child of the ingress's publish.
    let process_request = one(&job, "process of image.convert.v1", |s| {
        s.name == "process" && s.attr("messaging.destination.name") == Some(subjects::IMAGE_CONVERT)
    });
    assert_eq!(process_request.service, "pdfmill-convert");
    assert_eq!(process_request.kind_name(), "consumer");
    assert_eq!(process_request.parent_span_id, publish_request.span_id);
    assert_eq!(process_request.attr("messaging.system"), Some("nats"));
    assert_eq!(
        process_request.attr("messaging.message.id"),
        Some(a.as_str())
    );
    assert_eq!(
        process_request.attr("messaging.nats.delivery_count"),
        Some("1")
    );
    let convert = one(&job, "convert span", |s| s.name == "convert");
    assert_eq!(convert.service, "pdfmill-convert");
    assert_eq!(convert.attr("job.id"), Some(a.as_str()));
    assert!(descends_from(&job, convert, process_request));
    assert_eq!(convert.attr("pages"), Some("1"));
    assert!(convert.attr("input_bytes").is_some_and(|b| b != "0"));
    assert!(convert.attr("pdf.size_bytes").is_some_and(|b| b != "0"));
    // Inside it: fetching the images from the store, storing the PDF.
    let fetch = one(&job, "fetch span", |s| s.name == "fetch");
    assert_eq!(fetch.parent_span_id, convert.span_id);
    assert_eq!(fetch.attr("input_bytes"), convert.attr("input_bytes"));
    let store = one(&job, "store span", |s| s.name == "store");
    assert_eq!(store.parent_span_id, convert.span_id);
    assert_eq!(store.attr("pdf.size_bytes"), convert.attr("pdf.size_bytes"));

    // The convert worker publishes the event and the email request inside its span.
    let converted = one(&job, "publish of image.converted.v1", |s| {
        s.name == "publish"
            && s.attr("messaging.destination.name") == Some(subjects::IMAGE_CONVERTED)
    });
    assert!(descends_from(&job, converted, convert));
    let publish_email = one(&job, "publish of email.send.v1", |s| {
        s.name == "publish" && s.attr("messaging.destination.name") == Some(subjects::EMAIL_SEND)
    });
    assert_eq!(publish_email.service, "pdfmill-convert");
    assert_eq!(publish_email.kind_name(), "producer");
    assert_eq!(publish_email.attr("messaging.system"), Some("nats"));
    assert!(
        publish_email
            .attr("messaging.message.id")
            .is_some_and(|id| !id.is_empty())
    );
    assert!(descends_from(&job, publish_email, convert));

    // Second hop: the email worker's consumer span is a child of the convert worker's publish.
    let process_email = one(&job, "process of email.send.v1", |s| {
        s.name == "process" && s.attr("messaging.destination.name") == Some(subjects::EMAIL_SEND)
    });
    assert_eq!(process_email.service, "pdfmill-email");
    assert_eq!(process_email.kind_name(), "consumer");
    assert_eq!(process_email.parent_span_id, publish_email.span_id);
    assert_eq!(process_email.attr("messaging.system"), Some("nats"));
    assert_eq!(
        process_email.attr("messaging.message.id"),
        publish_email.attr("messaging.message.id")
    );
    assert_eq!(
        process_email.attr("messaging.nats.delivery_count"),
        Some("1")
    );
    let email = one(&job, "email span", |s| s.name == "email");
    assert_eq!(email.service, "pdfmill-email");
    assert_eq!(email.parent_span_id, process_email.span_id);
    assert_eq!(email.attr("job.id"), Some(a.as_str()));
    assert_eq!(email.attr("template"), Some("conversion_completed"));
    let smtp = one(&job, "smtp.send span", |s| s.name == "smtp.send");
    assert_eq!(smtp.service, "pdfmill-email");
    assert_eq!(smtp.kind_name(), "client");
    assert_eq!(smtp.parent_span_id, email.span_id);
    assert_eq!(smtp.attr("email.transport"), Some("smtp"));
    let sent = one(&job, "publish of email.sent.v1", |s| {
        s.name == "publish" && s.attr("messaging.destination.name") == Some(subjects::EMAIL_SENT)
    });
    assert!(descends_from(&job, sent, email));

    // B was delivered twice (the test took the first delivery); the worker's span of the
    // second delivery continues B's trace and says which delivery it was.
    let b = &scenario.b;
    let b_trace = job_trace_id(spans, b);
    let b_process = one(spans, "convert process span of job B", |s| {
        s.name == "process"
            && s.attr("messaging.destination.name") == Some(subjects::IMAGE_CONVERT)
            && s.attr("messaging.message.id") == Some(b.as_str())
    });
    assert_eq!(b_process.trace_id, b_trace);
    assert_eq!(b_process.attr("messaging.nats.delivery_count"), Some("2"));
    println!(
        "span tree of job {b} (redelivered):\n{}",
        render_tree(&trace(spans, &b_trace))
    );

    // C failed for good: its consumer span carries the error status.
    let c = &scenario.c;
    let c_process = one(spans, "convert process span of job C", |s| {
        s.name == "process" && s.attr("messaging.message.id") == Some(c.as_str())
    });
    assert_eq!(c_process.trace_id, job_trace_id(spans, c));
    assert_eq!(c_process.status_code, 2, "status ERROR on {c_process:#?}");
}

// ---------------------------------------------------------------------------------------
// Metrics

fn promtool() -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("promtool"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "promtool is not installed: `apt-get install -y prometheus` \
             (scripts/check-observability installs it)"
        )
    })
}

#[test]
fn metrics_count_the_jobs_and_pass_promtool() {
    let scenario = scenario();
    for (service, text) in &scenario.scrapes {
        let names: Vec<String> = families(text)
            .into_iter()
            .map(|(n, t)| format!("{n} ({t})"))
            .collect();
        println!(
            "{service} exports {} metrics:\n  {}",
            names.len(),
            names.join("\n  ")
        );
    }
    let mut wrong = Vec::new();
    for (service, name, labels, want) in expectations() {
        let got = total(&scenario.scrapes[service], name, &labels);
        if got != want {
            wrong.push(format!(
                "{service}: {name}{labels:?} = {got}, expected {want}"
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong counts:\n  {}", wrong.join("\n  "));

    // Backlog and process metrics in every role; histograms are histograms.
    for (service, text) in &scenario.scrapes {
        let families = families(text);
        for gauge in [
            "pdfmill_consumer_pending_messages",
            "pdfmill_consumer_ack_pending_messages",
            "pdfmill_consumer_redelivered_messages",
            "process_resident_memory_bytes",
        ] {
            assert_eq!(
                families.get(gauge).map(String::as_str),
                Some("gauge"),
                "{service}: {gauge}"
            );
        }
        assert_eq!(
            families
                .get("process_cpu_seconds_total")
                .map(String::as_str),
            Some("counter"),
            "{service}"
        );
        for (name, kind) in &families {
            if name.starts_with("pdfmill_")
                && (name.ends_with("_seconds") || name.ends_with("_bytes"))
            {
                assert_eq!(kind, "histogram", "{service}: {name}");
            }
        }
    }
    // Once everything is done, nothing is pending (the gauges are sampled from JetStream).
    for (service, text) in &scenario.scrapes {
        for name in [
            "pdfmill_consumer_pending_messages",
            "pdfmill_consumer_ack_pending_messages",
        ] {
            assert_eq!(total(text, name, &[]), 0.0, "{service}: {name}");
        }
    }

    // promtool lints the real output.
    let promtool = promtool();
    for (service, text) in &scenario.scrapes {
        let mut child = Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "promtool check metrics on {service}'s /metrics: {}\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        println!("promtool check metrics: {service} clean");
    }
}

// ---------------------------------------------------------------------------------------
// Logs

#[test]
fn log_lines_carry_the_trace_of_their_span() {
    let scenario = scenario();
    let spans = &scenario.spans;
    let by_id: BTreeMap<&str, &CapturedSpan> =
        spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut in_spans = 0;
    for (service, text) in &scenario.logs {
        for line in text.lines() {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{service}: not a JSON line ({e}): {line}"));
            for key in ["timestamp", "level", "target", "message"] {
                assert!(value.get(key).is_some(), "{service}: no {key} in {line}");
            }
            if value.get("span").is_none() {
                continue;
            }
            in_spans += 1;
            let trace_id = value["trace_id"]
                .as_str()
                .unwrap_or_else(|| panic!("{service}: a line in a span without trace_id: {line}"));
            let span_id = value["span_id"]
                .as_str()
                .unwrap_or_else(|| panic!("{service}: a line in a span without span_id: {line}"));
            assert_eq!(trace_id.len(), 32, "{line}");
            assert_eq!(span_id.len(), 16, "{line}");
            // The line's span is an exported span of the same trace, written by this role.
            let span = by_id
                .get(span_id)
                .unwrap_or_else(|| panic!("{service}: span {span_id} of {line} was not exported"));
            assert_eq!(span.trace_id, trace_id, "{line}");
            assert_eq!(span.service, *service, "{line}");
        }
    }
    assert!(in_spans > 0, "no log line was written inside a span");

    // The "converted" line of job A is in A's convert span, in A's trace.
    let a = &scenario.a;
    let trace_id = job_trace_id(spans, a);
    let convert = one(spans, "convert span of A", |s| {
        s.name == "convert" && s.attr("job.id") == Some(a.as_str())
    });
    let converted: Vec<Value> = scenario.logs["pdfmill-convert"]
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["message"] == "converted" && v["span_id"] == convert.span_id.as_str())
        .collect();
    assert_eq!(converted.len(), 1, "A's converted line: {converted:?}");
    assert_eq!(converted[0]["trace_id"], trace_id.as_str());
    assert_eq!(converted[0]["span"], "convert");
    println!("A's converted log line: {}", converted[0]);

    // And the email worker's "sent" line for A.
    let email = one(spans, "email span of A", |s| {
        s.name == "email" && s.attr("job.id") == Some(a.as_str())
    });
    let sent: Vec<Value> = scenario.logs["pdfmill-email"]
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["message"] == "sent" && v["span_id"] == email.span_id.as_str())
        .collect();
    assert_eq!(sent.len(), 1, "A's sent line: {sent:?}");
    assert_eq!(sent[0]["trace_id"], trace_id.as_str());
}

// ---------------------------------------------------------------------------------------
// Dashboards and alerts against the live scrapes

/// Grafana variables, replaced by something PromQL parses.
const GRAFANA_VARS: &[(&str, &str)] = &[
    ("$__rate_interval", "5m"),
    ("$__interval", "1m"),
    ("${__range}", "1h"),
    ("$__range", "1h"),
];

#[rustfmt::skip]
const PROMQL_FUNCTIONS: &[&str] = &[
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp",
    "clamp_max", "clamp_min", "count_over_time", "day_of_month", "day_of_week", "day_of_year",
    "days_in_month", "delta", "deriv", "exp", "floor", "histogram_avg", "histogram_count",
    "histogram_fraction", "histogram_quantile", "histogram_stddev", "histogram_stdvar",
    "histogram_sum", "holt_winters", "hour", "idelta", "increase", "irate", "label_join",
    "label_replace", "last_over_time", "ln", "log10", "log2", "max_over_time", "min_over_time",
    "minute", "month", "predict_linear", "present_over_time", "quantile_over_time", "rate",
    "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sqrt", "stddev_over_time",
    "stdvar_over_time", "sum_over_time", "time", "timestamp", "vector", "year", "sum", "min",
    "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile",
];
const PROMQL_GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
const PROMQL_KEYWORDS: &[&str] = &["and", "or", "unless", "offset", "bool", "inf", "nan"];

/// The metric names in a PromQL expression: every identifier that is not a function, a
/// keyword, a grouping label list, a label matcher, a string, a number or a range.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut expr = expr.to_string();
    for (var, value) in GRAFANA_VARS {
        expr = expr.replace(var, value);
    }
    let chars: Vec<char> = expr.chars().collect();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = BTreeSet::new();
    let mut i = 0;
    // Skips from an opening delimiter at `i` past its closing one (strings inside skipped).
    let skip = |mut i: usize, close: char| -> usize {
        i += 1;
        while i < chars.len() && chars[i] != close {
            if matches!(chars[i], '"' | '\'' | '`') {
                let quote = chars[i];
                i += 1;
                while i < chars.len() && chars[i] != quote {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
            }
            i += 1;
        }
        i + 1
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = skip(i, c),
            '{' => i = skip(i, '}'),
            '[' => i = skip(i, ']'),
            '$' => {
                i += 1;
                while i < chars.len() && (ident(chars[i]) || chars[i] == '{' || chars[i] == '}') {
                    i += 1;
                }
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() && (ident(chars[i]) || chars[i] == '.') {
                    i += 1;
                }
            }
            c if ident(c) => {
                let start = i;
                while i < chars.len() && ident(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut next = i;
                while next < chars.len() && chars[next].is_whitespace() {
                    next += 1;
                }
                let call = chars.get(next) == Some(&'(');
                // `sum by (le) (…)`: an aggregation with its grouping first.
                let grouped = ["by", "without"]
                    .iter()
                    .any(|g| chars[next..].iter().collect::<String>().starts_with(g));
                let lower = word.to_ascii_lowercase();
                if PROMQL_GROUPING.contains(&lower.as_str()) {
                    if call {
                        i = skip(next, ')');
                    }
                } else if PROMQL_KEYWORDS.contains(&lower.as_str()) {
                } else if call || grouped && PROMQL_FUNCTIONS.contains(&word.as_str()) {
                    assert!(
                        PROMQL_FUNCTIONS.contains(&word.as_str()),
                        "unknown PromQL function {word}() in {expr}"
                    );
                } else {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// The Prometheus expressions of a Grafana dashboard: every target of a panel (rows
/// included) whose datasource, its own or its panel's, is the Prometheus one.
fn dashboard_exprs(board: &Value, panel_uid: Option<&str>, out: &mut Vec<String>) {
    match board {
        Value::Object(map) => {
            let uid = map
                .get("datasource")
                .and_then(|d| d["uid"].as_str())
                .or(panel_uid);
            if let Some(Value::Array(targets)) = map.get("targets") {
                for target in targets {
                    let target_uid = target
                        .get("datasource")
                        .and_then(|d| d["uid"].as_str())
                        .or(uid);
                    if target_uid == Some("prometheus") {
                        out.push(target["expr"].as_str().unwrap().to_string());
                    }
                }
            }
            for (key, value) in map {
                if key != "targets" {
                    dashboard_exprs(value, uid, out);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                dashboard_exprs(item, panel_uid, out);
            }
        }
        _ => {}
    }
}

/// The `expr:` values of a Prometheus rules file (plain, quoted or block scalars).
fn rule_exprs(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let Some(rest) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let rest = rest.trim();
        if rest.starts_with('|') || rest.starts_with('>') {
            let mut block = Vec::new();
            while i < lines.len() && (lines[i].trim().is_empty() || indent(lines[i]) > indent(line))
            {
                block.push(lines[i].trim());
                i += 1;
            }
            out.push(block.join("\n"));
        } else {
            out.push(rest.trim_matches(|c| c == '"' || c == '\'').to_string());
        }
    }
    out
}

#[test]
fn dashboards_and_alerts_name_only_metrics_the_services_export() {
    let scenario = scenario();
    let mut sampled = BTreeSet::new();
    let mut kinds = BTreeMap::new();
    for text in scenario.scrapes.values() {
        sampled.extend(samples(text).into_iter().map(|(n, _, _)| n));
        kinds.extend(families(text));
    }
    let exported = |name: &str| -> bool {
        let histogram_part = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix));
        match histogram_part {
            Some(base) if kinds.get(base).map(String::as_str) == Some("histogram") => {
                sampled.contains(name)
            }
            _ => kinds.contains_key(name) && sampled.contains(name),
        }
    };

    let root = support::root();
    let mut sources: Vec<(String, Vec<String>, &[&str])> = Vec::new();
    let mut boards: Vec<PathBuf> = std::fs::read_dir(root.join("observability/grafana/dashboards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    boards.sort();
    assert!(boards.len() >= 2, "{boards:?}");
    for path in &boards {
        let board: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut exprs = Vec::new();
        dashboard_exprs(&board, None, &mut exprs);
        assert!(
            !exprs.is_empty(),
            "{}: no Prometheus expression",
            path.display()
        );
        sources.push((relative(&root, path), exprs, &[]));
    }
    let alerts = root.join("observability/prometheus/alerts.yml");
    let text = std::fs::read_to_string(&alerts).unwrap();
    let exprs = rule_exprs(&text);
    let rules = text
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("- alert:") || l.starts_with("- record:")
        })
        .count();
    assert_eq!(
        exprs.len(),
        rules,
        "one expr per rule in alerts.yml: {exprs:#?}"
    );
    // `up` is made by Prometheus for every target, never exported.
    sources.push((relative(&root, &alerts), exprs, &["up"]));

    let mut missing = Vec::new();
    let mut used_everywhere = BTreeSet::new();
    for (file, exprs, synthetic) in &sources {
        let mut used = BTreeSet::new();
        for expr in exprs {
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{file}: no metric in {expr}");
            for name in names {
                if !synthetic.contains(&name.as_str()) && !exported(&name) {
                    missing.push(format!("{file}: {name} (in {expr})"));
                }
                used.insert(name);
            }
        }
        println!(
            "{file}: {} expressions, metrics {}",
            exprs.len(),
            used.iter().cloned().collect::<Vec<_>>().join(" ")
        );
        used_everywhere.extend(used);
    }
    assert!(
        missing.is_empty(),
        "metrics the dashboards or alerts use but no live scrape has:\n  {}",
        missing.join("\n  ")
    );
    // The check has teeth: it covers the event-driven metrics too.
    for name in [
        "pdfmill_dead_letters_total",
        "pdfmill_redeliveries_total",
        "pdfmill_job_latency_seconds_bucket",
        "process_cpu_seconds_total",
    ] {
        assert!(used_everywhere.contains(name), "nothing uses {name}?");
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn the_promql_name_extractor_skips_functions_labels_and_ranges() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.95, sum by (le, job) (rate(a_seconds_bucket{job=~"x.+", q="}"}[$__rate_interval]))) / on (job) b_total offset 15m > 1e3 and up == 0"#
        ),
        BTreeSet::from([
            "a_seconds_bucket".to_string(),
            "b_total".into(),
            "up".into()
        ])
    );
    assert_eq!(
        rule_exprs(
            "  - alert: X\n    expr: |\n      a\n      > 1\n    for: 1m\n  - alert: Y\n    expr: b == 0\n"
        ),
        ["a\n> 1", "b == 0"]
    );
}
