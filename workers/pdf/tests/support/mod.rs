//! Oracles for the lossless tests, independent of the converter's own code:
//! LodePNG decodes the PNG (the converter uses the `png` crate), `lopdf` parses the PDF and
//! undoes its filters and predictors (the converter writes with `pdf-writer`), and `mutool`
//! renders the page as a viewer would.
#![allow(dead_code)]

use std::{path::Path, process::Command};

use lopdf::{Dictionary, Document, Object};

/// An image as RGBA with every sample scaled to 16 bits (v × 65535 / (2^depth − 1)), so that
/// images of any bit depth compare exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba16 {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<[u16; 4]>,
}

impl Rgba16 {
    /// The first differing pixel, for a readable assertion message.
    pub fn first_difference(&self, other: &Rgba16) -> Option<String> {
        if (self.width, self.height) != (other.width, other.height) {
            return Some(format!(
                "size {}×{} vs {}×{}",
                self.width, self.height, other.width, other.height
            ));
        }
        let (i, (a, b)) = self
            .pixels
            .iter()
            .zip(&other.pixels)
            .enumerate()
            .find(|(_, (a, b))| a != b)?;
        Some(format!(
            "pixel ({}, {}): expected {a:?}, found {b:?}",
            i % self.width,
            i / self.width
        ))
    }
}

fn scale(value: u32, depth: u32) -> u16 {
    (value * 65535 / ((1 << depth) - 1)) as u16
}

/// Decodes a PNG with LodePNG (the lodepng crate) to RGBA: palette expanded, tRNS applied as
/// alpha, low bit depths scaled up. 16-bit files are decoded to 16 bits, the rest to 8 (its
/// conversion of a sub-8-bit grey key straight to 16 bits misses the key).
pub fn reference(png: &[u8]) -> Rgba16 {
    let sixteen_bits = png.get(24) == Some(&16);
    let decoded = lodepng::decode_memory(
        png,
        lodepng::ColorType::RGBA,
        if sixteen_bits { 16 } else { 8 },
    );
    match decoded {
        // LodePNG leaves 16-bit samples in PNG (big-endian) byte order.
        Ok(lodepng::Image::RGBA16(image)) => Rgba16 {
            width: image.width,
            height: image.height,
            pixels: image
                .buffer
                .iter()
                .map(|p| [p.r, p.g, p.b, p.a].map(u16::from_be))
                .collect(),
        },
        Ok(lodepng::Image::RGBA(image)) => Rgba16 {
            width: image.width,
            height: image.height,
            pixels: image
                .buffer
                .iter()
                .map(|p| [p.r, p.g, p.b, p.a].map(|v| u16::from(v) * 257))
                .collect(),
        },
        Ok(_) => panic!("lodepng returned another colour type than asked for"),
        Err(e) => panic!("the reference decoder refuses the PNG: {e}"),
    }
}

/// The image XObject named /Im0 on page `page` (1-based), decoded by lopdf and interpreted
/// following ISO 32000-1 8.9 (samples, colour space, /Mask, /SMask).
pub fn extract(pdf: &[u8], page: u32) -> Rgba16 {
    let document = Document::load_mem(pdf).expect("lopdf parses the PDF");
    let page_id = document.get_pages()[&page];
    let (resources, _) = document.get_page_resources(page_id).unwrap();
    let xobjects = resources.unwrap().get(b"XObject").unwrap();
    let xobjects = document.dereference(xobjects).unwrap().1.as_dict().unwrap();
    let image = stream(&document, xobjects.get(b"Im0").unwrap());
    let (width, height, color) = samples(&document, image);
    let alpha: Vec<u16> = if let Ok(smask) = image.dict.get(b"SMask") {
        let (_, _, alpha) = samples(&document, stream(&document, smask));
        alpha.iter().map(|a| a.0[0]).collect()
    } else if let Ok(Object::Array(key)) = image.dict.get(b"Mask") {
        let ranges: Vec<u32> = key.iter().map(|v| v.as_i64().unwrap() as u32).collect();
        color
            .iter()
            .map(|c| {
                let hit =
                    c.1.iter()
                        .zip(ranges.chunks_exact(2))
                        .all(|(&v, r)| r[0] <= v && v <= r[1]);
                if hit { 0 } else { 65535 }
            })
            .collect()
    } else {
        vec![65535; color.len()]
    };
    let pixels = color
        .iter()
        .zip(alpha)
        .map(|(c, a)| [c.0[0], c.0[1], c.0[2], a])
        .collect();
    Rgba16 {
        width,
        height,
        pixels,
    }
}

fn stream<'a>(document: &'a Document, object: &'a Object) -> &'a lopdf::Stream {
    document
        .dereference(object)
        .unwrap()
        .1
        .as_stream()
        .expect("an image is a stream")
}

/// Per pixel: (RGB scaled to 16 bits, raw component values as stored).
type Sample = ([u16; 3], Vec<u32>);

fn samples(document: &Document, image: &lopdf::Stream) -> (usize, usize, Vec<Sample>) {
    let dict: &Dictionary = &image.dict;
    let int = |key: &[u8]| dict.get(key).unwrap().as_i64().unwrap() as usize;
    let (width, height, depth) = (
        int(b"Width"),
        int(b"Height"),
        int(b"BitsPerComponent") as u32,
    );
    let data = image
        .decompressed_content()
        .expect("lopdf undoes the filters");
    let space = document
        .dereference(dict.get(b"ColorSpace").unwrap())
        .unwrap()
        .1;
    let (components, palette) = match space {
        Object::Name(n) if n == b"DeviceGray" => (1, None),
        Object::Name(n) if n == b"DeviceRGB" => (3, None),
        Object::Array(a) if a[0].as_name().unwrap() == b"ICCBased" => (
            stream(document, &a[1])
                .dict
                .get(b"N")
                .unwrap()
                .as_i64()
                .unwrap() as usize,
            None,
        ),
        Object::Array(a) if a[0].as_name().unwrap() == b"Indexed" => {
            let base = match document.dereference(&a[1]).unwrap().1 {
                Object::Name(n) if n == b"DeviceGray" => 1,
                Object::Array(icc) => stream(document, &icc[1])
                    .dict
                    .get(b"N")
                    .unwrap()
                    .as_i64()
                    .unwrap() as usize,
                _ => 3,
            };
            (1, Some((base, a[3].as_str().unwrap().to_vec())))
        }
        other => panic!("unexpected colour space {other:?}"),
    };
    let row_bytes = (width * components * depth as usize).div_ceil(8);
    assert!(
        data.len() >= row_bytes * height,
        "the stream holds {} bytes, {} needed",
        data.len(),
        row_bytes * height
    );
    let mut out = Vec::with_capacity(width * height);
    for row in data.chunks_exact(row_bytes).take(height) {
        for x in 0..width {
            let raw: Vec<u32> = (0..components)
                .map(|c| read_bits(row, (x * components + c) * depth as usize, depth))
                .collect();
            let rgb = match (&palette, components) {
                (Some((base, lookup)), _) => {
                    let entry = &lookup[raw[0] as usize * base..][..*base];
                    let v = |i: usize| u16::from(entry[i.min(base - 1)]) * 257;
                    [v(0), v(1), v(2)]
                }
                (None, 1) => [scale(raw[0], depth); 3],
                (None, _) => [
                    scale(raw[0], depth),
                    scale(raw[1], depth),
                    scale(raw[2], depth),
                ],
            };
            out.push((rgb, raw));
        }
    }
    (width, height, out)
}

fn read_bits(row: &[u8], bit: usize, depth: u32) -> u32 {
    match depth {
        16 => u32::from(u16::from_be_bytes([row[bit / 8], row[bit / 8 + 1]])),
        8 => u32::from(row[bit / 8]),
        d => u32::from(row[bit / 8] >> (8 - d as usize - bit % 8)) & ((1 << d) - 1),
    }
}

/// Whether an external tool can be run; the lossless tests need them (scripts/test installs
/// them), so a missing tool is a failure, not a skip.
pub fn require(tool: &str) {
    let found = Command::new(tool).arg("--version").output().is_ok()
        || Command::new("which")
            .arg(tool)
            .output()
            .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{tool}` is not installed; run scripts/test, which installs it"
    );
}

/// `qpdf --check` on a PDF file; panics with qpdf's output when it finds a problem.
pub fn qpdf_check(pdf: &Path) {
    let output = Command::new("qpdf")
        .arg("--check")
        .arg(pdf)
        .output()
        .expect("qpdf runs");
    assert!(
        output.status.success(),
        "qpdf --check {} failed:\n{}{}",
        pdf.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Renders page 1 with mupdf at 72 dpi, as 8-bit RGBA (the page is the image at 72 dpi).
pub fn render(pdf: &Path) -> (usize, usize, Vec<[u8; 4]>) {
    let out = pdf.with_extension("render.png");
    let status = Command::new("mutool")
        .args([
            "draw", "-q", "-A", "0", "-r", "72", "-c", "rgba", "-F", "png", "-o",
        ])
        .arg(&out)
        .arg(pdf)
        .arg("1")
        .output()
        .expect("mutool runs");
    assert!(
        status.status.success(),
        "mutool draw failed on {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&status.stderr)
    );
    let image = lodepng::decode32_file(&out).expect("mutool writes a PNG");
    (
        image.width,
        image.height,
        image.buffer.iter().map(|p| [p.r, p.g, p.b, p.a]).collect(),
    )
}

/// The /Im0 XObject of page `page` as stored (dictionary and undecoded bytes), and the page's
/// MediaBox width and height.
pub fn stored_image(pdf: &[u8], page: u32) -> (Dictionary, Vec<u8>, (f32, f32)) {
    let document = Document::load_mem(pdf).expect("lopdf parses the PDF");
    let page_id = document.get_pages()[&page];
    let page_dict = document.get_dictionary(page_id).unwrap();
    let media_box: Vec<f32> = page_dict
        .get(b"MediaBox")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_float().unwrap())
        .collect();
    let (resources, _) = document.get_page_resources(page_id).unwrap();
    let xobjects = resources.unwrap().get(b"XObject").unwrap();
    let xobjects = document.dereference(xobjects).unwrap().1.as_dict().unwrap();
    let image = stream(&document, xobjects.get(b"Im0").unwrap());
    (
        image.dict.clone(),
        image.content.clone(),
        (media_box[2] - media_box[0], media_box[3] - media_box[1]),
    )
}
