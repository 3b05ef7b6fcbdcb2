//! Job status in the `jobs` KV bucket: job id → [`JobStatus`]. It is what status queries read
//! and what live updates watch. Updates are compare-and-set on the entry's revision, so two
//! workers cannot overwrite each other's change.

use async_nats::jetstream::{self, kv};
use pdfmill_schemas::{buckets, v1::JobStatus};
use prost::Message;

use crate::Error;

/// The `jobs` bucket.
#[derive(Clone)]
pub struct Jobs {
    kv: kv::Store,
}

impl Jobs {
    /// Opens the bucket (declared with the topology).
    pub async fn open(js: &jetstream::Context) -> Result<Jobs, Error> {
        let kv = js
            .get_key_value(buckets::JOBS)
            .await
            .map_err(|e| Error::nats("cannot open the jobs bucket", e))?;
        Ok(Jobs { kv })
    }

    /// The status of `job_id`, if the job exists.
    pub async fn get(&self, job_id: &str) -> Result<Option<JobStatus>, Error> {
        let entry = self
            .kv
            .entry(job_id)
            .await
            .map_err(|e| Error::nats("cannot read job status", e))?;
        match entry {
            Some(entry) if entry.operation == kv::Operation::Put => JobStatus::decode(entry.value)
                .map(Some)
                .map_err(|e| Error::Nats(format!("job {job_id} has an unreadable status: {e}"))),
            _ => Ok(None),
        }
    }

    /// Writes a status unconditionally.
    pub async fn put(&self, status: &JobStatus) -> Result<(), Error> {
        self.kv
            .put(&status.job_id, status.encode_to_vec().into())
            .await
            .map_err(|e| Error::nats("cannot write job status", e))?;
        Ok(())
    }

    /// Applies `change` to the current status (or a new one) with compare-and-set, retrying
    /// when another writer got there first. Returns the status written.
    pub async fn update(
        &self,
        job_id: &str,
        mut change: impl FnMut(&mut JobStatus),
    ) -> Result<JobStatus, Error> {
        loop {
            let entry = self
                .kv
                .entry(job_id)
                .await
                .map_err(|e| Error::nats("cannot read job status", e))?;
            let (mut status, revision) = match entry {
                Some(entry) if entry.operation == kv::Operation::Put => (
                    JobStatus::decode(entry.value)
                        .map_err(|e| Error::Nats(format!("job {job_id}: {e}")))?,
                    Some(entry.revision),
                ),
                _ => (
                    JobStatus {
                        job_id: job_id.to_string(),
                        ..JobStatus::default()
                    },
                    None,
                ),
            };
            change(&mut status);
            let value = status.encode_to_vec().into();
            let written = match revision {
                Some(revision) => self
                    .kv
                    .update(job_id, value, revision)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
                None => self
                    .kv
                    .create(job_id, value)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
            };
            match written {
                Ok(()) => return Ok(status),
                Err(error)
                    if error.contains("wrong last sequence")
                        || error.contains("already exists") =>
                {
                    continue;
                }
                Err(error) => return Err(Error::Nats(format!("cannot write job status: {error}"))),
            }
        }
    }

    /// The bucket itself, for watches.
    pub fn store(&self) -> &kv::Store {
        &self.kv
    }
}
