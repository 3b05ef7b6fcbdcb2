//! JPEG goes into the PDF byte for byte, with orientation, density and CMYK handled around it.

mod support;

use jpeg_encoder::{ColorType, Encoder, PixelDensity, PixelDensityUnit};
use pdfmill_pdf::{ErrorKind, Options};
use support::{qpdf_check, render, require, stored_image};

struct Jpeg {
    width: u16,
    height: u16,
    color: ColorType,
    progressive: bool,
    density: Option<u16>,
    exif_orientation: Option<u16>,
}

impl Jpeg {
    fn new(width: u16, height: u16, color: ColorType) -> Self {
        Jpeg {
            width,
            height,
            color,
            progressive: false,
            density: None,
            exif_orientation: None,
        }
    }

    /// Encodes an image whose left half is `left` and right half `right` (one value per
    /// component).
    fn encode(&self, left: &[u8], right: &[u8]) -> Vec<u8> {
        let mut data = Vec::new();
        for _ in 0..self.height {
            for x in 0..self.width {
                data.extend_from_slice(if x < self.width / 2 { left } else { right });
            }
        }
        let mut out = Vec::new();
        let mut encoder = Encoder::new(&mut out, 95);
        encoder.set_progressive(self.progressive);
        if let Some(dpi) = self.density {
            encoder.set_density(PixelDensity {
                density: (dpi, dpi),
                unit: PixelDensityUnit::Inches,
            });
        }
        if let Some(orientation) = self.exif_orientation {
            // A little-endian TIFF header and one IFD entry: Orientation (0x0112), SHORT, 1.
            let mut tiff = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
            tiff.extend_from_slice(&orientation.to_le_bytes());
            tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            encoder.add_exif_metadata(&tiff).unwrap();
        }
        encoder
            .encode(&data, self.width, self.height, self.color)
            .unwrap();
        out
    }
}

fn convert(jpeg: &[u8]) -> Vec<u8> {
    let mut pdf = Vec::new();
    pdfmill_pdf::convert([jpeg.to_vec()], &Options::default(), &mut pdf).unwrap();
    pdf
}

fn name(dict: &lopdf::Dictionary, key: &[u8]) -> String {
    String::from_utf8_lossy(dict.get(key).unwrap().as_name().unwrap()).into_owned()
}

#[test]
fn every_jpeg_kind_is_embedded_byte_for_byte() {
    require("qpdf");
    let dir = tempfile::tempdir().unwrap();
    let kinds = [
        (ColorType::Luma, "DeviceGray", vec![90], vec![200]),
        (
            ColorType::Rgb,
            "DeviceRGB",
            vec![200, 30, 30],
            vec![30, 30, 200],
        ),
        (
            ColorType::Cmyk,
            "DeviceCMYK",
            vec![0, 200, 200, 0],
            vec![200, 200, 0, 0],
        ),
    ];
    for (color, space, left, right) in kinds {
        for progressive in [false, true] {
            let jpeg = Jpeg {
                progressive,
                ..Jpeg::new(64, 48, color)
            }
            .encode(&left, &right);
            let pdf = convert(&jpeg);
            let (dict, data, page) = stored_image(&pdf, 1);
            assert_eq!(
                data, jpeg,
                "{space}, progressive {progressive}: the stream must be the file"
            );
            assert_eq!(name(&dict, b"Filter"), "DCTDecode");
            assert_eq!(name(&dict, b"ColorSpace"), space);
            assert_eq!(page, (64.0, 48.0));
            let path = dir.path().join(format!("{space}-{progressive}.pdf"));
            std::fs::write(&path, &pdf).unwrap();
            qpdf_check(&path);
        }
    }
}

#[test]
fn adobe_cmyk_is_inverted_by_the_decode_array() {
    require("mutool");
    // jpeg-encoder writes CMYK the Adobe way (inverted, with an APP14 marker). No ink is white.
    let jpeg = Jpeg::new(16, 16, ColorType::Cmyk).encode(&[0, 0, 0, 0], &[0, 0, 0, 0]);
    let pdf = convert(&jpeg);
    let (dict, _, _) = stored_image(&pdf, 1);
    let decode: Vec<f32> = dict
        .get(b"Decode")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_float().unwrap())
        .collect();
    assert_eq!(decode, [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cmyk.pdf");
    std::fs::write(&path, pdf).unwrap();
    let (_, _, pixels) = render(&path);
    assert!(
        pixels.iter().all(|p| p[..3].iter().all(|&c| c > 240)),
        "no ink must render white, got {:?}",
        pixels[0]
    );
}

#[test]
fn exif_orientation_turns_the_page_not_the_pixels() {
    require("mutool");
    // Stored: 40×20, left half red, right half blue. Orientation 6 shows it turned a quarter
    // clockwise: a 20×40 page, red on top, blue below.
    let jpeg = Jpeg {
        exif_orientation: Some(6),
        ..Jpeg::new(40, 20, ColorType::Rgb)
    }
    .encode(&[255, 0, 0], &[0, 0, 255]);
    let pdf = convert(&jpeg);
    let (_, data, page) = stored_image(&pdf, 1);
    assert_eq!(data, jpeg);
    assert_eq!(page, (20.0, 40.0));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("turned.pdf");
    std::fs::write(&path, pdf).unwrap();
    let (width, height, pixels) = render(&path);
    assert_eq!((width, height), (20, 40));
    let (top, bottom) = (pixels[5 * width + 10], pixels[35 * width + 10]);
    assert!(top[0] > 200 && top[2] < 60, "top must be red, is {top:?}");
    assert!(
        bottom[2] > 200 && bottom[0] < 60,
        "bottom must be blue, is {bottom:?}"
    );
}

#[test]
fn jfif_density_sets_the_page_size() {
    let jpeg = Jpeg {
        density: Some(300),
        ..Jpeg::new(600, 300, ColorType::Rgb)
    }
    .encode(&[1, 2, 3], &[4, 5, 6]);
    let (_, _, (width, height)) = stored_image(&convert(&jpeg), 1);
    assert!(
        (width - 144.0).abs() < 0.01 && (height - 72.0).abs() < 0.01,
        "2 × 1 inch, got {width} × {height}"
    );
}

#[test]
fn truncated_jpeg_is_refused_as_corrupt() {
    let jpeg = Jpeg::new(32, 32, ColorType::Rgb).encode(&[9, 9, 9], &[9, 9, 9]);
    for (cut, reason) in [(jpeg.len() - 10, "truncated"), (100, "cut short")] {
        let error = pdfmill_pdf::convert([jpeg[..cut].to_vec()], &Options::default(), Vec::new())
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Corrupt, "{error}");
        assert!(error.to_string().contains(reason), "{error}");
    }
}
