//! What a caller can choose: page geometry, metadata and limits.
//!
//! Page sizes and lengths parse from the strings people type (`a4`, `letter`, `210x297mm`,
//! `10mm`), so the CLI, the HTTP API and queue messages share one grammar.

use std::{fmt, str::FromStr};

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

/// A string that is not a page size or a length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Parses a length such as `10mm`, `1.5cm`, `0.5in` or `36pt` (a bare number is points) into
/// points.
pub fn parse_length(text: &str) -> Result<f32, ParseError> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f32 = number.trim().parse().map_err(|_| {
        ParseError(format!(
            "`{text}` is not a length; write a number with a unit, e.g. 10mm, 0.5in, 36pt"
        ))
    })?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "pt" => 1.0,
        "in" => POINTS_PER_INCH,
        "mm" => POINTS_PER_INCH / 25.4,
        "cm" => POINTS_PER_INCH / 2.54,
        other => {
            return Err(ParseError(format!(
                "unknown unit `{other}` in `{text}`; use mm, cm, in or pt"
            )));
        }
    };
    if !value.is_finite() || value < 0.0 {
        return Err(ParseError(format!(
            "`{text}` must be a length of zero or more"
        )));
    }
    Ok(value * scale)
}

impl FromStr for PageSize {
    type Err = ParseError;

    /// `image`, `a3`, `a4`, `a5`, `letter`, `legal`, or `WxH` with a unit (`210x297mm`, `8.5x11in`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "image" | "" => Ok(PageSize::Image),
            "a3" => Ok(PageSize::A3),
            "a4" => Ok(PageSize::A4),
            "a5" => Ok(PageSize::A5),
            "letter" => Ok(PageSize::LETTER),
            "legal" => Ok(PageSize::LEGAL),
            custom => {
                let invalid = || {
                    ParseError(format!(
                        "`{text}` is not a page size; use image, a3, a4, a5, letter, legal or WIDTHxHEIGHT with a unit, e.g. 210x297mm"
                    ))
                };
                let (w, h) = custom.split_once('x').ok_or_else(invalid)?;
                let unit: String = h.chars().filter(|c| c.is_ascii_alphabetic()).collect();
                let width = parse_length(&format!("{w}{unit}")).map_err(|_| invalid())?;
                let height = parse_length(h).map_err(|_| invalid())?;
                if width < 1.0 || height < 1.0 {
                    return Err(invalid());
                }
                Ok(PageSize::Fixed { width, height })
            }
        }
    }
}

impl FromStr for Fit {
    type Err = ParseError;

    /// `contain` (or `fit`), `cover` (or `fill`), `none`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "contain" | "fit" => Ok(Fit::Contain),
            "cover" | "fill" => Ok(Fit::Cover),
            "none" => Ok(Fit::None),
            _ => Err(ParseError(format!(
                "`{text}` is not a fit; use contain, cover or none"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_convert_to_points() {
        assert_eq!(parse_length("36").unwrap(), 36.0);
        assert_eq!(parse_length("1in").unwrap(), 72.0);
        assert!((parse_length("25.4mm").unwrap() - 72.0).abs() < 1e-3);
        assert!(parse_length("3 furlongs").is_err());
        assert!(parse_length("-1mm").is_err());
    }

    #[test]
    fn page_sizes_parse() {
        assert_eq!("A4".parse::<PageSize>().unwrap(), PageSize::A4);
        assert_eq!("image".parse::<PageSize>().unwrap(), PageSize::Image);
        assert_eq!(
            "8.5x11in".parse::<PageSize>().unwrap(),
            PageSize::Fixed {
                width: 612.0,
                height: 792.0
            }
        );
        let PageSize::Fixed { width, height } = "210x297mm".parse::<PageSize>().unwrap() else {
            panic!("custom size must be fixed")
        };
        assert!((width - 595.2756).abs() < 0.01 && (height - 841.8898).abs() < 0.01);
        assert!("huge".parse::<PageSize>().is_err());
        assert!("0x5in".parse::<PageSize>().is_err());
    }
}
