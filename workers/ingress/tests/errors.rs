//! Every error the API answers, with its status and body, and the promise behind the 503:
//! nothing is recorded when the request could not be queued.

mod support;

use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use pdfmill_core::Secret;
use pdfmill_ingress::{IngressSettings, UploadLimits};
use serde_json::Value;
use support::{Options, TestApp, error_of, png};

fn without_workers(ingress: IngressSettings) -> Options {
    Options {
        workers: false,
        outbox: false,
        ingress,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn too_large_uploads_are_413() {
    let app = TestApp::spawn_with(without_workers(IngressSettings {
        limits: UploadLimits {
            max_upload_bytes: 4096,
            max_images: 2,
        },
        ..IngressSettings::default()
    }))
    .await;
    // Far more than the socket buffers hold: the server answers while the client is still
    // sending, and the client must still get the answer, not a reset (see linger.rs).
    let mut big = png(1000, 1000);
    big.resize(8 << 20, 0);
    let (status, code, message) =
        error_of(app.submit(&[("big.png", big.clone())], &[], None).await).await;
    assert_eq!((status, code.as_str()), (413, "too_large"), "{message}");
    assert!(message.contains("4096"), "{message}");

    for _ in 0..5 {
        let raw = app
            .http
            .post(app.url("/v1/conversions"))
            .header("content-type", "image/png")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(raw).await.1, "too_large");
    }

    // A client that waits for `100 Continue` is answered before it sends a byte of the body.
    let mut socket = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/conversions HTTP/1.1\r\nhost: pdfmill\r\ncontent-type: image/png\r\n\
         content-length: {}\r\nexpect: 100-continue\r\n\r\n",
        big.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut answer))
        .await
        .expect("an answer without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    let three = [
        ("a.png", png(2, 2)),
        ("b.png", png(2, 2)),
        ("c.png", png(2, 2)),
    ];
    let (status, code, _) = error_of(app.submit(&three, &[], None).await).await;
    assert_eq!((status, code.as_str()), (413, "too_many_images"));
    assert_eq!(app.ctx.store.count("uploads").await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_is_not_a_png_or_jpeg_is_415() {
    let app = TestApp::spawn_with(without_workers(IngressSettings::default())).await;
    let (status, code, message) = error_of(
        app.submit(&[("notes.png", b"hello, I am text".to_vec())], &[], None)
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (415, "unsupported_media_type"));
    assert!(message.contains("not a PNG or JPEG"), "{message}");

    let gif = app
        .submit(&[("a.gif", b"GIF89a\x01\x00\x01\x00".to_vec())], &[], None)
        .await;
    assert_eq!(error_of(gif).await.0, 415);

    let empty = app.submit(&[("empty.png", Vec::new())], &[], None).await;
    assert_eq!(error_of(empty).await.0, 415);

    let text = app
        .http
        .post(app.url("/v1/conversions"))
        .header("content-type", "text/plain")
        .body(png(2, 2))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(text).await.0, 415);

    let raw = app
        .http
        .post(app.url("/v1/conversions"))
        .header("content-type", "image/png")
        .body("not a png")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(raw).await.1, "unsupported_media_type");
    assert_eq!(app.ctx.store.count("uploads").await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_addresses_options_and_forms_are_422() {
    let app = TestApp::spawn_with(without_workers(IngressSettings::default())).await;
    let image = || vec![("a.png", png(2, 2))];
    // (form fields, error code, a word the message must mention)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[("email", "not an address")],
            "invalid_address",
            "not an address",
        ),
        (&[("email", "a@b@c")], "invalid_address", "a@b@c"),
        (&[("page_size", "a11")], "invalid_request", "page_size"),
        (&[("fit", "stretch")], "invalid_request", "fit"),
        (&[("margin", "ten")], "invalid_request", "margin"),
        (&[("margin", "-5mm")], "invalid_request", "margin"),
        (&[("dpi", "0")], "invalid_request", "dpi"),
        (&[("dpi", "many")], "invalid_request", "dpi"),
        (&[("colour", "red")], "invalid_request", "colour"),
    ];
    for (fields, want_code, mention) in cases {
        let (status, code, message) = error_of(app.submit(&image(), fields, None).await).await;
        assert_eq!(
            (status, code.as_str()),
            (422, *want_code),
            "{fields:?}: {message}"
        );
        assert!(message.contains(mention), "{fields:?}: {message}");
    }
    let (status, _, message) =
        error_of(app.submit(&[], &[("email", "a@example.com")], None).await).await;
    assert_eq!(status, 422, "{message}");
    assert!(message.contains("image"), "{message}");

    let (status, _, _) = error_of(app.submit(&image(), &[], Some(&"k".repeat(300))).await).await;
    assert_eq!(status, 422);

    let query = app
        .http
        .post(app.url("/v1/conversions?dpi=abc"))
        .header("content-type", "image/png")
        .body(png(2, 2))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(query).await.0, 422);
    assert_eq!(app.ctx.store.count("uploads").await.unwrap(), 0);
    assert_eq!(
        app.ctx
            .js
            .get_key_value(pdfmill_schemas::buckets::JOBS)
            .await
            .unwrap()
            .keys()
            .await
            .unwrap()
            .count()
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_jobs_and_routes_are_404_and_an_unfinished_pdf_is_409() {
    let app = TestApp::spawn_with(without_workers(IngressSettings::default())).await;
    for path in [
        "/v1/conversions/no-such-job",
        "/v1/conversions/no-such-job/events",
        "/v1/conversions/no-such-job/pdf",
        "/v1/conversions/..%2F..%2Fetc/pdf",
        "/v1/nothing-here",
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        let (status, code, _) = error_of(response).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            code == "not_found" || code == "route_not_found",
            "{path}: {code}"
        );
    }
    // No workers: the job stays queued, so it has no PDF.
    let id = app.submit_ok(&[("a.png", png(2, 2))], &[]).await;
    let (status, body) = app.status(&id).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("queued")));
    let pdf = app
        .http
        .get(app.url(&format!("/v1/conversions/{id}/pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(pdf).await,
        (
            409,
            "not_ready".into(),
            format!("conversion `{id}` has no PDF yet; wait for state `converted`")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_keys_guard_the_api_but_not_health_docs_or_the_page() {
    let app = TestApp::spawn_with(Options {
        workers: true,
        outbox: false,
        ingress: IngressSettings {
            api_keys: vec![Secret::new("s3cret-key")],
            ..IngressSettings::default()
        },
    })
    .await;
    let none = app.submit(&[("a.png", png(2, 2))], &[], None).await;
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    assert_eq!(error_of(none).await.0, 401);
    let wrong = app
        .http
        .get(app.url("/v1/conversions/x"))
        .bearer_auth("s3cret-kez")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(wrong).await,
        (
            401,
            "unauthorized".into(),
            "a valid API key is required: send `Authorization: Bearer <key>`".into()
        )
    );
    let email = app
        .http
        .post(app.url("/v1/emails"))
        .json(&serde_json::json!({"to": "a@example.com", "template": "welcome"}))
        .send()
        .await
        .unwrap();
    assert_eq!(email.status(), 401);

    let form = reqwest::multipart::Form::new().part(
        "image",
        reqwest::multipart::Part::bytes(png(3, 3)).file_name("a.png"),
    );
    let ok = app
        .http
        .post(app.url("/v1/conversions"))
        .bearer_auth("s3cret-key")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 202);
    let id = ok.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A GET may carry the key in the query, for EventSource and links.
    let by_query = app
        .http
        .get(app.url(&format!("/v1/conversions/{id}?access_token=s3cret-key")))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
    for open in [
        "/healthz",
        "/readyz",
        "/openapi.json",
        "/docs/",
        "/",
        "/assets/app.js",
    ] {
        let response = app.http.get(app.url(open)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{open}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_nats_cannot_take_the_request_it_is_503_and_nothing_is_recorded() {
    let mut app = TestApp::spawn_with(without_workers(IngressSettings::default())).await;
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The stream is gone: the publish fails, and no status may claim the job is queued.
    app.ctx
        .js
        .delete_stream(pdfmill_schemas::streams::CONVERT)
        .await
        .unwrap();
    let (status, code, message) =
        error_of(app.submit(&[("a.png", png(2, 2))], &[], Some("k-1")).await).await;
    assert_eq!((status, code.as_str()), (503, "unavailable"), "{message}");
    assert_eq!(
        app.ctx
            .js
            .get_key_value(pdfmill_schemas::buckets::JOBS)
            .await
            .unwrap()
            .keys()
            .await
            .unwrap()
            .count()
            .await,
        0
    );
    assert_eq!(
        app.ctx.store.count("uploads").await.unwrap(),
        0,
        "the uploads were taken back"
    );
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(error_of(ready).await.0, 503);

    // The server is gone: refused at once.
    app.stop_nats().await;
    let started = std::time::Instant::now();
    let response = app.submit(&[("a.png", png(2, 2))], &[], None).await;
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(error_of(response).await.0, 503);
    assert!(started.elapsed() < Duration::from_secs(2));
    let status = app
        .http
        .get(app.url("/v1/conversions/anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 503);
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn emails_are_sent_once_per_key_and_bad_ones_are_refused() {
    let app = TestApp::spawn().await;
    let send = |body: Value, key: Option<&str>| {
        let mut request = app.http.post(app.url("/v1/emails")).json(&body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send()
    };
    let welcome = serde_json::json!({"to": "Ada <ada@example.com>", "template": "welcome", "variables": {"name": "Ada"}});
    let first = send(welcome.clone(), Some("welcome-ada")).await.unwrap();
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let again: Value = send(welcome, Some("welcome-ada"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["id"], again["id"]);
    let note = serde_json::json!({"to": "bob@example.com", "template": "notification",
        "variables": {"title": "Maintenance", "message": "Tonight at 10", "action_url": "https://example.com/status"}});
    assert_eq!(send(note, None).await.unwrap().status(), 202);
    let mails = app.wait_for_emails(2).await;
    assert_eq!(mails.len(), 2, "one welcome and one notification");
    assert!(
        mails
            .iter()
            .any(|m| m.to == vec!["ada@example.com".to_string()])
    );

    let bad: &[(Value, u16, &str)] = &[
        (
            serde_json::json!({"to": "nobody", "template": "welcome"}),
            422,
            "invalid_address",
        ),
        (
            serde_json::json!({"to": "a@example.com", "template": "conversion_completed"}),
            422,
            "invalid_request",
        ),
        (
            serde_json::json!({"to": "a@example.com", "template": "notification", "variables": {"title": "t"}}),
            422,
            "invalid_request",
        ),
        (
            serde_json::json!({"to": "a@example.com", "template": "welcome", "variables": {"app_url": "javascript:alert(1)"}}),
            422,
            "invalid_request",
        ),
        (
            serde_json::json!({"to": "a@example.com", "template": "welcome", "cc": "x"}),
            422,
            "invalid_request",
        ),
    ];
    for (body, want_status, want_code) in bad {
        let (status, code, message) = error_of(send(body.clone(), None).await.unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (*want_status, *want_code),
            "{body}: {message}"
        );
    }
    let not_json = app
        .http
        .post(app.url("/v1/emails"))
        .body("to=a")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(not_json).await.0, 415);
}
