//! The PDF document: one page per image, written with `pdf-writer`.

use std::io::Write;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::{
    Error, Fit, Format, Layout, Limit, Options, PageSize, Timestamp, jpeg, png,
    xobject::{ColorSpace, Encoding, Mask, PlacedImage, XObject},
};

/// What one added image became.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageInfo {
    /// The input's format.
    pub format: Format,
    /// Image width in pixels, as stored.
    pub width: u32,
    /// Image height in pixels, as stored.
    pub height: u32,
    /// Whether the compressed image data was copied as it was (no decode, no re-encode).
    pub pass_through: bool,
    /// Page width and height in points.
    pub page_size: (f32, f32),
}

/// A PDF being assembled, one page per image.
///
/// ```
/// use pdfmill_pdf::{Document, Options};
/// # let mut png = Vec::new();
/// # let mut encoder = png::Encoder::new(&mut png, 2, 2);
/// # encoder.set_color(png::ColorType::Rgb);
/// # encoder.write_header().unwrap().write_image_data(&[0x7f; 2 * 2 * 3]).unwrap();
/// let mut document = Document::new(Options::default());
/// document.add_image(png)?;
/// let mut pdf = Vec::new();
/// document.finish(&mut pdf)?;
/// assert!(pdf.starts_with(b"%PDF-"));
/// # Ok::<(), pdfmill_pdf::Error>(())
/// ```
pub struct Document {
    options: Options,
    pdf: Pdf,
    next_id: Ref,
    catalog_id: Ref,
    pages_id: Ref,
    page_ids: Vec<Ref>,
}

impl Document {
    /// Starts an empty document.
    pub fn new(options: Options) -> Self {
        let mut next_id = Ref::new(1);
        let catalog_id = next_id.bump();
        let pages_id = next_id.bump();
        Document {
            options,
            pdf: Pdf::new(),
            next_id,
            catalog_id,
            pages_id,
            page_ids: Vec::new(),
        }
    }

    /// Number of pages added so far.
    pub fn pages(&self) -> usize {
        self.page_ids.len()
    }

    /// Adds `bytes`, a PNG or JPEG file, as the next page. On error the document is unchanged.
    pub fn add_image(&mut self, bytes: Vec<u8>) -> Result<PageInfo, Error> {
        let limits = self.options.limits;
        Error::check_limit(
            Limit::Pages,
            self.page_ids.len() as u64 + 1,
            limits.max_pages,
        )?;
        Error::check_limit(
            Limit::InputBytes,
            bytes.len() as u64,
            limits.max_input_bytes,
        )?;
        let format = sniff(&bytes)?;
        let image = match format {
            Format::Png => png::read(bytes, &limits)?,
            Format::Jpeg => jpeg::read(bytes, &limits)?,
        };
        let pass_through = image.pass_through;
        let (width, height) = (image.xobject.width, image.xobject.height);
        let page_size = self.write_page(image);
        Ok(PageInfo {
            format,
            width,
            height,
            pass_through,
            page_size,
        })
    }

    /// Writes the finished PDF to `out`.
    pub fn finish(mut self, mut out: impl Write) -> Result<(), Error> {
        self.pdf.catalog(self.catalog_id).pages(self.pages_id);
        let count = self.page_ids.len() as i32;
        self.pdf
            .pages(self.pages_id)
            .kids(self.page_ids.iter().copied())
            .count(count);
        let info_id = self.next_id.bump();
        let metadata = &self.options.metadata;
        let mut info = self.pdf.document_info(info_id);
        if let Some(title) = &metadata.title {
            info.title(TextStr(title));
        }
        if let Some(author) = &metadata.author {
            info.author(TextStr(author));
        }
        let producer = metadata
            .producer
            .clone()
            .unwrap_or_else(|| format!("pdfmill {}", env!("CARGO_PKG_VERSION")));
        info.producer(TextStr(&producer));
        if let Some(created) = metadata.created {
            info.creation_date(pdf_date(created));
            info.modified_date(pdf_date(created));
        }
        info.finish();
        out.write_all(&self.pdf.finish())?;
        out.flush()?;
        Ok(())
    }

    fn write_page(&mut self, image: PlacedImage) -> (f32, f32) {
        let placement = place(&self.options.layout, &image);
        let image_id = self.write_xobject(&image.xobject);
        let (page_id, content_id) = (self.next_id.bump(), self.next_id.bump());
        let (page_width, page_height) = placement.page;

        let mut content = Content::new();
        content.save_state();
        if let Some([x, y, w, h]) = placement.clip {
            content.rect(x, y, w, h).clip_nonzero().end_path();
        }
        content
            .transform(placement.matrix)
            .x_object(Name(b"Im0"))
            .restore_state();
        self.pdf.stream(content_id, &content.finish());

        let mut page = self.pdf.page(page_id);
        page.parent(self.pages_id)
            .media_box(Rect::new(0.0, 0.0, page_width, page_height))
            .contents(content_id);
        page.resources().x_objects().pair(Name(b"Im0"), image_id);
        page.finish();
        self.page_ids.push(page_id);
        placement.page
    }

    fn write_xobject(&mut self, xobject: &XObject) -> Ref {
        let id = self.next_id.bump();
        let color_space = self.write_color_space_resources(&xobject.color_space);
        let mask = match &xobject.mask {
            Mask::Soft(soft) => Some(self.write_xobject(soft)),
            _ => None,
        };
        // Room for the data and what usually follows it, so that the buffer does not double
        // (and, for a large image, hold twice the image) for the few objects after it.
        self.pdf.reserve(xobject.data.len() + 64 * 1024);
        let mut image = self.pdf.image_xobject(id, &xobject.data);
        image
            .width(xobject.width as i32)
            .height(xobject.height as i32);
        image.bits_per_component(i32::from(xobject.bits_per_component));
        match xobject.encoding {
            Encoding::Dct => {
                image.filter(Filter::DctDecode);
            }
            Encoding::FlatePng => {
                image.filter(Filter::FlateDecode);
                image
                    .decode_parms()
                    .predictor(pdf_writer::types::Predictor::PngOptimum)
                    .colors(i32::from(xobject.color_space.components()))
                    .bits_per_component(i32::from(xobject.bits_per_component))
                    .columns(xobject.width as i32);
            }
        }
        let space = image.insert(Name(b"ColorSpace"));
        match (&xobject.color_space, color_space) {
            (ColorSpace::Gray, _) => space.primitive(Name(b"DeviceGray")),
            (ColorSpace::Rgb, _) => space.primitive(Name(b"DeviceRGB")),
            (ColorSpace::Cmyk, _) => space.primitive(Name(b"DeviceCMYK")),
            (ColorSpace::Icc { .. }, Some(profile)) => {
                space.array().item(Name(b"ICCBased")).item(profile);
            }
            (ColorSpace::Indexed { base, palette }, profile) => {
                let mut array = space.array();
                array.item(Name(b"Indexed"));
                match (base.as_ref(), profile) {
                    (_, Some(profile)) => {
                        array.push().array().item(Name(b"ICCBased")).item(profile);
                    }
                    (ColorSpace::Gray, None) => {
                        array.item(Name(b"DeviceGray"));
                    }
                    _ => {
                        array.item(Name(b"DeviceRGB"));
                    }
                }
                array.item(palette.len() as i32 / 3 - 1).item(Str(palette));
            }
            (ColorSpace::Icc { .. }, None) => unreachable!("ICC profiles are written first"),
        }
        if let Some(decode) = &xobject.decode {
            image.decode(decode.iter().copied());
        }
        match (&xobject.mask, mask) {
            (Mask::ColorKey(key), _) => {
                image.color_mask(key.iter().copied());
            }
            (_, Some(mask)) => {
                image.s_mask(mask);
            }
            _ => {}
        }
        image.finish();
        id
    }

    /// Writes the ICC profile stream a colour space needs, if any.
    fn write_color_space_resources(&mut self, space: &ColorSpace) -> Option<Ref> {
        let (components, profile, deflated) = match space {
            ColorSpace::Icc {
                components,
                profile,
                deflated,
            } => (*components, profile, *deflated),
            ColorSpace::Indexed { base, .. } => return self.write_color_space_resources(base),
            _ => return None,
        };
        let id = self.next_id.bump();
        let mut stream = self.pdf.icc_profile(id, profile);
        stream.n(i32::from(components));
        stream.alternate_name(Name(match components {
            1 => b"DeviceGray".as_slice(),
            4 => b"DeviceCMYK",
            _ => b"DeviceRGB",
        }));
        if deflated {
            stream.filter(Filter::FlateDecode);
        }
        stream.finish();
        Some(id)
    }
}

/// Decides the format from the first bytes, whatever the file is called.
fn sniff(bytes: &[u8]) -> Result<Format, Error> {
    if bytes.starts_with(&png::SIGNATURE) {
        return Ok(Format::Png);
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return Ok(Format::Jpeg);
    }
    // A PNG whose signature was damaged in transit still has its IHDR right behind it.
    let head = &bytes[..bytes.len().min(32)];
    if head.get(1..4) == Some(b"PNG") || head.windows(4).any(|w| w == b"IHDR") {
        return Err(Error::png(
            "the 8-byte PNG signature is damaged (a transfer in text mode alters it)",
        ));
    }
    Err(Error::Unsupported(
        "the input is neither a PNG nor a JPEG image".into(),
    ))
}

fn pdf_date(t: Timestamp) -> pdf_writer::Date {
    pdf_writer::Date::new(t.year)
        .month(t.month)
        .day(t.day)
        .hour(t.hour)
        .minute(t.minute)
        .second(t.second)
        .utc_offset_hour(0)
        .utc_offset_minute(0)
}

/// Where an image lands on its page.
struct Placement {
    page: (f32, f32),
    /// Maps the image's unit square onto the page (ISO 32000-1, 8.3.3 and 8.9.4).
    matrix: [f32; 6],
    /// `[x y w h]` to clip to, when the image may spill over the margins.
    clip: Option<[f32; 4]>,
}

fn place(layout: &Layout, image: &PlacedImage) -> Placement {
    let (dpi_x, dpi_y) = layout
        .dpi
        .map(|d| (d, d))
        .or(image.density)
        .unwrap_or((72.0, 72.0));
    let stored = (
        image.xobject.width as f32 * crate::POINTS_PER_INCH / dpi_x,
        image.xobject.height as f32 * crate::POINTS_PER_INCH / dpi_y,
    );
    // Orientations 5–8 turn the image a quarter, so the shown width is the stored height.
    let quarter_turn = image.orientation >= 5;
    let (width, height) = if quarter_turn {
        (stored.1, stored.0)
    } else {
        stored
    };
    let margin = layout.margin;

    let (page, x, y, w, h, clip) = match layout.page_size {
        PageSize::Image => (
            (width + 2.0 * margin, height + 2.0 * margin),
            margin,
            margin,
            width,
            height,
            None,
        ),
        PageSize::Fixed {
            width: pw,
            height: ph,
        } => {
            let (pw, ph) = if (width > height) != (pw > ph) {
                (ph, pw)
            } else {
                (pw, ph)
            };
            let (area_w, area_h) = ((pw - 2.0 * margin).max(1.0), (ph - 2.0 * margin).max(1.0));
            let scale = match layout.fit {
                Fit::Contain => (area_w / width).min(area_h / height),
                Fit::Cover => (area_w / width).max(area_h / height),
                Fit::None => 1.0,
            };
            let (w, h) = (width * scale, height * scale);
            let clip = (w > area_w + 0.01 || h > area_h + 0.01)
                .then_some([margin, margin, area_w, area_h]);
            (
                (pw, ph),
                margin + (area_w - w) / 2.0,
                margin + (area_h - h) / 2.0,
                w,
                h,
                clip,
            )
        }
    };
    let matrix = match image.orientation {
        2 => [-w, 0.0, 0.0, h, x + w, y],
        3 => [-w, 0.0, 0.0, -h, x + w, y + h],
        4 => [w, 0.0, 0.0, -h, x, y + h],
        5 => [0.0, -h, -w, 0.0, x + w, y + h],
        6 => [0.0, -h, w, 0.0, x, y + h],
        7 => [0.0, h, w, 0.0, x, y],
        8 => [0.0, h, -w, 0.0, x + w, y],
        _ => [w, 0.0, 0.0, h, x, y],
    };
    Placement { page, matrix, clip }
}
