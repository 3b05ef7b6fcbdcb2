//! The command line, declared in one place so `--help` documents every role and option.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pdfmill_core::telemetry::LogFormat;
use pdfmill_schemas::domain::{
    Fit, Invalid, JobId, Length, PageOptions, PageOptionsText, PageSize,
};

/// pdfmill turns PNG and JPEG images into PDFs, losslessly: the compressed image data is copied
/// into the PDF wherever the format allows.
#[derive(Debug, Parser)]
#[command(name = "pdfmill", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Settings file (TOML); default ./pdfmill.toml when present. PDFMILL_* variables
    /// override it (PDFMILL_NATS_URL, PDFMILL_STORE_URL, PDFMILL_EMAIL_URL, …).
    #[arg(long, global = true, env = "PDFMILL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log lines as JSON (for log shippers) or text (for terminals).
    #[arg(
        long,
        global = true,
        default_value = "json",
        value_parser = clap::builder::TypedValueParser::map(
            clap::builder::PossibleValuesParser::new(["json", "text"]),
            |name: String| LogFormat::from_name(&name).expect("a possible value"),
        ),
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert images into PDF files on this machine (no service needed).
    #[command(after_help = "Examples:\n  \
        pdfmill convert scan1.png scan2.jpg -o scans.pdf\n  \
        pdfmill convert --page-size a4 --margin 10mm receipt.jpg -o receipt.pdf\n  \
        pdfmill convert --each photos/*.png --out-dir pdfs/")]
    Convert(ConvertArgs),

    /// Run one service role in this process until Ctrl-C or SIGTERM (then drain and stop).
    /// Start any number of each, on any machines that reach NATS and the store.
    Worker {
        /// The role: `convert` (image.convert.v1) or `email` (email.send.v1).
        role: Role,
    },

    /// Run the HTTP ingress (API, web page, /metrics) alone, on PDFMILL_HTTP_ADDR.
    Ingress,

    /// Run everything on this machine with no configuration: a local nats-server (unless
    /// PDFMILL_NATS_URL is set), the store and an email outbox under --data-dir, the ingress
    /// and both workers in this process. Ctrl-C drains and stops.
    Up {
        /// Where NATS, the store and the outbox keep their data.
        #[arg(long, default_value = "./var")]
        data_dir: PathBuf,
        /// The one HTTP address: web page, API, docs, mailbox, /metrics.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: std::net::SocketAddr,
    },

    /// Put images in the store and queue their conversion into one PDF; prints the job id.
    Submit(SubmitArgs),

    /// Show a job's status.
    Status {
        /// The job id `pdfmill submit` printed.
        job_id: JobId,
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },

    /// Show the streams and consumers: messages, pending, ack pending, redelivered.
    Streams,

    /// Inspect and replay dead letters (messages that failed for good).
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
}

/// A service role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// The convert worker.
    Convert,
    /// The email worker.
    Email,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Convert => "convert",
            Role::Email => "email",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List the dead letters with their sequence, subject, id and error.
    List,
    /// Publish dead letters to their original subject again and remove them from the DLQ.
    Replay {
        /// Sequences from `pdfmill dlq list`.
        sequences: Vec<u64>,
        /// Replay every dead letter.
        #[arg(long, conflicts_with = "sequences")]
        all: bool,
    },
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Images (PNG or JPEG), in page order.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,

    /// Email this address when the PDF is ready (or when the job fails).
    #[arg(long, value_name = "ADDRESS")]
    pub email: Option<String>,

    /// Wait and show progress until the job is done, then print its status. The exit status
    /// is 1 when the job failed, and also when the PDF was made but the email could not be
    /// sent (`email_failed`: the status shows the PDF's key and the reason).
    #[arg(long)]
    pub wait: bool,

    /// Seconds --wait waits before giving up.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,

    /// Job id to use (default: a new UUIDv7). Submitting the same id twice is one job.
    #[arg(long)]
    pub job_id: Option<String>,

    #[command(flatten)]
    pub page: PageArgs,
}

/// How pages look: the same options, with the same grammar, as the HTTP form's fields.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// Page size: image (the image at its own resolution), a3, a4, a5, letter, legal, or
    /// WIDTHxHEIGHT with a unit (210x297mm, 8.5x11in).
    #[arg(long, value_name = "SIZE", value_parser = valid::<PageSize>)]
    pub page_size: Option<String>,
    /// How an image is scaled into a fixed page size: contain (fit, never crop), cover (fill the
    /// page, crop the overflow) or none (own size, centred).
    #[arg(long, value_parser = valid::<Fit>)]
    pub fit: Option<String>,
    /// Blank margin on every side, e.g. 10mm, 0.5in, 36pt.
    #[arg(long, value_name = "LENGTH", value_parser = valid::<Length>)]
    pub margin: Option<String>,
    /// Resolution (1–10000) to assume for every image, overriding what the file says
    /// (default: the file's pHYs/JFIF/EXIF density, else 72).
    #[arg(long)]
    pub dpi: Option<String>,
    /// Document title.
    #[arg(long)]
    pub title: Option<String>,
}

impl PageArgs {
    /// The options, checked by the job's one grammar.
    pub fn parse(&self) -> Result<PageOptions, Invalid> {
        PageOptions::parse(PageOptionsText {
            page_size: self.page_size.as_deref(),
            fit: self.fit.as_deref(),
            margin: self.margin.as_deref(),
            dpi: self.dpi.as_deref(),
            title: self.title.as_deref(),
        })
    }
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Images to convert (PNG or JPEG, recognised by content), in page order.
    #[arg(required = true, value_name = "IN")]
    pub inputs: Vec<PathBuf>,

    /// Write all inputs, one page each, into this PDF.
    #[arg(
        short,
        long,
        value_name = "OUT.pdf",
        required_unless_present = "each",
        conflicts_with = "each"
    )]
    pub output: Option<PathBuf>,

    /// Write one PDF per input into --out-dir instead, converting on every core.
    #[arg(long, requires = "out_dir")]
    pub each: bool,

    /// Directory for --each; each input IN becomes DIR/`<IN without extension>`.pdf.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    #[command(flatten)]
    pub page: PageArgs,
    /// Refuse images with more pixels than this.
    #[arg(long, default_value_t = pdfmill_pdf::Limits::default().max_pixels)]
    pub max_pixels: u64,

    /// Refuse input files larger than this many bytes.
    #[arg(long, default_value_t = pdfmill_pdf::Limits::default().max_input_bytes)]
    pub max_bytes: u64,

    /// Refuse to make a PDF with more pages than this.
    #[arg(long, default_value_t = pdfmill_pdf::Limits::default().max_pages)]
    pub max_pages: u64,

    /// Worker threads for --each (default: one per core).
    #[arg(long, short)]
    pub jobs: Option<usize>,
}

/// Checks one option by the job's grammar when the command line is parsed (a usage error,
/// exit status 2); the options are checked together by [`PageArgs::parse`].
fn valid<T: std::str::FromStr<Err = Invalid>>(text: &str) -> Result<String, String> {
    text.parse::<T>()
        .map(|_| text.to_string())
        .map_err(|invalid| invalid.reason)
}
