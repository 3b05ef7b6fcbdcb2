//! Reading a conversion request: a multipart form or a raw image body, checked against the
//! limits before anything is stored. An image's type is judged from its first bytes (the PNG
//! signature, a JPEG's start-of-image marker), never from what the client declared: a
//! mislabelled file is refused here instead of failing a worker later.

use axum::{
    extract::{FromRequest, Multipart, Request, multipart::MultipartError},
    http::{StatusCode, header},
};
use bytes::Bytes;
use pdfmill_schemas::v1::{Fit, PageOptions};
use serde::Deserialize;

use crate::{ApiError, Limits};

/// One uploaded image.
pub(crate) struct Image {
    pub name: String,
    pub bytes: Bytes,
    pub content_type: &'static str,
}

/// A whole, valid conversion request.
pub(crate) struct Upload {
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
    limits: Limits,
) -> Result<Upload, ApiError> {
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
    Ok(Upload {
        images,
        email,
        page: page_options(&options)?,
    })
}

async fn read_form(request: Request, limits: Limits) -> Result<(Vec<Image>, Options), ApiError> {
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::InvalidRequest(format!("not a multipart form: {e}")))?;
    let mut images = Vec::new();
    let mut options = Options::default();
    while let Some(field) = form.next_field().await.map_err(|e| form_error(e, limits))? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "image" {
            let file_name = field.file_name().map(sanitise).unwrap_or_default();
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
                name: if file_name.is_empty() {
                    "image".to_string()
                } else {
                    file_name
                },
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

fn form_error(error: MultipartError, limits: Limits) -> ApiError {
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

/// Validates the options with the converter's own parsers, so a typo is a 422 now rather than
/// a silently default page later.
fn page_options(options: &Options) -> Result<PageOptions, ApiError> {
    let invalid = |field: &str, why: String| ApiError::InvalidRequest(format!("{field}: {why}"));
    let page_size = options.page_size.clone().unwrap_or_default();
    page_size
        .parse::<pdfmill_pdf::PageSize>()
        .map_err(|e| invalid("page_size", e.to_string()))?;
    let fit = match options
        .fit
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "" | "contain" => Fit::Contain,
        "cover" | "fill" => Fit::Cover,
        "none" => Fit::None,
        other => {
            return Err(invalid(
                "fit",
                format!("`{other}` is not one of contain, cover, none"),
            ));
        }
    };
    let margin_pt = match options.margin.as_deref().map(str::trim) {
        None | Some("") => 0.0,
        Some(text) => {
            pdfmill_pdf::parse_length(text).map_err(|e| invalid("margin", e.to_string()))?
        }
    };
    if !margin_pt.is_finite() || !(0.0..=1000.0).contains(&margin_pt) {
        return Err(invalid(
            "margin",
            "must be between 0 and 1000 pt".to_string(),
        ));
    }
    let dpi = match options.dpi.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(text) => match text.parse::<u32>() {
            Ok(dpi @ 1..=10_000) => dpi,
            _ => {
                return Err(invalid(
                    "dpi",
                    format!("`{text}` is not a whole number from 1 to 10000"),
                ));
            }
        },
    };
    let title = options.title.clone().unwrap_or_default();
    if title.chars().count() > 1000 {
        return Err(invalid("title", "longer than 1000 characters".to_string()));
    }
    Ok(PageOptions {
        page_size,
        fit: fit.into(),
        margin_pt,
        dpi,
        title,
    })
}

/// Object keys and file names keep to a safe alphabet.
pub(crate) fn sanitise(name: &str) -> String {
    name.chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}
