//! The ingress's own settings. The caller (the `pdfmill` binary) loads them, from
//! `PDFMILL_HTTP_ADDR` and friends, and passes them in: nothing here reads the environment.

use std::{net::SocketAddr, path::PathBuf};

use pdfmill_core::Secret;
use serde::{Deserialize, Serialize};

/// How the ingress listens, what it accepts and who may call it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IngressSettings {
    /// The address to listen on (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// UploadLimits on what one request may upload.
    pub limits: UploadLimits,
    /// Bearer tokens that may call the API; empty means no authentication. Health checks,
    /// the OpenAPI document, Swagger UI and the web page itself are always open.
    pub api_keys: Vec<Secret>,
    /// The email outbox folder (`.eml` files); when set, `/mailbox` shows what is in it.
    pub outbox_dir: Option<PathBuf>,
}

impl Default for IngressSettings {
    fn default() -> Self {
        IngressSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            limits: UploadLimits::default(),
            api_keys: Vec::new(),
            outbox_dir: None,
        }
    }
}

/// UploadLimits against oversized or hostile uploads. A request over one is refused with
/// `413 Content Too Large` before anything is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadLimits {
    /// Bytes in one request body, all images together (default 64 MiB).
    pub max_upload_bytes: usize,
    /// Images (pages) in one job (default 100).
    pub max_images: usize,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_upload_bytes: 64 * 1024 * 1024,
            max_images: 100,
        }
    }
}
