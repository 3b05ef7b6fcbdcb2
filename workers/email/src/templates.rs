//! The email templates: a subject, a plain-text body and an HTML body for each kind of
//! email pdfmill sends.
//!
//! The templates live in `workers/email/templates/` and are compiled into the binary with
//! `include_str!`, so a deployed worker cannot run with a template missing or out of date,
//! and a template that does not parse fails this crate's tests rather than a delivery.
//! They are rendered with minijinja: `.html` templates escape every value (a file name or an
//! error message that contains `<script>` arrives as text), `.txt` and `.subject` templates
//! do not, since neither is interpreted as markup.
//!
//! The catalogue itself (names, and the variables each template cannot do without) is
//! `pdfmill_schemas::domain::Template`, shared with the services that ask for emails. Those
//! variables are checked before rendering, so a request that lacks one fails with a message
//! naming the variable rather than with an email that says "Download it here: " and nothing
//! after it. Such a request fails the same way on every retry, so the error is permanent.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior, Value};
use pdfmill_schemas::{domain::Template, v1::EmailRequest};

use crate::EmailError;

/// One email rendered from a template, ready to be put into a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// The subject line: one line, whitespace collapsed.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body, every variable HTML-escaped.
    pub html: String,
}

/// Renders the template a request names with the request's variables.
///
/// Fails with [`EmailError::Template`] for an unknown template or a missing or invalid
/// variable: permanent, the same request would fail again.
///
/// ```
/// use pdfmill_schemas::{domain::Template, v1::EmailRequest};
///
/// let request = EmailRequest {
///     email_id: "job-1:conversion_failed".into(),
///     to: "ada@example.com".into(),
///     template: "conversion_failed".into(),
///     variables: [("error_message".to_owned(), "image 2 is not a PNG <or JPEG>".to_owned())].into(),
///     job_id: "job-1".into(),
///     requested_at: None,
/// };
/// let email = pdfmill_email::render(&request)?;
/// assert_eq!(email.subject, "Your PDF could not be made");
/// assert!(email.text.contains("image 2 is not a PNG <or JPEG>"));
/// assert!(email.html.contains("image 2 is not a PNG &lt;or JPEG&gt;"));
/// # Ok::<(), pdfmill_email::EmailError>(())
/// ```
pub fn render(request: &EmailRequest) -> Result<RenderedEmail, EmailError> {
    let template = Template::parse(&request.template)?;
    let name = template.name();
    let context = context(template, request)?;
    let environment = environment();
    let render = |suffix: &str| {
        environment
            .get_template(&format!("{name}.{suffix}"))
            .and_then(|template| template.render(&context))
            .map_err(|source| EmailError::Render {
                template: name.to_owned(),
                source,
            })
    };
    Ok(RenderedEmail {
        subject: render("subject")?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        text: render("txt")?,
        html: render("html")?,
    })
}

/// The variables a template sees: the request's, plus the job id from the request when the
/// variables lack it, `pdf_url` from `download_url`, and `size` (e.g. "2.4 MB") from
/// `size_bytes`. Empty values count as absent.
fn context(
    template: Template,
    request: &EmailRequest,
) -> Result<BTreeMap<String, Value>, EmailError> {
    let mut variables: BTreeMap<String, String> = request
        .variables
        .iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    if !variables.contains_key("job_id") && !request.job_id.is_empty() {
        variables.insert("job_id".to_owned(), request.job_id.clone());
    }
    if !variables.contains_key("pdf_url")
        && let Some(url) = variables.get("download_url").cloned()
    {
        variables.insert("pdf_url".to_owned(), url);
    }

    template.check(&variables)?;

    let mut context: BTreeMap<String, Value> = variables
        .iter()
        .map(|(name, value)| (name.clone(), Value::from(value.trim())))
        .collect();
    if let Some(bytes) = variables.get("size_bytes")
        && let Ok(bytes) = bytes.trim().parse::<u64>()
    {
        context.insert("size".to_owned(), Value::from(human_size(bytes)));
    }
    Ok(context)
}

/// A size as people read it, in decimal units: `980 bytes`, `2.4 MB`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return if bytes == 1 {
            "1 byte".to_owned()
        } else {
            format!("{bytes} bytes")
        };
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut environment = Environment::new();
        // Printing a variable that is not there is an error, not an empty string; `{% if x %}`
        // still works for optional ones.
        environment.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        environment.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .expect("the default delimiters"),
        );
        for (name, source) in SOURCES {
            environment
                .add_template(name, source)
                .unwrap_or_else(|error| panic!("template {name} does not parse: {error:#}"));
        }
        environment
    })
}

macro_rules! sources {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

const SOURCES: &[(&str, &str)] = sources![
    "layout.html",
    "welcome.subject",
    "welcome.txt",
    "welcome.html",
    "notification.subject",
    "notification.txt",
    "notification.html",
    "conversion_completed.subject",
    "conversion_completed.txt",
    "conversion_completed.html",
    "conversion_failed.subject",
    "conversion_failed.txt",
    "conversion_failed.html",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let environment = environment();
        for name in Template::ALL.map(Template::name) {
            for suffix in ["subject", "txt", "html"] {
                environment
                    .get_template(&format!("{name}.{suffix}"))
                    .unwrap();
            }
        }
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(1), "1 byte");
        assert_eq!(human_size(999), "999 bytes");
        assert_eq!(human_size(1000), "1.0 kB");
        assert_eq!(human_size(2_400_000), "2.4 MB");
        assert_eq!(human_size(999_960), "1.0 MB");
        assert_eq!(human_size(u64::MAX), "18446.7 PB");
    }
}
