//! `pdfmill status JOB`: a job's status, once. Read-only: it declares nothing.

use anyhow::bail;
use pdfmill_core::{Context, Settings};
use pdfmill_schemas::{domain::JobId, v1::JobStatus};

/// Prints the status of `job`.
pub async fn run(job: &JobId, json: bool, settings: Settings) -> anyhow::Result<()> {
    let ctx = Context::connect(settings, "pdfmill-status").await?;
    let Some(status) = ctx.jobs.get(job).await? else {
        bail!("no job {job}; check the id `pdfmill submit` printed")
    };
    print(&status, json);
    Ok(())
}

/// Prints a status as a person reads it, or as JSON.
pub fn print(status: &JobStatus, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(status).expect("a status serialises")
        );
        return;
    }
    println!("job      {}", status.job_id);
    println!("state    {}", status.state().name());
    println!("images   {}", status.image_count);
    if !status.pdf_key.is_empty() {
        println!(
            "pdf      {} ({} pages, {} bytes)",
            status.pdf_key, status.pages, status.pdf_size_bytes
        );
    }
    if !status.error_message.is_empty() {
        println!(
            "error    {} ({})",
            status.error_message,
            status.error_class().as_str_name()
        );
    }
    if !status.notify_email.is_empty() {
        println!("email    {}", status.notify_email);
    }
}
