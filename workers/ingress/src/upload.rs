//! Reading a conversion request: a multipart form or a raw image body, checked against the
//! limits before anything is stored. An image's type is judged from its first bytes (the PNG
//! signature, a JPEG's start-of-image marker), never from what the client declared: a
//! mislabelled file is refused here instead of failing a worker later.

use axum::{
    extract::{FromRequest, Multipart, Request, multipart::MultipartError},
    http::{StatusCode, header},
};
use bytes::Bytes;
use pdfmill_schemas::domain::{PageOptions, PageOptionsText};
use serde::Deserialize;

use crate::{ApiError, UploadLimits};

/// One uploaded image.
pub(crate) struct Image {
    pub name: String,
    pub bytes: Bytes,
    pub content_type: &'static str,
}

/// A whole, valid conversion request.
pub(crate) struct Submitted {
    pub images: Vec<Image>,
    pub email: Option<String>,
    pub page: PageOptions,
}

/// The page options and address as text, from form fields or the query string.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Options {
    /// Where to send the "PDF ready" email.
    pub email: Option<String>,
    /// `image` (the default: the page takes the image's size), `a3`, `a4`, `a5`, `letter`,
    /// `legal`, or `WxH` with a unit such as `210x297mm`.
    pub page_size: Option<String>,
    /// `contain` (default), `cover` or `none`: how an image is placed on a fixed page.
    pub fit: Option<String>,
    /// Margin on every side: a number with a unit (`10mm`, `0.5in`, `36pt`; points when bare).
    pub margin: Option<String>,
    /// Resolution (1–10000) used to size pages when the image does not say.
    pub dpi: Option<String>,
    /// The PDF's document title.
    pub title: Option<String>,
}

/// Reads the request: `multipart/form-data`, or a raw PNG/JPEG body with its options in
/// `query`.
pub(crate) async fn read(
    request: Request,
    query: Options,
    limits: UploadLimits,
) -> Result<Submitted, ApiError> {
    let too_large = ApiError::TooLarge {
        limit: limits.max_upload_bytes,
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.max_upload_bytes as u64) {
        return Err(too_large);
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (images, options) = if content_type.starts_with("multipart/form-data") {
        read_form(request, limits).await?
    } else if content_type.starts_with("image/") || content_type == "application/octet-stream" {
        let bytes = axum::body::to_bytes(request.into_body(), limits.max_upload_bytes)
            .await
            .map_err(|_| too_large)?;
        let content_type = sniff(&bytes, "the body")?;
        let name = if content_type == PNG {
            "image.png"
        } else {
            "image.jpg"
        };
        let image = Image {
            name: name.to_string(),
            bytes,
            content_type,
        };
        (vec![image], query)
    } else {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send multipart/form-data with `image` fields, or a PNG or JPEG body with an \
             image/* content type (not `{content_type}`)"
        )));
    };
    if images.is_empty() {
        return Err(ApiError::InvalidRequest(
            "the form has no `image` field".to_string(),
        ));
    }
    if images.len() > limits.max_images {
        return Err(ApiError::TooManyImages {
            count: images.len(),
            limit: limits.max_images,
        });
    }
    let email = match options.email.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(address) => Some(check_address(address)?),
    };
    Ok(Submitted {
        images,
        email,
        page: page_options(&options)?,
    })
}

async fn read_form(
    request: Request,
    limits: UploadLimits,
) -> Result<(Vec<Image>, Options), ApiError> {
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::InvalidRequest(format!("not a multipart form: {e}")))?;
    let mut images = Vec::new();
    let mut options = Options::default();
    while let Some(field) = form.next_field().await.map_err(|e| form_error(e, limits))? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "image" {
            let file_name = field.file_name().unwrap_or_default().to_string();
            let bytes = field.bytes().await.map_err(|e| form_error(e, limits))?;
            if images.len() >= limits.max_images {
                return Err(ApiError::TooManyImages {
                    count: images.len() + 1,
                    limit: limits.max_images,
                });
            }
            let what = format!("image {} ({file_name})", images.len() + 1);
            let content_type = sniff(&bytes, &what)?;
            images.push(Image {
                name: file_name,
                bytes,
                content_type,
            });
            continue;
        }
        let value = field.text().await.map_err(|e| form_error(e, limits))?;
        let slot = match name.as_str() {
            "email" => &mut options.email,
            "page_size" => &mut options.page_size,
            "fit" => &mut options.fit,
            "margin" => &mut options.margin,
            "dpi" => &mut options.dpi,
            "title" => &mut options.title,
            other => {
                return Err(ApiError::InvalidRequest(format!(
                    "unknown form field `{other}`; expected image, email, page_size, fit, \
                     margin, dpi or title"
                )));
            }
        };
        *slot = Some(value);
    }
    Ok((images, options))
}

fn form_error(error: MultipartError, limits: UploadLimits) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge {
            limit: limits.max_upload_bytes,
        }
    } else {
        ApiError::InvalidRequest(format!("the multipart form is malformed: {error}"))
    }
}

const PNG: &str = "image/png";
const JPEG: &str = "image/jpeg";

/// The type of an image from its first bytes (PNG §5.2 signature; JPEG SOI + a marker).
pub(crate) fn sniff(bytes: &[u8], what: &str) -> Result<&'static str, ApiError> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok(PNG)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(JPEG)
    } else if bytes.is_empty() {
        Err(ApiError::UnsupportedMediaType(format!("{what} is empty")))
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "{what} is not a PNG or JPEG file"
        )))
    }
}

/// Checks an address with the same parser the email worker uses, so an address accepted here
/// is never refused there.
pub(crate) fn check_address(address: &str) -> Result<String, ApiError> {
    address
        .parse::<lettre::message::Mailbox>()
        .map(|_| address.to_string())
        .map_err(|e| ApiError::InvalidAddress {
            address: address.to_string(),
            reason: e.to_string(),
        })
}

/// The options, by the job's one grammar (`pdfmill_schemas::domain`), so a typo is a 422 now
/// rather than a dead letter later.
fn page_options(options: &Options) -> Result<PageOptions, ApiError> {
    Ok(PageOptions::parse(PageOptionsText {
        page_size: options.page_size.as_deref(),
        fit: options.fit.as_deref(),
        margin: options.margin.as_deref(),
        dpi: options.dpi.as_deref(),
        title: options.title.as_deref(),
    })?)
}
