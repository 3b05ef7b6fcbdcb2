//! Submitting a job: the one sequence the HTTP ingress and `pdfmill submit` share.
//!
//! The order matters. Images go to the store first (messages carry keys, not bytes); then the
//! request is published with the job id as its dedup id; only after the stream has stored it
//! is the job recorded as `queued`, so no status ever claims a job that was never queued. When
//! the publish fails, the uploads are taken back, so a refused request leaves nothing behind.

use bytes::Bytes;
use pdfmill_schemas::{
    domain::{JobId, PageOptions},
    subjects,
    v1::{ConvertRequest, ImageRef, JobStatus},
};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::{Context, Error, Published};

/// One image of a job.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The client's file name (kept, made safe, in the object key).
    pub name: String,
    /// The image file.
    pub bytes: Bytes,
    /// Its media type, when known (empty otherwise).
    pub content_type: String,
}

/// A job as a client asks for it, checked.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The job's id.
    pub job: JobId,
    /// Where the "PDF ready" email goes; empty for none.
    pub notify_email: String,
    /// How the pages look.
    pub page: PageOptions,
    /// The images, in page order.
    pub uploads: Vec<Upload>,
}

impl Submission {
    /// What the job asks for, as a SHA-256 in hex: each image's bytes (length first, so that
    /// no two lists of images run together the same way), the address and the page options.
    /// File names are left out: the same images under other names make the same PDF.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for upload in &self.uploads {
            hasher.update((upload.bytes.len() as u64).to_be_bytes());
            hasher.update(&upload.bytes);
        }
        hasher.update((self.notify_email.len() as u64).to_be_bytes());
        hasher.update(self.notify_email.as_bytes());
        hasher.update(self.page.to_request().encode_to_vec());
        format!("{:x}", hasher.finalize())
    }
}

impl Context {
    /// Stores the images, publishes the job's request on `image.convert.v1`, and records the
    /// job as queued; see the module docs for the order. Returns the job's status and what
    /// the server said about the publish.
    pub async fn submit(&self, submission: Submission) -> Result<(JobStatus, Published), Error> {
        let digest = submission.digest();
        let Submission {
            job,
            notify_email,
            page,
            uploads,
        } = submission;
        let mut request = ConvertRequest {
            job_id: job.to_string(),
            notify_email,
            page: Some(page.to_request()),
            ..ConvertRequest::default()
        };
        for (index, upload) in uploads.into_iter().enumerate() {
            let key = job.upload_key(index, &upload.name);
            request.images.push(ImageRef {
                key: key.clone(),
                content_type: upload.content_type,
                size_bytes: upload.bytes.len() as u64,
            });
            self.store.put(&key, upload.bytes).await?;
        }
        request.submitted_at = Some(pdfmill_schemas::timestamp_now());
        let published = match self
            .publisher
            .publish(subjects::IMAGE_CONVERT, job.as_str(), &request)
            .await
        {
            Ok(published) => published,
            Err(error) => {
                self.remove_uploads(&request).await;
                return Err(error);
            }
        };
        let marked = self.jobs.mark_queued(&job, &request, &digest).await?;
        Ok((marked.status().clone(), published))
    }

    async fn remove_uploads(&self, request: &ConvertRequest) {
        for image in &request.images {
            if let Err(cleanup) = self.store.delete(&image.key).await {
                tracing::warn!(%cleanup, key = %image.key, "could not remove an upload");
            }
        }
    }
}
