//! The HTTP API end to end: real nats-server, real workers, a real listener.

mod support;

use std::time::Duration;

use pdfmill_email::testing::Reply;
use serde_json::Value;
use support::{TestApp, error_of, png};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_status_pdf_and_email() {
    let app = TestApp::spawn().await;
    let response = app
        .submit(
            &[("first page.png", png(40, 30)), ("second.png", png(20, 50))],
            &[
                ("email", "ada@example.com"),
                ("page_size", "a4"),
                ("margin", "10mm"),
                ("title", "Scans"),
            ],
            None,
        )
        .await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(body["state"], "queued");
    assert_eq!(body["status_url"], format!("/v1/conversions/{id}"));
    assert_eq!(location, format!("/v1/conversions/{id}"));

    let status = app.wait_for_state(id, "emailed", WAIT).await;
    assert_eq!(status["pages"], 2);
    assert_eq!(status["images"], 2);
    assert_eq!(status["email"], "ada@example.com");
    assert_eq!(status["pdf_url"], format!("/v1/conversions/{id}/pdf"));
    assert!(
        status["submitted_at"].as_str().unwrap().ends_with('Z'),
        "{status}"
    );
    assert!(status.get("error").is_none());

    let pdf = app
        .http
        .get(app.url(status["pdf_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert_eq!(bytes.len() as u64, status["size_bytes"].as_u64().unwrap());

    let mails = app.wait_for_emails(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["ada@example.com".to_string()]);
    assert!(
        mails[0]
            .body_text()
            .contains(&format!("/v1/conversions/{id}/pdf"))
    );

    // The stored images keep their order and safe names.
    let uploads = app.ctx.store.count(&format!("uploads/{id}")).await.unwrap();
    assert_eq!(uploads, 2);
    assert!(
        app.ctx
            .store
            .exists(&format!("uploads/{id}/000-first_page.png"))
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_stream_every_state_and_end_with_the_job() {
    let app = TestApp::spawn().await;
    let id = app
        .submit_ok(&[("a.png", png(8, 8))], &[("email", "bob@example.com")])
        .await;
    let response = app
        .http
        .get(app.url(&format!("/v1/conversions/{id}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // The stream ends by itself once the job is emailed.
    let text = tokio::time::timeout(WAIT, response.text())
        .await
        .unwrap()
        .unwrap();
    let states: Vec<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| {
            serde_json::from_str::<Value>(data).unwrap()["state"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(states.last().map(String::as_str), Some("emailed"), "{text}");
    assert!(text.contains("event: status"));
    // States only move forward.
    let order = ["queued", "converting", "converted", "emailed"];
    let ranks: Vec<usize> = states
        .iter()
        .map(|s| order.iter().position(|o| o == s).unwrap())
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{states:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_email_ends_the_job_and_its_events_with_email_failed_and_the_pdf_stays() {
    let app = TestApp::spawn().await;
    app.smtp.reply_with(Reply::REJECT);
    let id = app
        .submit_ok(&[("a.png", png(8, 8))], &[("email", "nobody@example.com")])
        .await;
    let events = app
        .http
        .get(app.url(&format!("/v1/conversions/{id}/events")))
        .send()
        .await
        .unwrap();
    let text = tokio::time::timeout(WAIT, events.text())
        .await
        .expect("the event stream ends with the job")
        .unwrap();
    let last: Value = serde_json::from_str(
        text.lines()
            .filter_map(|line| line.strip_prefix("data: "))
            .next_back()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["state"], "email_failed", "{text}");

    let (code, status) = app.status(&id).await;
    assert_eq!(code, 200);
    assert_eq!(status["state"], "email_failed");
    assert_eq!(status["email"], "nobody@example.com");
    assert_eq!(status["error"]["class"], "invalid_request", "{status}");
    let message = status["error"]["message"].as_str().unwrap();
    assert!(message.contains("550"), "{message}");
    let documented = serde_json::to_value(pdfmill_ingress::openapi()).unwrap();
    let states = documented["components"]["schemas"]["State"]["enum"]
        .as_array()
        .unwrap();
    assert!(states.contains(&status["state"]), "{states:?}");

    let pdf = app
        .http
        .get(app.url(status["pdf_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));
    assert!(app.smtp.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_raw_image_body_with_options_in_the_query() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(app.url("/v1/conversions?page_size=letter&fit=cover&dpi=150"))
        .header("content-type", "image/jpeg") // wrong on purpose: the bytes decide
        .body(png(10, 10))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let status = app.wait_for_state(&id, "converted", WAIT).await;
    assert_eq!(status["pages"], 1);
    assert!(status.get("email").is_none());
    assert!(
        app.ctx
            .store
            .exists(&format!("uploads/{id}/000-image.png"))
            .await
            .unwrap()
    );
    // Without an email the job ends at converted, and so does its event stream.
    let events = app
        .http
        .get(app.url(&format!("/v1/conversions/{id}/events")))
        .send()
        .await
        .unwrap();
    let text = tokio::time::timeout(WAIT, events.text())
        .await
        .unwrap()
        .unwrap();
    assert!(text.contains("\"state\":\"converted\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrupt_image_fails_the_job_with_its_error() {
    let app = TestApp::spawn().await;
    // A JPEG start-of-image marker and nothing that decodes: it passes the type check at the
    // door and fails in the converter.
    let mut fake = vec![0xFF, 0xD8, 0xFF, 0xE0];
    fake.extend_from_slice(&[0u8; 64]);
    let id = app.submit_ok(&[("broken.jpg", fake)], &[]).await;
    let status = app.wait_for_state(&id, "failed", WAIT).await;
    assert!(
        !status["error"]["message"].as_str().unwrap().is_empty(),
        "{status}"
    );
    assert!(
        ["corrupt", "unsupported"].contains(&status["error"]["class"].as_str().unwrap()),
        "{status}"
    );
    let pdf = app
        .http
        .get(app.url(&format!("/v1/conversions/{id}/pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(pdf).await.0, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retry_with_the_same_idempotency_key_is_the_same_job() {
    let app = TestApp::spawn().await;
    let image = png(12, 12);
    let first = app
        .submit(
            &[("a.png", image.clone())],
            &[("email", "c@example.com")],
            Some("order-42"),
        )
        .await;
    assert_eq!(first.status(), 202);
    let id = first.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.wait_for_state(&id, "emailed", WAIT).await;

    // The same request again (under another file name): the first job, nothing stored or
    // sent again.
    let again = app
        .submit(
            &[("renamed.png", image.clone())],
            &[("email", "c@example.com")],
            Some("order-42"),
        )
        .await;
    assert_eq!(again.status(), 202);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["state"], "emailed");

    // The same key with other images, or another address, is a mistake, not a retry.
    for (images, email) in [
        (
            vec![("b.png", png(30, 30)), ("c.png", png(5, 5))],
            "c@example.com",
        ),
        (vec![("a.png", image.clone())], "someone-else@example.com"),
    ] {
        let reused = app
            .submit(&images, &[("email", email)], Some("order-42"))
            .await;
        let (status, code, message) = error_of(reused).await;
        assert_eq!((status, code.as_str()), (422, "idempotency_key_reused"));
        assert!(message.contains("new key"), "{message}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.ctx.store.count("uploads").await.unwrap(), 1);
    assert_eq!(app.ctx.store.count("pdfs").await.unwrap(), 1);
    assert_eq!(app.smtp.messages().len(), 1);

    // Another key, or none, is another job.
    let other = app
        .submit(&[("a.png", image.clone())], &[], Some("order-43"))
        .await;
    assert_ne!(other.json::<Value>().await.unwrap()["id"], id.as_str());
    let keyless = app.submit_ok(&[("a.png", image)], &[]).await;
    assert_ne!(keyless, id);
}
