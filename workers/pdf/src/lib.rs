//! Lossless images-to-PDF conversion.
//!
//! PDF can carry PNG and JPEG data as they are: `/FlateDecode` with PNG predictors is PNG's own
//! IDAT encoding, and `/DCTDecode` is JPEG. So wherever the format allows, this crate copies the
//! compressed bytes into the PDF instead of decoding and re-encoding pixels, which is both
//! faster and provably lossless. Only what PDF cannot express that way (Adam7 interlacing, alpha
//! channels) is decoded, and then re-compressed without changing a sample. See the `png` and
//! `jpeg` modules' docs for the exact rules.
//!
//! One image becomes one page. Every input is checked (signatures, chunk CRCs, structure,
//! [`Limits`]) before anything is written, and every failure is an [`Error`] that says whether
//! the input is corrupt, unsupported or too large. The crate is synchronous and does no I/O
//! beyond the `Write` it is given; callers decide about threads, with one exception: a large
//! decoded image is re-compressed in bands on scoped threads (at most one per core, up to 8),
//! which all end before the call returns.
//!
//! ```
//! # let mut png = Vec::new();
//! # let mut encoder = png::Encoder::new(&mut png, 2, 2);
//! # encoder.set_color(png::ColorType::Rgba);
//! # encoder.set_depth(png::BitDepth::Sixteen);
//! # encoder.write_header().unwrap().write_image_data(&[0x7f; 2 * 2 * 8]).unwrap();
//! let options = pdfmill_pdf::Options::default();
//! let mut pdf = Vec::new();
//! let pages = pdfmill_pdf::convert([png], &options, &mut pdf)?;
//! assert_eq!(pages.len(), 1);
//! # Ok::<(), pdfmill_pdf::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod document;
mod error;
mod flate;
mod jpeg;
mod options;
mod png;
mod xobject;

use std::io::Write;

pub use document::{Document, PageInfo};
pub use error::{Error, ErrorKind, Format, Limit};
pub use options::{Fit, Layout, Limits, Metadata, Options, POINTS_PER_INCH, PageSize, Timestamp};

/// Converts `images` (PNG or JPEG files, in page order) into one PDF written to `out`.
pub fn convert<I>(images: I, options: &Options, out: impl Write) -> Result<Vec<PageInfo>, Error>
where
    I: IntoIterator<Item = Vec<u8>>,
{
    let mut document = Document::new(options.clone());
    let pages = images
        .into_iter()
        .map(|image| document.add_image(image))
        .collect::<Result<_, _>>()?;
    document.finish(out)?;
    Ok(pages)
}
