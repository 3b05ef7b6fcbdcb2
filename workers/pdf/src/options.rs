//! What a caller can choose: page geometry, metadata and limits, in points.
//!
//! The grammar people type (`a4`, `210x297mm`, `10mm`, `cover`) is not here: it belongs to
//! the job and lives in `pdfmill_schemas::domain`, which the CLI, the HTTP API and the worker
//! share. This crate takes geometry already parsed.

/// PDF user space units (points) per inch (ISO 32000-1, 8.3.2.3).
pub const POINTS_PER_INCH: f32 = 72.0;

/// Everything that shapes the output document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// Page geometry, applied to every page.
    pub layout: Layout,
    /// Document information dictionary entries.
    pub metadata: Metadata,
    /// Bounds against hostile or accidental huge input.
    pub limits: Limits,
}

/// Where each image goes on its page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// The page size.
    pub page_size: PageSize,
    /// How the image is scaled into a fixed page size; ignored for [`PageSize::Image`].
    pub fit: Fit,
    /// Blank space around the image on every side, in points.
    pub margin: f32,
    /// Resolution to assume for every image, overriding what the file says (`pHYs`, JFIF, EXIF).
    pub dpi: Option<f32>,
}

/// The size of each page.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum PageSize {
    /// The image at its own resolution (72 dpi when the file gives none), plus the margins.
    #[default]
    Image,
    /// A fixed size in points, portrait; a landscape image gets the page turned to landscape.
    Fixed {
        /// Width in points.
        width: f32,
        /// Height in points.
        height: f32,
    },
}

impl PageSize {
    /// ISO 216 A4, 210 × 297 mm.
    pub const A4: PageSize = PageSize::Fixed {
        width: 595.2756,
        height: 841.8898,
    };
    /// US Letter, 8.5 × 11 in.
    pub const LETTER: PageSize = PageSize::Fixed {
        width: 612.0,
        height: 792.0,
    };
    /// US Legal, 8.5 × 14 in.
    pub const LEGAL: PageSize = PageSize::Fixed {
        width: 612.0,
        height: 1008.0,
    };
    /// ISO 216 A3, 297 × 420 mm.
    pub const A3: PageSize = PageSize::Fixed {
        width: 841.8898,
        height: 1190.5513,
    };
    /// ISO 216 A5, 148 × 210 mm.
    pub const A5: PageSize = PageSize::Fixed {
        width: 419.5276,
        height: 595.2756,
    };
}

/// How an image is scaled into a fixed page's area inside the margins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fit {
    /// Scaled to fit inside the area, keeping its aspect ratio (never cropped).
    #[default]
    Contain,
    /// Scaled to cover the whole area, keeping its aspect ratio; the overflow is clipped.
    Cover,
    /// At its own resolution, centred; an image larger than the area is clipped.
    None,
}

/// Entries of the document information dictionary (ISO 32000-1, 14.3.3).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// `/Title`.
    pub title: Option<String>,
    /// `/Author`.
    pub author: Option<String>,
    /// `/Producer`; defaults to `pdfmill <version>`.
    pub producer: Option<String>,
    /// `/CreationDate` and `/ModDate`. Left out when `None`, which keeps output reproducible.
    pub created: Option<Timestamp>,
}

/// A UTC date and time for [`Metadata::created`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Year, e.g. 2026.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
}

/// Bounds that keep one hostile input from exhausting a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most pixels (width × height) one image may have. Decoding needs memory in proportion.
    pub max_pixels: u64,
    /// Most bytes one input file may have.
    pub max_input_bytes: u64,
    /// Most pages (images) one document may have.
    pub max_pages: u64,
}

impl Default for Limits {
    /// 200 Mpx, 256 MiB and 1,000 pages: beyond any real scan, well inside a 2 GiB worker.
    fn default() -> Self {
        Limits {
            max_pixels: 200_000_000,
            max_input_bytes: 256 << 20,
            max_pages: 1000,
        }
    }
}
