//! The outbox folder: one `.eml` per email id, written atomically, never duplicated.

use std::collections::BTreeMap;

use mail_parser::MessageParser;
use pdfmill_email::{Outbox, Transport, build_message, parse_mailbox, render};
use pdfmill_schemas::v1::EmailRequest;

fn failed(email_id: &str, reason: &str) -> EmailRequest {
    EmailRequest {
        email_id: email_id.into(),
        to: "ada@example.com".into(),
        template: "conversion_failed".into(),
        variables: BTreeMap::from([("error_message".to_owned(), reason.to_owned())])
            .into_iter()
            .collect(),
        job_id: "job-9".into(),
        requested_at: None,
    }
}

fn message(request: &EmailRequest) -> lettre::Message {
    let from = parse_mailbox("noreply@pdfmill.test").unwrap();
    build_message(&from, request, &render(request).unwrap()).unwrap()
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn one_file_per_email_id_and_a_resend_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let outbox_dir = dir.path().join("outbox");
    let url = format!("file://{}", outbox_dir.display());
    let transport = Transport::from_url(&url).unwrap();

    let first = failed("job-9:conversion_failed", "first reason");
    transport
        .send(&message(&first), &first.email_id)
        .await
        .unwrap();
    assert_eq!(files(&outbox_dir), ["job-9%3Aconversion_failed.eml"]);

    let again = failed("job-9:conversion_failed", "second reason");
    transport
        .send(&message(&again), &again.email_id)
        .await
        .unwrap();
    assert_eq!(
        files(&outbox_dir),
        ["job-9%3Aconversion_failed.eml"],
        "no duplicate, no temp file"
    );

    let other = failed("job-9_conversion_failed", "other email");
    transport
        .send(&message(&other), &other.email_id)
        .await
        .unwrap();
    assert_eq!(
        files(&outbox_dir),
        [
            "job-9%3Aconversion_failed.eml",
            "job-9_conversion_failed.eml"
        ],
        "ids that differ only in a character that is made safe stay apart"
    );

    let bytes = std::fs::read(outbox_dir.join("job-9%3Aconversion_failed.eml")).unwrap();
    let parsed = MessageParser::default().parse(&bytes).unwrap();
    assert_eq!(
        parsed.message_id(),
        Some("job-9%3Aconversion_failed@pdfmill")
    );
    let text = parsed.body_text(0).unwrap();
    assert!(
        text.contains("second reason"),
        "the last write wins:\n{text}"
    );
    assert!(parsed.body_html(0).unwrap().contains("second reason"));
}

#[tokio::test]
async fn the_outbox_reports_where_it_wrote_and_refuses_unsafe_ids() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path());
    let request = failed("../../etc/passwd", "nope");
    let path = outbox
        .write(&message(&request), &request.email_id)
        .await
        .unwrap();
    assert_eq!(
        path.parent(),
        Some(dir.path()),
        "a path in the id stays inside the outbox"
    );
    assert_eq!(files(dir.path()), ["%2E%2E%2F%2E%2E%2Fetc%2Fpasswd.eml"]);

    let error = outbox.write(&message(&request), "").await.unwrap_err();
    assert!(!error.is_transient());
    assert!(error.to_string().contains("email_id is empty"), "{error}");
}

#[tokio::test]
async fn an_unwritable_outbox_is_transient() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"a file where the outbox should be").unwrap();
    let request = failed("job-9:conversion_failed", "x");

    let error = Outbox::new(&blocker)
        .write(&message(&request), &request.email_id)
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.to_string().contains("not-a-folder"), "{error}");
}
