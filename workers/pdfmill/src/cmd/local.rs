//! `pdfmill convert`: files in, PDFs out, on this machine, with no service (hence `local`:
//! the worker crate `pdfmill-convert` does the same for queued jobs).
//!
//! With `--each` the inputs are independent, so they are spread over a rayon pool (one thread
//! per core; conversion is CPU and memory-bandwidth bound). Each PDF is written to a temporary
//! name and renamed into place, so an interrupted run never leaves a half-written PDF behind.

use std::{
    collections::HashSet,
    fs,
    io::BufWriter,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Mutex,
};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use pdfmill_pdf::{Document, Limits, Metadata, Options, Timestamp};
use rayon::prelude::*;

use crate::cli::ConvertArgs;

/// Runs the subcommand; the exit code is non-zero when any input failed.
pub fn run(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    let options = options(&args)?;
    match (&args.output, &args.out_dir) {
        (Some(output), _) => one_document(&args.inputs, output, &options),
        (None, Some(out_dir)) => each(&args.inputs, out_dir, &options, args.jobs),
        (None, None) => bail!("give -o OUT.pdf, or --each with --out-dir DIR"),
    }
}

fn options(args: &ConvertArgs) -> anyhow::Result<Options> {
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let options = pdfmill_convert::pdf_options(&args.page.parse()?);
    Ok(Options {
        metadata: Metadata {
            created: Some(Timestamp {
                year: now.year() as u16,
                month: now.month() as u8,
                day: now.day() as u8,
                hour: now.hour() as u8,
                minute: now.minute() as u8,
                second: now.second() as u8,
            }),
            ..options.metadata
        },
        limits: Limits {
            max_pixels: args.max_pixels,
            max_input_bytes: args.max_bytes,
            max_pages: args.max_pages,
        },
        ..options
    })
}

/// All inputs into one PDF. Every input is tried, so one run reports every bad file.
fn one_document(inputs: &[PathBuf], output: &Path, options: &Options) -> anyhow::Result<ExitCode> {
    let mut document = Document::new(options.clone());
    let mut failures = 0;
    for input in inputs {
        let added = fs::read(input)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| Ok(document.add_image(bytes)?));
        if let Err(error) = added {
            eprintln!("pdfmill: {}: {error}", input.display());
            failures += 1;
        }
    }
    if failures > 0 {
        eprintln!(
            "pdfmill: {failures} of {} inputs failed; {} was not written",
            inputs.len(),
            output.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    write_atomically(output, |file| Ok(document.finish(file)?))?;
    Ok(ExitCode::SUCCESS)
}

/// One PDF per input, in parallel, with a progress bar and a summary of failures.
fn each(
    inputs: &[PathBuf],
    out_dir: &Path,
    options: &Options,
    jobs: Option<usize>,
) -> anyhow::Result<ExitCode> {
    fs::create_dir_all(out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let targets = targets(inputs, out_dir)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()?;
    let progress = if inputs.len() >= 20 {
        ProgressBar::new(inputs.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images, {per_sec}, {eta} left")
            .expect("a valid template"),
    );
    let failures = Mutex::new(Vec::new());
    pool.install(|| {
        inputs.par_iter().zip(&targets).for_each(|(input, target)| {
            let converted = fs::read(input)
                .map_err(anyhow::Error::from)
                .and_then(|bytes| {
                    write_atomically(target, |file| {
                        Ok(pdfmill_pdf::convert([bytes], options, file).map(drop)?)
                    })
                });
            if let Err(error) = converted {
                failures
                    .lock()
                    .expect("no panics while locked")
                    .push((input, error));
            }
            progress.inc(1);
        })
    });
    progress.finish_and_clear();
    let failures = failures.into_inner().expect("no panics while locked");
    for (input, error) in &failures {
        eprintln!("pdfmill: {}: {error:#}", input.display());
    }
    let done = inputs.len() - failures.len();
    eprintln!(
        "pdfmill: converted {done} of {} images into {}",
        inputs.len(),
        out_dir.display()
    );
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `DIR/<stem>.pdf` for every input; two inputs with the same stem would overwrite each other.
fn targets(inputs: &[PathBuf], out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut seen = HashSet::new();
    inputs
        .iter()
        .map(|input| {
            let stem = input
                .file_stem()
                .with_context(|| format!("{} has no file name", input.display()))?;
            let target = out_dir.join(stem).with_extension("pdf");
            if !seen.insert(target.clone()) {
                bail!(
                    "two inputs would both be written to {}; rename one of them",
                    target.display()
                );
            }
            Ok(target)
        })
        .collect()
}

/// Writes through a temporary file beside `path` and renames it into place.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(BufWriter<&fs::File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let temporary = path.with_extension("pdf.partial");
    let file = fs::File::create(&temporary)
        .with_context(|| format!("cannot create {}", temporary.display()))?;
    let written = write(BufWriter::new(&file));
    if let Err(error) = written {
        let _ = fs::remove_file(&temporary);
        return Err(error);
    }
    fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))
}
