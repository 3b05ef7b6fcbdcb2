//! Where messages go: an SMTP relay, or an outbox folder on disk.
//!
//! Both are chosen by one URL, so a deployment changes relays by changing a setting:
//!
//! | URL | sends | default port |
//! |---|---|---|
//! | `smtp://host:port` | SMTP without TLS: for a relay on the same host or network, and tests | 25 |
//! | `smtp+starttls://user:pass@host:port` | SMTP upgraded with STARTTLS; a relay that does not offer it is an error, never a silent plain-text fallback | 587 |
//! | `smtps://user:pass@host:port` | SMTP inside TLS from the first byte | 465 |
//! | `file:///var/lib/pdfmill/outbox` | one `.eml` file per email id in that folder | — |
//!
//! Credentials are the URL's user and password, percent-decoded (`%40` for an `@` in a
//! user name). Query options for SMTP: `pool=N`, the most connections kept open to the relay
//! (default 10), and `timeout=SECONDS` for each SMTP command (default 60).
//!
//! SMTP connections are pooled (lettre's pool): a worker sending many emails does not pay
//! for a TCP and TLS handshake per email, and the pool size bounds how many connections
//! one worker opens, which relays limit.
//!
//! The outbox is the embedded default (`pdfmill up` on a laptop) and what a test reads. Its
//! writes are atomic, a temporary file renamed over the final name: a crash mid-write, or a
//! preview page listing the folder at that moment, never sees half an email. The file is
//! named after the email id, so a redelivered request overwrites its own file instead of
//! adding a duplicate.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use url::Url;

use crate::EmailError;
use crate::message::sanitise_email_id;

/// A destination for messages, built from a URL (see the module docs).
#[derive(Debug)]
pub enum Transport {
    /// An SMTP relay.
    Smtp(SmtpRelay),
    /// A folder of `.eml` files.
    Outbox(Outbox),
}

impl Transport {
    /// Builds the transport a URL describes: `smtp://`, `smtp+starttls://`, `smtps://` or
    /// `file://`. Nothing is connected yet: the first send opens the first connection.
    ///
    /// # Panics
    ///
    /// An SMTP URL must be turned into a transport inside a Tokio runtime: lettre's
    /// connection pool starts its cleanup task right away.
    ///
    /// ```
    /// use pdfmill_email::Transport;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), pdfmill_email::EmailError> {
    /// let relay = Transport::from_url("smtp+starttls://mailer:s3cr%40t@mail.example.com?pool=4")?;
    /// assert!(matches!(relay, Transport::Smtp(_)));
    /// assert!(!format!("{relay:?}").contains("s3cr"), "the password never prints");
    ///
    /// let outbox = Transport::from_url("file:///var/lib/pdfmill/outbox")?;
    /// assert!(matches!(outbox, Transport::Outbox(_)));
    /// # Ok(()) }
    /// ```
    pub fn from_url(url: &str) -> Result<Self, EmailError> {
        let parsed = Url::parse(url).map_err(|error| EmailError::InvalidTransportUrl {
            url: redact_unparsed(url),
            reason: error.to_string(),
        })?;
        match parsed.scheme() {
            "smtp" | "smtp+starttls" | "smtps" => SmtpRelay::from_url(&parsed).map(Transport::Smtp),
            "file" => Outbox::from_url(&parsed).map(Transport::Outbox),
            other => Err(invalid_url(
                &parsed,
                format!(
                    "unknown scheme `{other}`; use smtp://, smtp+starttls://, smtps:// or file://"
                ),
            )),
        }
    }

    /// Sends one message. `email_id` names the outbox file; SMTP does not need it (the
    /// message's Message-ID already derives from it).
    ///
    /// Returns once the relay has accepted the message (`250`), or once the file is
    /// renamed into place; only then has the email left our hands.
    ///
    /// Runs in a client span, `smtp.send`, whose `email.transport` is `smtp` or `outbox`.
    #[tracing::instrument(name = "smtp.send", skip_all, fields(
        otel.kind = "client",
        email.transport = match self { Transport::Smtp(_) => "smtp", Transport::Outbox(_) => "outbox" },
        otel.status_code = tracing::field::Empty,
        otel.status_message = tracing::field::Empty,
    ))]
    pub async fn send(&self, message: &Message, email_id: &str) -> Result<(), EmailError> {
        let sent = match self {
            Transport::Smtp(relay) => relay.send(message).await,
            Transport::Outbox(outbox) => outbox.write(message, email_id).await.map(drop),
        };
        if let Err(error) = &sent {
            let span = tracing::Span::current();
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_message", error.to_string());
        }
        sent
    }
}

impl FromStr for Transport {
    type Err = EmailError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Transport::from_url(url)
    }
}

/// A pooled connection to an SMTP relay (lettre's `AsyncSmtpTransport` on tokio, TLS by
/// rustls).
pub struct SmtpRelay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    redacted_url: String,
}

impl SmtpRelay {
    fn from_url(url: &Url) -> Result<Self, EmailError> {
        let host = match url.host_str() {
            Some(host) if !host.is_empty() => host.trim_start_matches('[').trim_end_matches(']'),
            _ => return Err(invalid_url(url, "the relay's host name is missing".into())),
        };
        if !matches!(url.path(), "" | "/") {
            return Err(invalid_url(url, "an SMTP URL has no path".into()));
        }
        let tls_error = |error: lettre::transport::smtp::Error| {
            invalid_url(url, format!("cannot set up TLS for `{host}`: {error}"))
        };
        let mut builder = match url.scheme() {
            "smtp" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            "smtp+starttls" => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(tls_error)?
            }
            _ => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(tls_error)?,
        };
        if let Some(port) = url.port() {
            builder = builder.port(port);
        }

        let user = decode(url, url.username())?;
        let password = url.password().map(|p| decode(url, p)).transpose()?;
        match (user.is_empty(), password) {
            (false, password) => {
                builder = builder.credentials(Credentials::new(user, password.unwrap_or_default()))
            }
            (true, Some(_)) => {
                return Err(invalid_url(url, "a password without a user name".into()));
            }
            (true, None) => {}
        }

        for (key, value) in url.query_pairs() {
            match &*key {
                "pool" => {
                    let size = value
                        .parse::<u32>()
                        .ok()
                        .filter(|size| *size > 0)
                        .ok_or_else(|| {
                            invalid_url(url, format!("pool=`{value}`: expected a number from 1"))
                        })?;
                    builder = builder.pool_config(PoolConfig::new().max_size(size));
                }
                "timeout" => {
                    let seconds = value
                        .parse::<f64>()
                        .ok()
                        .and_then(|s| Duration::try_from_secs_f64(s).ok())
                        .filter(|timeout| !timeout.is_zero())
                        .ok_or_else(|| {
                            invalid_url(url, format!("timeout=`{value}`: expected seconds above 0"))
                        })?;
                    builder = builder.timeout(Some(seconds));
                }
                other => {
                    return Err(invalid_url(
                        url,
                        format!("unknown option `{other}`; the options are pool and timeout"),
                    ));
                }
            }
        }

        assert!(
            tokio::runtime::Handle::try_current().is_ok(),
            "an SMTP transport must be built inside a Tokio runtime (lettre's pool starts a task)"
        );
        Ok(SmtpRelay {
            transport: builder.build(),
            redacted_url: redact(url),
        })
    }

    /// Sends one message through the relay: the envelope is the message's From and To.
    pub async fn send(&self, message: &Message) -> Result<(), EmailError> {
        self.transport
            .send_raw(message.envelope(), &message.formatted())
            .await
            .map(drop)
            .map_err(EmailError::Smtp)
    }
}

impl fmt::Debug for SmtpRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpRelay")
            .field("url", &self.redacted_url)
            .finish_non_exhaustive()
    }
}

/// A folder that receives each message as `<email id>.eml` (the id made safe with
/// [`sanitise_email_id`]). The folder is created on the first
/// write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// An outbox in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Outbox { dir: dir.into() }
    }

    fn from_url(url: &Url) -> Result<Self, EmailError> {
        if url.query().is_some() {
            return Err(invalid_url(url, "an outbox URL takes no options".into()));
        }
        let dir = url.to_file_path().map_err(|()| {
            invalid_url(
                url,
                "expected an absolute local path, as in file:///var/outbox".into(),
            )
        })?;
        Ok(Outbox::new(dir))
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file the email with this id is written to.
    pub fn path_for(&self, email_id: &str) -> Result<PathBuf, EmailError> {
        Ok(self
            .dir
            .join(format!("{}.eml", sanitise_email_id(email_id)?)))
    }

    /// Writes the message to [`Outbox::path_for`] `email_id`, replacing an earlier copy,
    /// and returns the path. The data is flushed to disk before the rename, and the
    /// rename before this returns.
    pub async fn write(&self, message: &Message, email_id: &str) -> Result<PathBuf, EmailError> {
        let path = self.path_for(email_id)?;
        let dir = self.dir.clone();
        let bytes = message.formatted();
        let target = path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&dir, &target, &bytes))
            .await
            .map_err(|join| EmailError::Outbox {
                path: path.clone(),
                source: std::io::Error::other(join.to_string()),
            })??;
        Ok(path)
    }
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), EmailError> {
    use std::io::Write as _;

    static NEXT: AtomicU64 = AtomicU64::new(0);
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| EmailError::Outbox { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    // A dot name: a folder listing of `*.eml` never shows it. Process id and counter: two
    // workers (or two tasks) writing the same id at once each have their own temporary file,
    // and the last rename wins.
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(
        ".{file_name}.{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(error) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(failed(path)(error));
    }
    // Make the rename itself durable (the directory entry), where the platform allows it.
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(failed(dir))?;
    Ok(())
}

fn decode(url: &Url, text: &str) -> Result<String, EmailError> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| invalid_url(url, "the user name or password is not UTF-8".into()))
}

fn invalid_url(url: &Url, reason: String) -> EmailError {
    EmailError::InvalidTransportUrl {
        url: redact(url),
        reason,
    }
}

fn redact(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

/// For a URL that does not even parse: drop everything between `://` and the last `@`.
fn redact_unparsed(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => format!("{}***{}", &url[..start + 3], &url[at..]),
        _ => url.to_owned(),
    }
}
