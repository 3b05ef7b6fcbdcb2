//! `pdfmill submit`: the HTTP ingress's submit, from a shell. It stores the images, publishes
//! the request and records the job as queued, with the same rules as HTTP (the page options'
//! grammar, the job id's). It declares nothing: the system it submits to must be running.

use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use pdfmill_core::{Context, Settings, Submission, Upload};
use pdfmill_schemas::{
    domain::JobId,
    v1::{JobState, JobStatus},
};

use crate::cli::SubmitArgs;

/// Submits the job, prints its id, and with `--wait` follows it to the end.
pub async fn run(args: SubmitArgs, settings: Settings) -> anyhow::Result<()> {
    let job = match &args.job_id {
        Some(id) => JobId::parse(id)?,
        None => JobId::new(),
    };
    let page = args.page.parse()?;
    let mut uploads = Vec::with_capacity(args.images.len());
    for path in &args.images {
        let bytes = tokio::fs::read(path)
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        uploads.push(Upload {
            name,
            bytes: bytes.into(),
            content_type: String::new(),
        });
    }
    let ctx = Context::connect(settings, "pdfmill-submit").await?;
    let submission = Submission {
        job: job.clone(),
        notify_email: args.email.clone().unwrap_or_default(),
        page,
        uploads,
    };
    let (_, published) = ctx.submit(submission).await?;
    if published.duplicate {
        eprintln!("pdfmill: job {job} was already submitted; the server kept the first request");
    }
    println!("{job}");
    if args.wait {
        let status = wait_for_end(&ctx, &job, args.timeout).await?;
        super::status::print(&status, false);
        match status.state() {
            JobState::Failed => bail!("job {job} failed"),
            JobState::EmailFailed => bail!(
                "job {job}: the PDF is stored as {}, but the email could not be sent",
                status.pdf_key
            ),
            _ => {}
        }
    }
    Ok(())
}

/// Follows the job's status until it ends, with a spinner that shows the current state.
async fn wait_for_end(ctx: &Context, job: &JobId, timeout: u64) -> anyhow::Result<JobStatus> {
    let spinner = ProgressBar::new_spinner().with_message(format!("job {job}: queued"));
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    let mut statuses = Box::pin(ctx.jobs.watch(job).await?);
    let deadline = tokio::time::sleep(Duration::from_secs(timeout));
    tokio::pin!(deadline);
    let mut last = None;
    loop {
        let status = tokio::select! {
            _ = &mut deadline => bail!("job {job} did not finish within {timeout} s; `pdfmill status {job}` shows where it is"),
            status = statuses.next() => status,
        };
        match status {
            Some(status) => {
                spinner.set_message(format!("job {job}: {}", status.state().name()));
                last = Some(status);
            }
            None => break,
        }
    }
    spinner.finish_and_clear();
    last.context("the watch on the job ended before its first status")
}
