//! Page options: one grammar for the strings people type, shared by the HTTP form, the CLI
//! and a request published by hand, and one set of bounds. A queued request carries the
//! options as [`v1::PageOptions`](crate::v1::PageOptions); the worker reads them back with
//! [`PageOptions::from_request`], which refuses (never guesses) what it cannot read.

use std::{fmt, str::FromStr};

use super::Invalid;
use crate::v1;

/// PDF user space units (points) per inch (ISO 32000-1, 8.3.2.3).
pub const POINTS_PER_INCH: f32 = 72.0;
/// The largest page side: 200 inches, the most PDF viewers draw without `/UserUnit`
/// (ISO 32000-1, annex C.2: 14,400 units).
pub const MAX_PAGE_SIDE_PT: f32 = 14_400.0;
/// The widest margin.
pub const MAX_MARGIN_PT: f32 = 1000.0;
/// The highest resolution.
pub const MAX_DPI: u32 = 10_000;
/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 1000;

/// The size of each page.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum PageSize {
    /// The image at its own resolution (72 dpi when the file gives none), plus the margins.
    #[default]
    Image,
    /// ISO 216 A3, 297 × 420 mm.
    A3,
    /// ISO 216 A4, 210 × 297 mm.
    A4,
    /// ISO 216 A5, 148 × 210 mm.
    A5,
    /// US Letter, 8.5 × 11 in.
    Letter,
    /// US Legal, 8.5 × 14 in.
    Legal,
    /// Any other size, portrait as given.
    Custom {
        /// Width in points.
        width_pt: f32,
        /// Height in points.
        height_pt: f32,
    },
}

impl PageSize {
    /// Width and height in points, portrait; `None` for [`PageSize::Image`].
    pub fn dimensions_pt(self) -> Option<(f32, f32)> {
        let mm = |w: f32, h: f32| (w * POINTS_PER_INCH / 25.4, h * POINTS_PER_INCH / 25.4);
        match self {
            PageSize::Image => None,
            PageSize::A3 => Some(mm(297.0, 420.0)),
            PageSize::A4 => Some(mm(210.0, 297.0)),
            PageSize::A5 => Some(mm(148.0, 210.0)),
            PageSize::Letter => Some((612.0, 792.0)),
            PageSize::Legal => Some((612.0, 1008.0)),
            PageSize::Custom {
                width_pt,
                height_pt,
            } => Some((width_pt, height_pt)),
        }
    }
}

impl FromStr for PageSize {
    type Err = Invalid;

    /// `image`, `a3`, `a4`, `a5`, `letter`, `legal`, or `WxH` with a unit (`210x297mm`,
    /// `8.5x11in`; points when bare), each side 1 pt to 200 in.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let named = match text.trim().to_ascii_lowercase().as_str() {
            "image" | "" => PageSize::Image,
            "a3" => PageSize::A3,
            "a4" => PageSize::A4,
            "a5" => PageSize::A5,
            "letter" => PageSize::Letter,
            "legal" => PageSize::Legal,
            custom => return parse_custom(text, custom),
        };
        Ok(named)
    }
}

fn parse_custom(text: &str, lower: &str) -> Result<PageSize, Invalid> {
    let invalid = || {
        Invalid::new(
            "page_size",
            format!(
                "`{text}` is not a page size; use image, a3, a4, a5, letter, legal or WIDTHxHEIGHT with a unit, each side 1pt to 200in (e.g. 210x297mm)"
            ),
        )
    };
    let (w, h) = lower.split_once('x').ok_or_else(invalid)?;
    let unit: String = h.chars().filter(|c| c.is_ascii_alphabetic()).collect();
    let width = Length::from_str(&format!("{w}{unit}")).map_err(|_| invalid())?;
    let height = Length::from_str(h).map_err(|_| invalid())?;
    let side = 1.0..=MAX_PAGE_SIDE_PT;
    if !side.contains(&width.0) || !side.contains(&height.0) {
        return Err(invalid());
    }
    Ok(PageSize::Custom {
        width_pt: width.0,
        height_pt: height.0,
    })
}

impl fmt::Display for PageSize {
    /// The canonical text, which parses back to the same size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageSize::Image => f.write_str("image"),
            PageSize::A3 => f.write_str("a3"),
            PageSize::A4 => f.write_str("a4"),
            PageSize::A5 => f.write_str("a5"),
            PageSize::Letter => f.write_str("letter"),
            PageSize::Legal => f.write_str("legal"),
            PageSize::Custom {
                width_pt,
                height_pt,
            } => write!(f, "{width_pt}x{height_pt}pt"),
        }
    }
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

impl FromStr for Fit {
    type Err = Invalid;

    /// `contain` (or `fit`), `cover` (or `fill`), `none`; empty means `contain`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "contain" | "fit" => Ok(Fit::Contain),
            "cover" | "fill" => Ok(Fit::Cover),
            "none" => Ok(Fit::None),
            _ => Err(Invalid::new(
                "fit",
                format!("`{text}` is not a fit; use contain, cover or none"),
            )),
        }
    }
}

/// A length in points, parsed from `10mm`, `1.5cm`, `0.5in` or `36pt` (a bare number is
/// points); never negative.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd)]
pub struct Length(pub f32);

impl FromStr for Length {
    type Err = Invalid;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let split = text
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let value: f32 = number.trim().parse().map_err(|_| {
            Invalid::new(
                "length",
                format!(
                    "`{text}` is not a length; write a number with a unit, e.g. 10mm, 0.5in, 36pt"
                ),
            )
        })?;
        let scale = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "pt" => 1.0,
            "in" => POINTS_PER_INCH,
            "mm" => POINTS_PER_INCH / 25.4,
            "cm" => POINTS_PER_INCH / 2.54,
            other => {
                return Err(Invalid::new(
                    "length",
                    format!("unknown unit `{other}` in `{text}`; use mm, cm, in or pt"),
                ));
            }
        };
        if !value.is_finite() || value < 0.0 {
            return Err(Invalid::new(
                "length",
                format!("`{text}` must be a length of zero or more"),
            ));
        }
        Ok(Length(value * scale))
    }
}

/// How every page of a job's PDF is laid out, checked against the bounds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageOptions {
    /// The page size.
    pub size: PageSize,
    /// How the image is placed on a fixed page size; ignored for [`PageSize::Image`].
    pub fit: Fit,
    /// Blank space on every side, in points.
    pub margin_pt: f32,
    /// The resolution to assume for every image, overriding the file's; `None` keeps the file's.
    pub dpi: Option<u32>,
    /// The PDF's title.
    pub title: Option<String>,
}

/// Page options as text, the way a form, a query string or a command line gives them; an
/// absent or empty field takes its default.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageOptionsText<'a> {
    /// `image`, `a4`, `210x297mm`, …
    pub page_size: Option<&'a str>,
    /// `contain`, `cover` or `none`.
    pub fit: Option<&'a str>,
    /// `10mm`, `0.5in`, `36pt`, …
    pub margin: Option<&'a str>,
    /// A whole number, 1–10000.
    pub dpi: Option<&'a str>,
    /// Any text up to 1,000 characters.
    pub title: Option<&'a str>,
}

impl PageOptions {
    /// Parses and checks options typed by a person.
    ///
    /// ```
    /// use pdfmill_schemas::domain::{Fit, PageOptions, PageOptionsText, PageSize};
    ///
    /// let options = PageOptions::parse(PageOptionsText {
    ///     page_size: Some("A4"),
    ///     fit: Some("cover"),
    ///     margin: Some("10mm"),
    ///     ..Default::default()
    /// })?;
    /// assert_eq!((options.size, options.fit), (PageSize::A4, Fit::Cover));
    /// assert!(PageOptions::parse(PageOptionsText { fit: Some("stretch"), ..Default::default() }).is_err());
    /// # Ok::<(), pdfmill_schemas::domain::Invalid>(())
    /// ```
    pub fn parse(text: PageOptionsText<'_>) -> Result<PageOptions, Invalid> {
        fn given(value: Option<&str>) -> Option<&str> {
            value.map(str::trim).filter(|v| !v.is_empty())
        }
        let margin_pt = match given(text.margin) {
            Some(margin) => {
                margin
                    .parse::<Length>()
                    .map_err(|e| Invalid::new("margin", e.reason))?
                    .0
            }
            None => 0.0,
        };
        let dpi = match given(text.dpi) {
            Some(dpi) => Some(dpi.parse::<u32>().map_err(|_| {
                Invalid::new(
                    "dpi",
                    format!("`{dpi}` is not a whole number from 1 to {MAX_DPI}"),
                )
            })?),
            None => None,
        };
        PageOptions {
            size: given(text.page_size).unwrap_or_default().parse()?,
            fit: given(text.fit).unwrap_or_default().parse()?,
            margin_pt,
            dpi,
            title: text.title.filter(|t| !t.is_empty()).map(str::to_string),
        }
        .checked()
    }

    /// Reads the options of a queued request, with the same rules as [`PageOptions::parse`]:
    /// a request that was published by hand with a typo is refused with the reason.
    pub fn from_request(page: Option<&v1::PageOptions>) -> Result<PageOptions, Invalid> {
        let Some(page) = page else {
            return Ok(PageOptions::default());
        };
        let fit = match page.fit() {
            v1::Fit::Unspecified | v1::Fit::Contain => Fit::Contain,
            v1::Fit::Cover => Fit::Cover,
            v1::Fit::None => Fit::None,
        };
        PageOptions {
            size: page.page_size.parse()?,
            fit,
            margin_pt: page.margin_pt,
            dpi: (page.dpi > 0).then_some(page.dpi),
            title: (!page.title.is_empty()).then(|| page.title.clone()),
        }
        .checked()
    }

    /// The options as a request carries them.
    pub fn to_request(&self) -> v1::PageOptions {
        let fit = match self.fit {
            Fit::Contain => v1::Fit::Contain,
            Fit::Cover => v1::Fit::Cover,
            Fit::None => v1::Fit::None,
        };
        v1::PageOptions {
            page_size: self.size.to_string(),
            fit: fit.into(),
            margin_pt: self.margin_pt,
            dpi: self.dpi.unwrap_or(0),
            title: self.title.clone().unwrap_or_default(),
        }
    }

    /// Applies the bounds that no single field's grammar can: a margin that leaves room for
    /// the image, a resolution and title of sane size.
    fn checked(self) -> Result<PageOptions, Invalid> {
        if !self.margin_pt.is_finite() || !(0.0..=MAX_MARGIN_PT).contains(&self.margin_pt) {
            return Err(Invalid::new(
                "margin",
                format!("must be between 0 and {MAX_MARGIN_PT} pt"),
            ));
        }
        if let Some((width, height)) = self.size.dimensions_pt()
            && 2.0 * self.margin_pt >= width.min(height)
        {
            return Err(Invalid::new(
                "margin",
                format!(
                    "{} pt on every side leaves no room for the image on a {width:.0}×{height:.0} pt page",
                    self.margin_pt
                ),
            ));
        }
        if let Some(dpi) = self.dpi
            && !(1..=MAX_DPI).contains(&dpi)
        {
            return Err(Invalid::new(
                "dpi",
                format!("`{dpi}` is not a whole number from 1 to {MAX_DPI}"),
            ));
        }
        if self
            .title
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS)
        {
            return Err(Invalid::new(
                "title",
                format!("longer than {MAX_TITLE_CHARS} characters"),
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(page_size: &str, fit: &str, margin: &str) -> PageOptionsText<'static> {
        PageOptionsText {
            page_size: Some(Box::leak(page_size.into())),
            fit: Some(Box::leak(fit.into())),
            margin: Some(Box::leak(margin.into())),
            ..Default::default()
        }
    }

    #[test]
    fn lengths_convert_to_points() {
        assert_eq!("36".parse::<Length>().unwrap().0, 36.0);
        assert_eq!("1in".parse::<Length>().unwrap().0, 72.0);
        assert!(("25.4mm".parse::<Length>().unwrap().0 - 72.0).abs() < 1e-3);
        assert!("3 furlongs".parse::<Length>().is_err());
        assert!("-1mm".parse::<Length>().is_err());
    }

    #[test]
    fn page_sizes_parse_and_print_back() {
        assert_eq!("A4".parse::<PageSize>().unwrap(), PageSize::A4);
        assert_eq!("".parse::<PageSize>().unwrap(), PageSize::Image);
        let letter = "8.5x11in".parse::<PageSize>().unwrap();
        assert_eq!(letter.dimensions_pt(), Some((612.0, 792.0)));
        let (w, h) = "210x297mm"
            .parse::<PageSize>()
            .unwrap()
            .dimensions_pt()
            .unwrap();
        assert!((w - 595.2756).abs() < 0.01 && (h - 841.8898).abs() < 0.01);
        for size in [PageSize::A5, letter, PageSize::Image] {
            assert_eq!(size.to_string().parse::<PageSize>().unwrap(), size);
        }
        for bad in ["huge", "0x5in", "99999x99999in", "axb", "4x"] {
            assert!(bad.parse::<PageSize>().is_err(), "{bad}");
        }
    }

    #[test]
    fn fits_accept_their_synonyms_and_nothing_else() {
        assert_eq!("fit".parse::<Fit>().unwrap(), Fit::Contain);
        assert_eq!("FILL".parse::<Fit>().unwrap(), Fit::Cover);
        assert_eq!("none".parse::<Fit>().unwrap(), Fit::None);
        assert_eq!("stretch".parse::<Fit>().unwrap_err().field, "fit");
    }

    #[test]
    fn options_are_bounded_and_name_the_field_at_fault() {
        assert!(PageOptions::parse(text("a4", "cover", "10mm")).is_ok());
        assert_eq!(
            PageOptions::parse(text("a5", "", "999pt"))
                .unwrap_err()
                .field,
            "margin"
        );
        assert_eq!(
            PageOptions::parse(text("a4", "", "1km")).unwrap_err().field,
            "margin"
        );
        assert_eq!(
            PageOptions::parse(text("a44", "", "")).unwrap_err().field,
            "page_size"
        );
        let dpi = |dpi| PageOptionsText {
            dpi: Some(dpi),
            ..Default::default()
        };
        assert_eq!(PageOptions::parse(dpi("300")).unwrap().dpi, Some(300));
        assert!(PageOptions::parse(dpi("0")).is_err());
        assert!(PageOptions::parse(dpi("72.5")).is_err());
    }

    #[test]
    fn a_request_reads_back_what_was_written_and_refuses_typos() {
        let options = PageOptions::parse(text("letter", "none", "0.5in")).unwrap();
        let request = options.to_request();
        assert_eq!(PageOptions::from_request(Some(&request)).unwrap(), options);
        assert_eq!(
            PageOptions::from_request(None).unwrap(),
            PageOptions::default()
        );
        let typo = v1::PageOptions {
            page_size: "a44".into(),
            ..Default::default()
        };
        assert_eq!(
            PageOptions::from_request(Some(&typo)).unwrap_err().field,
            "page_size"
        );
    }
}
