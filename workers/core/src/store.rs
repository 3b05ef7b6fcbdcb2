//! The object store: images in, PDFs out. Messages carry keys, never bytes (the claim-check
//! pattern), so a 50 MB scan does not travel through NATS.
//!
//! `file:///path` is a directory (the embedded default); `s3://bucket` is any S3-compatible
//! service, configured by the standard `AWS_*` variables (`AWS_ENDPOINT_URL`, `AWS_REGION`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`).

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use object_store::{
    ObjectStore, ObjectStoreExt, PutPayload, aws::AmazonS3Builder, local::LocalFileSystem,
    path::Path, signer::Signer,
};
use url::Url;

use crate::Error;

/// A handle on the configured store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    signer: Option<Arc<object_store::aws::AmazonS3>>,
    root: Option<std::path::PathBuf>,
}

impl Store {
    /// Opens the store named by `url` (see the module docs).
    pub fn open(url: &str) -> Result<Store, Error> {
        let invalid = |why: &str| {
            Error::Config(format!(
                "store URL `{url}`: {why}; use file:///path or s3://bucket"
            ))
        };
        if let Some(path) = url.strip_prefix("file://") {
            let root = std::path::PathBuf::from(if path.is_empty() { "." } else { path });
            std::fs::create_dir_all(&root)
                .map_err(|e| invalid(&format!("cannot create {}: {e}", root.display())))?;
            let root = root.canonicalize().map_err(|e| invalid(&e.to_string()))?;
            let local =
                LocalFileSystem::new_with_prefix(&root).map_err(|e| invalid(&e.to_string()))?;
            return Ok(Store {
                inner: Arc::new(local),
                signer: None,
                root: Some(root),
            });
        }
        let parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        if parsed.scheme() != "s3" {
            return Err(invalid("unknown scheme"));
        }
        let bucket = parsed.host_str().ok_or_else(|| invalid("no bucket"))?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
            builder = builder
                .with_endpoint(&endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let s3 = Arc::new(builder.build().map_err(|e| invalid(&e.to_string()))?);
        Ok(Store {
            inner: s3.clone(),
            signer: Some(s3),
            root: None,
        })
    }

    /// Reads a whole object.
    pub async fn get(&self, key: &str) -> Result<Bytes, Error> {
        Ok(self.inner.get(&Path::from(key)).await?.bytes().await?)
    }

    /// Writes a whole object, replacing any object under the same key.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), Error> {
        self.inner
            .put(&Path::from(key), PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    /// Deletes an object; deleting one that does not exist is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        match self.inner.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether an object exists.
    pub async fn exists(&self, key: &str) -> Result<bool, Error> {
        match self.inner.head(&Path::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Number of objects under `prefix`.
    pub async fn count(&self, prefix: &str) -> Result<usize, Error> {
        use futures::TryStreamExt;
        let objects: Vec<_> = self
            .inner
            .list(Some(&Path::from(prefix)))
            .try_collect()
            .await?;
        Ok(objects.len())
    }

    /// A URL to download an object directly: presigned for S3 (valid `valid_for`), `None` for
    /// a filesystem store (which is served through the ingress instead).
    pub async fn download_url(
        &self,
        key: &str,
        valid_for: Duration,
    ) -> Result<Option<String>, Error> {
        match &self.signer {
            Some(s3) => Ok(Some(
                s3.signed_url(http::Method::GET, &Path::from(key), valid_for)
                    .await?
                    .to_string(),
            )),
            None => Ok(None),
        }
    }

    /// The file behind a key in a filesystem store.
    pub fn local_path(&self, key: &str) -> Option<std::path::PathBuf> {
        self.root.as_ref().map(|root| root.join(key))
    }
}
