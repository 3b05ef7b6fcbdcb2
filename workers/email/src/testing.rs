//! An SMTP server for tests, in the test's own process: it accepts (or refuses, on demand)
//! every email sent to it and keeps what it received in memory.
//!
//! Behind the `testing` feature; other crates' service-level tests use it too:
//!
//! ```toml
//! [dev-dependencies]
//! pdfmill-email = { workspace = true, features = ["testing"] }
//! ```
//!
//! ```no_run
//! use pdfmill_email::testing::{Reply, SmtpCapture};
//!
//! let smtp = SmtpCapture::start();
//! // … point the worker at smtp.url() and send …
//! let mails = smtp.messages();
//! smtp.reply_with(Reply::TRY_LATER); // from now on every recipient gets a 451
//! ```
//!
//! It is mailin-embedded underneath, on a std thread. That server has no shutdown, so each
//! capture leaks its thread and listening socket until the test process exits; tests are
//! short processes and the cost is one idle thread each. To test a relay that is not there
//! at all (connection refused), use [`refused_port`] instead of stopping a capture.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};

use mailin_embedded::{Handler, Response, Server, response};

/// An in-process SMTP server on `127.0.0.1` that records every accepted email.
#[derive(Debug, Clone)]
pub struct SmtpCapture {
    port: u16,
    shared: Arc<Shared>,
}

/// One email as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedMail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message as sent after `DATA`: headers and body, CRLF line ends.
    pub data: Vec<u8>,
}

/// What the server answers to each recipient (`RCPT TO`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The SMTP reply code: 250 accepts, 4xx asks to try later, 5xx refuses for good.
    pub code: u16,
    /// The reply text.
    pub text: &'static str,
}

impl Reply {
    /// `250 OK`: accept every email (the default).
    pub const ACCEPT: Reply = Reply {
        code: 250,
        text: "OK",
    };
    /// `451`: a transient failure, as a greylisting or overloaded relay says.
    pub const TRY_LATER: Reply = Reply {
        code: 451,
        text: "Requested action aborted: try again later",
    };
    /// `550`: a permanent failure, as for a mailbox that does not exist.
    pub const REJECT: Reply = Reply {
        code: 550,
        text: "Mailbox unavailable",
    };
}

#[derive(Debug)]
struct Shared {
    mails: Mutex<Vec<CapturedMail>>,
    reply: Mutex<Reply>,
}

impl SmtpCapture {
    /// Starts a server on a free port of `127.0.0.1`, accepting every email.
    ///
    /// Panics when no port can be bound: a test cannot go on without it.
    pub fn start() -> SmtpCapture {
        Self::start_on(0)
    }

    /// Starts a capture server on a given port of `127.0.0.1` (0: any free port). Tests of an
    /// outage point a sender at [`refused_port`] first and start the server there later.
    pub fn start_on(port: u16) -> SmtpCapture {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("bind the SMTP capture port");
        let port = listener.local_addr().expect("listener address").port();
        let shared = Arc::new(Shared {
            mails: Mutex::new(Vec::new()),
            reply: Mutex::new(Reply::ACCEPT),
        });
        let handler = Session {
            shared: Arc::clone(&shared),
            mail: None,
        };
        std::thread::Builder::new()
            .name(format!("smtp-capture-{port}"))
            .spawn(move || {
                let mut server = Server::new(handler);
                // Each connection holds a thread until it closes, and lettre's pool keeps
                // idle connections open: leave room for a pool of 10 and some more.
                server
                    .with_name("smtp-capture.test")
                    .with_num_threads(32)
                    .with_tcp_listener(listener);
                // `serve` returns only on an error, whose type is not `Send`: report it here.
                if let Err(error) = server.serve() {
                    eprintln!("smtp capture on port {port} stopped: {error}");
                }
            })
            .expect("spawn the SMTP capture thread");
        SmtpCapture { port, shared }
    }

    /// The port it listens on, on `127.0.0.1`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A transport URL for it: `smtp://127.0.0.1:PORT` (no TLS).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every email accepted so far, oldest first.
    pub fn messages(&self) -> Vec<CapturedMail> {
        lock(&self.shared.mails).clone()
    }

    /// Sets the answer to every later recipient: [`Reply::ACCEPT`], [`Reply::TRY_LATER`],
    /// [`Reply::REJECT`] or any other code. An email that gets a 4xx or 5xx is not recorded.
    pub fn reply_with(&self, reply: Reply) {
        *lock(&self.shared.reply) = reply;
    }
}

impl CapturedMail {
    /// The message as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The plain-text part, with its transfer encoding (quoted-printable, base64) undone.
    pub fn body_text(&self) -> String {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .and_then(|message| message.body_text(0).map(|text| text.into_owned()))
            .unwrap_or_default()
    }

    /// The value of the first top-level header with this name (case-insensitive), unfolded
    /// but not decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = self.text();
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = value.as_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((field, rest)) = line.split_once(':')
                && field.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_owned());
            }
        }
        value
    }
}

/// A port on `127.0.0.1` where nothing listens: connecting to it is refused at once.
///
/// It binds a free port and closes it again, so another process could take the port in
/// between; on a test machine that is rare enough.
pub fn refused_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("listener address").port()
}

/// The handler mailin-embedded clones for each connection: the shared record, and the
/// email this connection is receiving.
#[derive(Clone)]
struct Session {
    shared: Arc<Shared>,
    mail: Option<CapturedMail>,
}

impl Handler for Session {
    fn rcpt(&mut self, _to: &str) -> Response {
        let reply = lock(&self.shared.reply).clone();
        if reply.code == 250 {
            response::OK
        } else {
            Response::custom(reply.code, reply.text.to_owned())
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.mail = Some(CapturedMail {
            from: from.to_owned(),
            to: to.to_vec(),
            data: Vec::new(),
        });
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(mail) = self.mail.as_mut() {
            mail.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(mail) = self.mail.take() {
            lock(&self.shared.mails).push(mail);
        }
        response::OK
    }

    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        response::OK
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock has already failed; keep serving the rest.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
