//! Submitting a job: the one sequence the HTTP ingress and `pdfmill submit` share.
//!
//! The order matters. Images go to the store first (messages carry keys, not bytes); then the
//! request is published with the job id as its dedup id; only after the stream has stored it
//! is the job recorded as `queued`, so no status ever claims a job that was never queued. When
//! the publish fails, the uploads are taken back, so a refused request leaves nothing behind.

use bytes::Bytes;
use pdfmill_schemas::{
    subjects,
    v1::{ConvertRequest, ImageRef, JobState, JobStatus},
};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::{Context, Error, Published};

/// One image of a job.
#[derive(Debug, Clone)]
pub struct Upload {
    /// A file name safe for an object key (it becomes `uploads/<job>/<nnn>-<name>`).
    pub name: String,
    /// The image file.
    pub bytes: Bytes,
    /// Its media type, when known (empty otherwise).
    pub content_type: String,
}

impl Context {
    /// Stores `uploads`, publishes `request` (its `images` and `submitted_at` filled in here)
    /// on `image.convert.v1`, and records the job as queued; see the module docs for the order.
    /// Returns the job's status and what the server said about the publish.
    pub async fn submit(
        &self,
        mut request: ConvertRequest,
        uploads: Vec<Upload>,
    ) -> Result<(JobStatus, Published), Error> {
        let job_id = request.job_id.clone();
        let digest = request_digest(&request, &uploads);
        for (index, upload) in uploads.into_iter().enumerate() {
            let key = format!("uploads/{job_id}/{index:03}-{}", upload.name);
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
            .publish(subjects::IMAGE_CONVERT, &job_id, &request)
            .await
        {
            Ok(published) => published,
            Err(error) => {
                for image in &request.images {
                    if let Err(cleanup) = self.store.delete(&image.key).await {
                        tracing::warn!(%cleanup, key = %image.key, "could not remove an upload");
                    }
                }
                return Err(error);
            }
        };
        let status = self
            .jobs
            .update(&job_id, |s| {
                if s.state() == JobState::Unspecified {
                    s.set_state(JobState::Queued);
                    s.updated_at = request.submitted_at;
                }
                s.submitted_at = s.submitted_at.or(request.submitted_at);
                s.image_count = request.images.len() as u32;
                s.notify_email = request.notify_email.clone();
                s.request_digest = digest.clone();
            })
            .await?;
        Ok((status, published))
    }
}

/// What a job asks for, as a SHA-256 in hex: each image's bytes (length first, so that no two
/// lists of images run together the same way), the address and the page options. File names
/// are left out: the same images under other names make the same PDF.
pub fn request_digest(request: &ConvertRequest, uploads: &[Upload]) -> String {
    let mut hasher = Sha256::new();
    for upload in uploads {
        hasher.update((upload.bytes.len() as u64).to_be_bytes());
        hasher.update(&upload.bytes);
    }
    hasher.update((request.notify_email.len() as u64).to_be_bytes());
    hasher.update(request.notify_email.as_bytes());
    hasher.update(request.page.clone().unwrap_or_default().encode_to_vec());
    format!("{:x}", hasher.finalize())
}
