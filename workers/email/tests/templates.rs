//! Each template renders a subject, a text part and an HTML part from the request's
//! variables; the HTML part escapes them; bad requests fail for good with a clear message.

use std::collections::BTreeMap;

use pdfmill_email::{EmailError, render};
use pdfmill_schemas::v1::EmailRequest;

fn request(template: &str, variables: &[(&str, &str)]) -> EmailRequest {
    EmailRequest {
        email_id: format!("job-42:{template}"),
        to: "ada@example.com".into(),
        template: template.into(),
        variables: variables
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect(),
        job_id: "job-42".into(),
        requested_at: None,
    }
}

const HOSTILE: &str = r#"<script>alert("x")</script> & 'more'"#;
const ESCAPED: &str =
    "&lt;script&gt;alert(&quot;x&quot;)&lt;&#x2f;script&gt; &amp; &#x27;more&#x27;";

#[test]
fn conversion_completed_shows_the_link_pages_size_and_job() {
    let email = render(&request(
        "conversion_completed",
        &[
            (
                "pdf_url",
                "https://files.example.com/job-42.pdf?sig=a&exp=1",
            ),
            ("pages", "3"),
            ("size_bytes", "2400000"),
        ],
    ))
    .unwrap();

    assert_eq!(email.subject, "Your PDF is ready (3 pages)");
    for part in [&email.text, &email.html] {
        assert!(part.contains("job-42"), "job id in:\n{part}");
        assert!(part.contains("2.4 MB"), "size in:\n{part}");
        assert!(part.contains('3'), "pages in:\n{part}");
    }
    assert!(
        email
            .text
            .contains("https://files.example.com/job-42.pdf?sig=a&exp=1")
    );
    assert!(
        email.html.contains(
            r#"href="https:&#x2f;&#x2f;files.example.com&#x2f;job-42.pdf?sig=a&amp;exp=1""#
        ),
        "escaped link in:\n{}",
        email.html
    );
    assert!(email.html.starts_with("<!DOCTYPE html>"));
    assert!(
        !email.html.contains("http://") && !email.html.contains("src="),
        "no external assets"
    );
}

#[test]
fn conversion_completed_takes_one_page_download_url_and_no_size() {
    let email = render(&request(
        "conversion_completed",
        &[
            ("download_url", "http://localhost:8080/jobs/job-42/pdf"),
            ("pages", "1"),
        ],
    ))
    .unwrap();
    assert_eq!(email.subject, "Your PDF is ready (1 page)");
    assert!(email.text.contains("http://localhost:8080/jobs/job-42/pdf"));
    assert!(!email.text.contains("Size"));
}

#[test]
fn conversion_failed_shows_the_reason_escaped_in_html() {
    let email = render(&request("conversion_failed", &[("error_message", HOSTILE)])).unwrap();
    assert_eq!(email.subject, "Your PDF could not be made");
    assert!(
        email.text.contains(HOSTILE),
        "text is not escaped:\n{}",
        email.text
    );
    assert!(
        email.html.contains(ESCAPED),
        "html is escaped:\n{}",
        email.html
    );
    assert!(!email.html.contains("<script>"));
    assert!(email.text.contains("job-42") && email.html.contains("job-42"));
}

#[test]
fn welcome_greets_by_name_when_there_is_one() {
    let plain = render(&request("welcome", &[])).unwrap();
    assert_eq!(plain.subject, "Welcome to pdfmill");
    assert!(plain.text.starts_with("Hello,"));

    let named = render(&request(
        "welcome",
        &[("name", HOSTILE), ("app_url", "https://pdfmill.example/")],
    ))
    .unwrap();
    assert!(named.text.contains(HOSTILE));
    assert!(named.html.contains(ESCAPED) && !named.html.contains("<script>"));
    assert!(
        named
            .html
            .contains("https:&#x2f;&#x2f;pdfmill.example&#x2f;")
    );
}

#[test]
fn notification_uses_its_title_as_the_subject() {
    let email = render(&request(
        "notification",
        &[
            ("title", "Maintenance <tonight>\n at 22:00"),
            ("message", HOSTILE),
            ("action_url", "https://status.example.com"),
            ("action_label", "See the status page"),
        ],
    ))
    .unwrap();
    assert_eq!(
        email.subject, "Maintenance <tonight> at 22:00",
        "one line, not escaped"
    );
    assert!(email.text.contains(HOSTILE));
    assert!(email.html.contains(ESCAPED));
    assert!(email.html.contains("Maintenance &lt;tonight&gt;"));
    assert!(email.html.contains("See the status page"));
}

#[test]
fn an_unknown_template_is_permanent_and_named() {
    let error = render(&request("birthday", &[])).unwrap_err();
    assert!(matches!(error, EmailError::Template(_)), "{error:?}");
    assert!(!error.is_transient());
    let text = error.to_string();
    assert!(
        text.contains("`birthday`") && text.contains("conversion_completed"),
        "{text}"
    );
}

#[test]
fn a_missing_variable_is_permanent_and_named() {
    let error = render(&request("conversion_completed", &[("pages", "2")])).unwrap_err();
    assert!(!error.is_transient());
    assert_eq!(
        error.to_string(),
        "email template `conversion_completed` needs the variable `pdf_url`, and the request has none"
    );

    let mut no_job = request("conversion_failed", &[("error_message", "corrupt PNG")]);
    no_job.job_id.clear();
    let error = render(&no_job).unwrap_err();
    assert!(error.to_string().contains("`job_id`"), "{error}");

    let empty = render(&request(
        "notification",
        &[("title", "Hi"), ("message", "  ")],
    ))
    .unwrap_err();
    assert!(empty.to_string().contains("`message`"), "{empty}");
}

#[test]
fn bad_links_and_numbers_are_permanent() {
    for (variables, needle) in [
        (vec![("pdf_url", "javascript:alert(1)")], "javascript"),
        (vec![("pdf_url", "/jobs/42.pdf")], "not an absolute URL"),
        (
            vec![("pdf_url", "https://x.example/a.pdf"), ("pages", "three")],
            "`three`",
        ),
    ] {
        let error = render(&request("conversion_completed", &variables)).unwrap_err();
        assert!(matches!(error, EmailError::Template(_)), "{error:?}");
        assert!(!error.is_transient());
        assert!(error.to_string().contains(needle), "{error}");
    }
}
