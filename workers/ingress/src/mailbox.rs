//! The mailbox page, for the embedded default where emails land in an outbox folder instead
//! of leaving the machine: `/mailbox` lists the `.eml` files, newest first, and
//! `/mailbox/{file}` shows one. A person trying pdfmill on a laptop sees the "PDF ready"
//! email without an SMTP server. The HTML part is shown in a sandboxed `iframe` (no scripts,
//! no same-origin access), since an email's HTML is content, not part of this site.

use std::path::{Path, PathBuf};

use axum::{
    Router,
    extract::{Path as UrlPath, State},
    http::header,
    response::{Html, IntoResponse, Response},
    routing::get,
};
use mail_parser::MessageParser;

use crate::{ApiError, Ingress, web::escape};

pub(crate) fn routes() -> Router<Ingress> {
    Router::new()
        .route("/mailbox", get(list))
        .route("/mailbox/{file}", get(show))
        .route("/mailbox/{file}/raw", get(raw))
}

struct Summary {
    file: String,
    subject: String,
    to: String,
    date: String,
}

fn outbox(state: &Ingress) -> Result<&Path, ApiError> {
    state
        .settings()
        .outbox_dir
        .as_deref()
        .ok_or(ApiError::RouteNotFound)
}

async fn list(State(state): State<Ingress>) -> Result<Html<String>, ApiError> {
    let dir = outbox(&state)?.to_path_buf();
    let summaries = tokio::task::spawn_blocking(move || read_summaries(&dir))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let rows: String = summaries
        .iter()
        .map(|s| {
            format!(
                "<tr><td><a href=\"/mailbox/{file}\">{subject}</a></td><td>{to}</td><td>{date}</td></tr>\n",
                file = escape(&href(&s.file)),
                subject = escape(if s.subject.is_empty() { "(no subject)" } else { &s.subject }),
                to = escape(&s.to),
                date = escape(&s.date),
            )
        })
        .collect();
    let body = if summaries.is_empty() {
        "<p class=\"muted\">The outbox is empty. Submit a job with an email address on the <a href=\"/\">start page</a>.</p>".to_string()
    } else {
        format!(
            "<table><thead><tr><th>Subject</th><th>To</th><th>Date</th></tr></thead><tbody>\n{rows}</tbody></table>"
        )
    };
    Ok(Html(page("Mailbox", &body)))
}

/// Newest first; files that vanish or do not parse are skipped or shown bare.
fn read_summaries(dir: &Path) -> Vec<Summary> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| is_message_name(&e.file_name().to_string_lossy()))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    files
        .into_iter()
        .take(500)
        .filter_map(|(_, path)| {
            let bytes = std::fs::read(&path).ok()?;
            let message = MessageParser::default().parse(&bytes);
            let file = path.file_name()?.to_string_lossy().into_owned();
            Some(match message {
                Some(m) => Summary {
                    file,
                    subject: m.subject().unwrap_or_default().to_string(),
                    to: addresses(m.to()),
                    date: m.date().map(|d| d.to_rfc3339()).unwrap_or_default(),
                },
                None => Summary {
                    file,
                    subject: String::new(),
                    to: String::new(),
                    date: String::new(),
                },
            })
        })
        .collect()
}

fn addresses(address: Option<&mail_parser::Address<'_>>) -> String {
    address
        .map(|a| {
            a.iter()
                .filter_map(|addr| addr.address())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// A file name as a URL path segment: outbox names escape with `%XX`, which must survive the
/// router's percent-decoding.
fn href(file: &str) -> String {
    file.replace('%', "%25")
}

/// Outbox names are `<sanitised email id>.eml`: no path separators, no dot files.
fn is_message_name(name: &str) -> bool {
    name.ends_with(".eml")
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.%=".contains(c))
}

async fn read_message(state: &Ingress, file: &str) -> Result<Vec<u8>, ApiError> {
    if !is_message_name(file) {
        return Err(ApiError::EmailNotFound(file.to_string()));
    }
    tokio::fs::read(outbox(state)?.join(file))
        .await
        .map_err(|_| ApiError::EmailNotFound(file.to_string()))
}

async fn show(
    State(state): State<Ingress>,
    UrlPath(file): UrlPath<String>,
) -> Result<Html<String>, ApiError> {
    let bytes = read_message(&state, &file).await?;
    let Some(message) = MessageParser::default().parse(&bytes) else {
        return Err(ApiError::Internal(format!("{file} is not an email")));
    };
    let subject = message.subject().unwrap_or("(no subject)").to_string();
    let from = addresses(message.from());
    let to = addresses(message.to());
    let date = message.date().map(|d| d.to_rfc3339()).unwrap_or_default();
    let text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let html = message.body_html(0).map(|t| t.into_owned());
    let file_link = escape(&href(&file));
    let mut body = format!(
        "<p><a href=\"/mailbox\">← all emails</a> · <a href=\"/mailbox/{file_link}/raw\">raw .eml</a></p>\
         <dl class=\"headers\"><dt>Subject</dt><dd>{}</dd><dt>From</dt><dd>{}</dd><dt>To</dt><dd>{}</dd><dt>Date</dt><dd>{}</dd></dl>",
        escape(&subject),
        escape(&from),
        escape(&to),
        escape(&date),
    );
    if let Some(html) = html {
        body.push_str(&format!(
            "<h2>HTML</h2><iframe class=\"email\" sandbox srcdoc=\"{}\" title=\"HTML part\"></iframe>",
            escape(&html)
        ));
    }
    body.push_str(&format!("<h2>Text</h2><pre>{}</pre>", escape(&text)));
    Ok(Html(page(&subject, &body)))
}

async fn raw(
    State(state): State<Ingress>,
    UrlPath(file): UrlPath<String>,
) -> Result<Response, ApiError> {
    let bytes = read_message(&state, &file).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response())
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · pdfmill</title><link rel=\"stylesheet\" href=\"/assets/style.css\"></head>\
         <body><header><a class=\"brand\" href=\"/\">pdfmill</a><nav><a href=\"/mailbox\">Mailbox</a> <a href=\"/docs\">API</a></nav></header>\
         <main><h1>{title}</h1>\n{body}\n</main></body></html>\n",
        title = escape(title),
    )
}
