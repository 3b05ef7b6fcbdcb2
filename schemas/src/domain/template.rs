//! The email catalogue: every template pdfmill can send, with the variables each needs.
//!
//! The email worker renders these, the convert worker asks for the two a job sends, and the
//! HTTP API lets clients ask for the ones marked [`Template::for_clients`]. All three read
//! this one list, so adding a template is: a variant here, its three files in
//! `workers/email/templates/`.

use std::collections::BTreeMap;

use super::Invalid;

/// An email template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    /// Greets a new address. Optional: `name`, `app_url` (http or https).
    Welcome,
    /// A free-form notice. Needs `title` and `message`; optional `action_url` (http or
    /// https) and `action_label`.
    Notification,
    /// A job's PDF is ready. Needs `pdf_url` (http or https) and `job_id`; optional `pages`
    /// and `size_bytes` (whole numbers).
    ConversionCompleted,
    /// A job failed. Needs `error_message` and `job_id`.
    ConversionFailed,
}

impl Template {
    /// Every template.
    pub const ALL: [Template; 4] = [
        Template::Welcome,
        Template::Notification,
        Template::ConversionCompleted,
        Template::ConversionFailed,
    ];

    /// The name requests use (`EmailRequest.template`) and the template files carry.
    pub fn name(self) -> &'static str {
        match self {
            Template::Welcome => "welcome",
            Template::Notification => "notification",
            Template::ConversionCompleted => "conversion_completed",
            Template::ConversionFailed => "conversion_failed",
        }
    }

    /// The template called `name`.
    pub fn parse(name: &str) -> Result<Template, Invalid> {
        Template::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Template::ALL.iter().map(|t| t.name()).collect();
                Invalid::new(
                    "template",
                    format!(
                        "unknown email template `{name}` (known templates: {})",
                        known.join(", ")
                    ),
                )
            })
    }

    /// Whether a client may ask for this template through the HTTP API; the others belong to
    /// a job and are sent by the pipeline.
    pub fn for_clients(self) -> bool {
        matches!(self, Template::Welcome | Template::Notification)
    }

    /// Variables that must be present and not blank.
    pub fn required(self) -> &'static [&'static str] {
        match self {
            Template::Welcome => &[],
            Template::Notification => &["title", "message"],
            Template::ConversionCompleted => &["pdf_url", "job_id"],
            Template::ConversionFailed => &["error_message", "job_id"],
        }
    }

    /// Variables that, when present, must be absolute http(s) URLs: anything else
    /// (`javascript:`, a relative path) is an attack through the HTML part or a dead link.
    pub fn links(self) -> &'static [&'static str] {
        match self {
            Template::Welcome => &["app_url"],
            Template::Notification => &["action_url"],
            Template::ConversionCompleted => &["pdf_url"],
            Template::ConversionFailed => &[],
        }
    }

    /// Variables that, when present, must be whole numbers.
    pub fn numbers(self) -> &'static [&'static str] {
        match self {
            Template::ConversionCompleted => &["pages", "size_bytes"],
            _ => &[],
        }
    }

    /// Checks `variables` (blank values count as absent) against the template's needs.
    ///
    /// ```
    /// use pdfmill_schemas::domain::Template;
    ///
    /// let variables = [("title".to_string(), "Hi".to_string())].into();
    /// let error = Template::Notification.check(&variables).unwrap_err();
    /// assert_eq!(error.field, "message");
    /// ```
    pub fn check(self, variables: &BTreeMap<String, String>) -> Result<(), Invalid> {
        let value = |name: &str| {
            variables
                .get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        if let Some(missing) = self.required().iter().find(|name| value(name).is_none()) {
            return Err(Invalid::new(
                missing,
                format!(
                    "email template `{}` needs the variable `{missing}`, and the request has none",
                    self.name()
                ),
            ));
        }
        for name in self.links() {
            if let Some(link) = value(name) {
                check_link(link).map_err(|reason| Invalid::new(name, reason))?;
            }
        }
        for name in self.numbers() {
            if let Some(number) = value(name)
                && number.parse::<u64>().is_err()
            {
                return Err(Invalid::new(
                    name,
                    format!("`{number}` is not a whole number"),
                ));
            }
        }
        Ok(())
    }
}

fn check_link(link: &str) -> Result<(), String> {
    match url::Url::parse(link) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
        Ok(url) => Err(format!(
            "`{link}` is a {} link; only http and https links are sent",
            url.scheme()
        )),
        Err(error) => Err(format!("`{link}` is not an absolute URL ({error})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known() {
        for template in Template::ALL {
            assert_eq!(Template::parse(template.name()).unwrap(), template);
        }
        let error = Template::parse("invoice").unwrap_err();
        assert!(error.reason.contains("welcome, notification"), "{error}");
    }

    #[test]
    fn variables_are_checked_for_presence_links_and_numbers() {
        let done = Template::ConversionCompleted;
        let ok = vars(&[
            ("pdf_url", "https://x/y.pdf"),
            ("job_id", "j"),
            ("pages", "2"),
        ]);
        assert!(done.check(&ok).is_ok());
        let blank = vars(&[("pdf_url", "https://x"), ("job_id", "  ")]);
        assert_eq!(done.check(&blank).unwrap_err().field, "job_id");
        let script = vars(&[("pdf_url", "javascript:alert(1)"), ("job_id", "j")]);
        assert_eq!(done.check(&script).unwrap_err().field, "pdf_url");
        let pages = vars(&[("pdf_url", "https://x"), ("job_id", "j"), ("pages", "two")]);
        assert_eq!(done.check(&pages).unwrap_err().field, "pages");
        assert!(Template::Welcome.check(&vars(&[])).is_ok());
        assert!(!Template::ConversionFailed.for_clients());
    }
}
