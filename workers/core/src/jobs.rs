//! Job status in the `jobs` KV bucket: job id → [`JobStatus`]. It is what status queries read
//! and what live updates watch.
//!
//! A status changes only through the verbs here, one per arrow of the lifecycle
//! ([`JobState::can_move_to`]). Each is a compare-and-set on the entry's revision, retried
//! when another writer got there first, and each first asks whether its arrow is allowed from
//! the state it finds: a late or repeated writer (a redelivery, a worker that lost a race)
//! leaves the status alone and is told so ([`Marked::Kept`]) instead of moving the job back.

use async_nats::jetstream::{self, kv};
use futures::{Stream, StreamExt};
use pdfmill_schemas::{
    buckets,
    domain::JobId,
    timestamp_now,
    v1::{ConvertRequest, JobState, JobStatus},
};
use prost::Message;

use crate::{Error, Failure};

/// The `jobs` bucket.
#[derive(Clone)]
pub struct Jobs {
    kv: kv::Store,
}

/// What a verb did.
#[derive(Debug, Clone, PartialEq)]
pub enum Marked {
    /// The status was written; here it is.
    Moved(JobStatus),
    /// The job was already past this step; its status, unchanged.
    Kept(JobStatus),
}

impl Marked {
    /// The job's status after the verb, written or kept.
    pub fn status(&self) -> &JobStatus {
        match self {
            Marked::Moved(status) | Marked::Kept(status) => status,
        }
    }
}

/// A PDF the convert worker stored, as the job records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPdf {
    /// Its key in the object store.
    pub key: String,
    /// Its pages.
    pub pages: u32,
    /// Its size.
    pub size_bytes: u64,
}

impl Jobs {
    /// Opens the bucket (declared with the topology).
    pub async fn open(js: &jetstream::Context) -> Result<Jobs, Error> {
        let kv = js
            .get_key_value(buckets::JOBS)
            .await
            .map_err(|_| Error::NotDeclared {
                what: format!("KV bucket {}", buckets::JOBS),
            })?;
        Ok(Jobs { kv })
    }

    /// The status of `job`, if the job exists.
    pub async fn get(&self, job: &JobId) -> Result<Option<JobStatus>, Error> {
        Ok(self.entry(job).await?.map(|(status, _)| status))
    }

    /// The job was accepted: its request is in the stream. Records what was asked (and the
    /// request's digest) even when a fast worker has already moved the job on.
    pub async fn mark_queued(
        &self,
        job: &JobId,
        request: &ConvertRequest,
        digest: &str,
    ) -> Result<Marked, Error> {
        self.write(job, |s| {
            if s.state() == JobState::Unspecified {
                s.set_state(JobState::Queued);
                s.updated_at = request.submitted_at;
            }
            s.submitted_at = s.submitted_at.or(request.submitted_at);
            s.request_digest = digest.to_string();
            record_request(s, request);
            true
        })
        .await
    }

    /// A worker took the job.
    pub async fn mark_converting(
        &self,
        job: &JobId,
        request: &ConvertRequest,
    ) -> Result<Marked, Error> {
        self.transition(job, JobState::Converting, |s| {
            s.submitted_at = s.submitted_at.or(request.submitted_at);
            record_request(s, request);
        })
        .await
    }

    /// The job's PDF is stored.
    pub async fn mark_converted(&self, job: &JobId, pdf: &StoredPdf) -> Result<Marked, Error> {
        self.transition(job, JobState::Converted, |s| {
            s.pages = pdf.pages;
            s.pdf_key = pdf.key.clone();
            s.pdf_size_bytes = pdf.size_bytes;
            clear_error(s);
        })
        .await
    }

    /// The job will not finish: `failure` says why.
    pub async fn mark_failed(
        &self,
        job: &JobId,
        request: &ConvertRequest,
        failure: &Failure,
    ) -> Result<Marked, Error> {
        self.transition(job, JobState::Failed, |s| {
            record_failure(s, failure);
            record_request(s, request);
        })
        .await
    }

    /// The job's "PDF ready" email was sent.
    pub async fn mark_emailed(&self, job: &JobId) -> Result<Marked, Error> {
        self.transition(job, JobState::Emailed, clear_error).await
    }

    /// The job's "PDF ready" email was given up on; the PDF stays.
    pub async fn mark_email_failed(&self, job: &JobId, failure: &Failure) -> Result<Marked, Error> {
        self.transition(job, JobState::EmailFailed, |s| record_failure(s, failure))
            .await
    }

    /// The job's status now and after every change, ending after a final one (see
    /// [`JobState::is_final`]); statuses that do not decode are skipped.
    pub async fn watch(
        &self,
        job: &JobId,
    ) -> Result<impl Stream<Item = JobStatus> + Send + use<>, Error> {
        let watch = self
            .kv
            .watch_with_history(job.as_str())
            .await
            .map_err(|e| Error::nats(format!("cannot watch job {job}"), e))?;
        let statuses = Box::pin(watch.filter_map(|entry| async move {
            let entry = entry.ok()?;
            (entry.operation == kv::Operation::Put)
                .then(|| JobStatus::decode(entry.value).ok())
                .flatten()
        }));
        // Ends right after the final status, without waiting for a change that never comes.
        Ok(futures::stream::unfold(
            Some(statuses),
            |statuses| async move {
                let mut statuses = statuses?;
                let status = statuses.next().await?;
                let done = status.state().is_final(!status.notify_email.is_empty());
                Some((status, (!done).then_some(statuses)))
            },
        ))
    }

    /// Moves the job to `next` with `change` applied, when the lifecycle allows it.
    async fn transition(
        &self,
        job: &JobId,
        next: JobState,
        mut change: impl FnMut(&mut JobStatus),
    ) -> Result<Marked, Error> {
        self.write(job, |s| {
            if !s.state().can_move_to(next) {
                return false;
            }
            s.set_state(next);
            s.updated_at = Some(timestamp_now());
            change(s);
            true
        })
        .await
    }

    /// Applies `change` to the current status (or a new one) with compare-and-set, retrying
    /// when another writer got there first; `change` returns false to write nothing.
    async fn write(
        &self,
        job: &JobId,
        mut change: impl FnMut(&mut JobStatus) -> bool,
    ) -> Result<Marked, Error> {
        loop {
            let (mut status, revision) = match self.entry(job).await? {
                Some((status, revision)) => (status, Some(revision)),
                None => (
                    JobStatus {
                        job_id: job.to_string(),
                        ..JobStatus::default()
                    },
                    None,
                ),
            };
            if !change(&mut status) {
                return Ok(Marked::Kept(status));
            }
            let value = status.encode_to_vec().into();
            let failed = match revision {
                Some(revision) => match self.kv.update(job.as_str(), value, revision).await {
                    Ok(_) => return Ok(Marked::Moved(status)),
                    Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                    Err(e) => Error::nats(format!("cannot write the status of job {job}"), e),
                },
                None => match self.kv.create(job.as_str(), value).await {
                    Ok(_) => return Ok(Marked::Moved(status)),
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => continue,
                    Err(e) => Error::nats(format!("cannot write the status of job {job}"), e),
                },
            };
            return Err(failed);
        }
    }

    async fn entry(&self, job: &JobId) -> Result<Option<(JobStatus, u64)>, Error> {
        let entry = self
            .kv
            .entry(job.as_str())
            .await
            .map_err(|e| Error::nats(format!("cannot read the status of job {job}"), e))?;
        match entry {
            Some(entry) if entry.operation == kv::Operation::Put => {
                let status =
                    JobStatus::decode(entry.value).map_err(|source| Error::CorruptStatus {
                        job: job.to_string(),
                        source,
                    })?;
                Ok(Some((status, entry.revision)))
            }
            _ => Ok(None),
        }
    }
}

fn record_request(status: &mut JobStatus, request: &ConvertRequest) {
    status.image_count = request.images.len() as u32;
    status.notify_email = request.notify_email.clone();
}

fn record_failure(status: &mut JobStatus, failure: &Failure) {
    status.set_error_class(failure.class);
    status.error_message = failure.reason.clone();
}

fn clear_error(status: &mut JobStatus) {
    status.error_class = 0;
    status.error_message.clear();
}
