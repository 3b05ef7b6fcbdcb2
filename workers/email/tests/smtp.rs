//! Sending through a real SMTP server (in-process): what arrives, and how refusals and
//! unreachable relays are classified.

use std::collections::BTreeMap;

use mail_parser::MessageParser;
use pdfmill_email::testing::{Reply, SmtpCapture, refused_port};
use pdfmill_email::{EmailError, Transport, build_message, parse_mailbox, render};
use pdfmill_schemas::v1::EmailRequest;

fn completed(to: &str) -> EmailRequest {
    EmailRequest {
        email_id: "job-7:conversion_completed".into(),
        to: to.into(),
        template: "conversion_completed".into(),
        variables: BTreeMap::from([
            (
                "pdf_url".to_owned(),
                "https://files.example.com/job-7.pdf".to_owned(),
            ),
            ("pages".to_owned(), "12".to_owned()),
            ("size_bytes".to_owned(), "1234567".to_owned()),
        ])
        .into_iter()
        .collect(),
        job_id: "job-7".into(),
        requested_at: None,
    }
}

fn message_for(request: &EmailRequest) -> Result<lettre::Message, EmailError> {
    let from = parse_mailbox("pdfmill <noreply@pdfmill.test>")?;
    build_message(&from, request, &render(request)?)
}

#[tokio::test]
async fn a_sent_email_arrives_with_its_ids_subject_and_both_parts() {
    let smtp = SmtpCapture::start();
    let transport = Transport::from_url(&smtp.url()).unwrap();
    let request = completed("Ada Lovelace <ada@example.com>");

    transport
        .send(&message_for(&request).unwrap(), &request.email_id)
        .await
        .unwrap();

    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.from, "noreply@pdfmill.test");
    assert_eq!(mail.to, ["ada@example.com"]);
    assert_eq!(
        mail.header("Message-ID").as_deref(),
        Some("<job-7%3Aconversion_completed@pdfmill>")
    );
    assert_eq!(
        mail.header("X-Pdfmill-Email-Id").as_deref(),
        Some("job-7:conversion_completed")
    );
    assert_eq!(mail.header("X-Pdfmill-Job-Id").as_deref(), Some("job-7"));

    let parsed = MessageParser::default()
        .parse(&mail.data)
        .expect("a MIME message");
    assert_eq!(parsed.subject(), Some("Your PDF is ready (12 pages)"));
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"),
        "{:?}",
        mail.header("Content-Type")
    );
    let text = parsed.body_text(0).expect("a text part");
    let html = parsed.body_html(0).expect("an HTML part");
    assert!(
        text.contains("https://files.example.com/job-7.pdf"),
        "{text}"
    );
    assert!(text.contains("1.2 MB"), "{text}");
    assert!(html.contains("Download the PDF"), "{html}");
    assert_ne!(text, html);
}

#[tokio::test]
async fn the_same_email_id_gives_the_same_message_id() {
    let smtp = SmtpCapture::start();
    let transport = Transport::from_url(&format!("{}?pool=2&timeout=5", smtp.url())).unwrap();
    let request = completed("ada@example.com");
    for _ in 0..2 {
        let message = message_for(&request).unwrap();
        transport.send(&message, &request.email_id).await.unwrap();
    }
    let ids: Vec<_> = smtp
        .messages()
        .iter()
        .map(|m| m.header("Message-ID"))
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1]);
}

#[tokio::test]
async fn a_5xx_reply_is_permanent() {
    let smtp = SmtpCapture::start();
    smtp.reply_with(Reply::REJECT);
    let transport = Transport::from_url(&smtp.url()).unwrap();
    let request = completed("nobody@example.com");

    let error = transport
        .send(&message_for(&request).unwrap(), &request.email_id)
        .await
        .unwrap_err();

    assert!(matches!(error, EmailError::Smtp(_)), "{error:?}");
    assert!(!error.is_transient(), "{error}");
    assert_eq!(error.smtp_code(), Some(550));
    assert!(
        error.to_string().contains("refused the email for good"),
        "{error}"
    );
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn a_4xx_reply_is_transient_and_a_later_try_succeeds() {
    let smtp = SmtpCapture::start();
    smtp.reply_with(Reply::TRY_LATER);
    let transport = Transport::from_url(&smtp.url()).unwrap();
    let request = completed("ada@example.com");
    let message = message_for(&request).unwrap();

    let error = transport
        .send(&message, &request.email_id)
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(error.smtp_code(), Some(451));
    assert!(error.to_string().contains("try again later"), "{error}");

    smtp.reply_with(Reply::ACCEPT);
    transport.send(&message, &request.email_id).await.unwrap();
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn a_relay_that_refuses_connections_is_transient() {
    let transport = Transport::from_url(&format!("smtp://127.0.0.1:{}", refused_port())).unwrap();
    let request = completed("ada@example.com");

    let error = transport
        .send(&message_for(&request).unwrap(), &request.email_id)
        .await
        .unwrap_err();

    assert!(matches!(error, EmailError::Smtp(_)), "{error:?}");
    assert!(error.is_transient(), "{error}");
    assert_eq!(error.smtp_code(), None);
    assert!(
        error.to_string().to_lowercase().contains("refused"),
        "{error}"
    );
}

#[test]
fn a_bad_address_is_permanent() {
    for to in [
        "not an address",
        "",
        "ada@",
        "ada@example.com\r\nBcc: eve@example.com",
    ] {
        let error = message_for(&completed(to)).unwrap_err();
        assert!(
            matches!(error, EmailError::InvalidAddress { .. }),
            "{to:?}: {error:?}"
        );
        assert!(!error.is_transient());
        assert!(
            error.to_string().starts_with("invalid email address"),
            "{error}"
        );
    }
}

#[test]
fn ids_with_control_characters_are_refused() {
    let mut request = completed("ada@example.com");
    request.job_id = "job-7\r\nBcc: eve@example.com".into();
    let error = message_for(&request).unwrap_err();
    assert!(matches!(error, EmailError::InvalidRequest(_)), "{error:?}");
    assert!(!error.is_transient());
}

#[tokio::test]
async fn transport_urls_are_checked_and_passwords_never_shown() {
    for (url, needle) in [
        ("smtps://user:hunter2@mail.example.com:465?pool=4", ""),
        ("smtp+starttls://us%40er:p%2Fss@mail.example.com", ""),
        ("smtp://127.0.0.1:2525?timeout=0.5", ""),
        ("smtp://user:hunter2@mail.example.com?pool=0", "pool"),
        (
            "smtp://mail.example.com?tls=required",
            "unknown option `tls`",
        ),
        (
            "smtp://:hunter2@mail.example.com",
            "password without a user name",
        ),
        ("smtp://mail.example.com/path", "no path"),
        ("http://mail.example.com", "unknown scheme `http`"),
        ("file://relative/outbox", "absolute local path"),
        ("not a url at all", "relative URL"),
    ] {
        match Transport::from_url(url) {
            Ok(transport) => {
                assert!(needle.is_empty(), "{url} should fail with {needle}");
                let shown = format!("{transport:?}");
                assert!(
                    !shown.contains("hunter2") && !shown.contains("p%2Fss"),
                    "{shown}"
                );
            }
            Err(error) => {
                assert!(!needle.is_empty(), "{url}: {error}");
                assert!(!error.is_transient());
                let text = error.to_string();
                assert!(text.contains(needle), "{url}: {text}");
                assert!(!text.contains("hunter2"), "{text}");
            }
        }
    }
}
