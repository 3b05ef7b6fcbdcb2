//! JPEG to an image XObject without touching the compressed data.
//!
//! PDF's `/DCTDecode` reads a JPEG file as it is (ISO 32000-1, 7.4.8), so the file's bytes go
//! into the PDF unchanged; only the markers are read, for the size, the components, the
//! resolution, the orientation and the colour profile:
//!
//! - SOF0–SOF2 (baseline, extended, progressive Huffman) are what PDF readers decode; lossless,
//!   hierarchical and arithmetic-coded JPEGs are refused as unsupported.
//! - Adobe's `APP14` marks CMYK data stored inverted (as Photoshop writes it); such images get
//!   `/Decode [1 0 1 0 1 0 1 0]` instead of a re-encode.
//! - EXIF orientation is applied by the page's transformation matrix, never to the pixels.
//! - An `ICC_PROFILE` in `APP2` (possibly split over several markers) becomes `/ICCBased`.

use crate::{
    Error, Limit, Limits,
    xobject::{ColorSpace, Encoding, Mask, PlacedImage, XObject},
};

/// What the marker segments before the first scan say.
#[derive(Default)]
struct Markers {
    frame: Option<(u32, u32, u8)>,
    jfif_density: Option<(f32, f32)>,
    exif: Option<(u8, Option<(f32, f32)>)>,
    adobe: bool,
    icc: Vec<(u8, Vec<u8>)>,
}

/// Converts one JPEG file; the bytes become the XObject's data unchanged.
pub(crate) fn read(bytes: Vec<u8>, limits: &Limits) -> Result<PlacedImage, Error> {
    let markers = scan(&bytes)?;
    if !bytes.ends_with(&[0xff, 0xd9]) {
        return Err(Error::jpeg(
            "the file does not end with an EOI marker (is it truncated?)",
        ));
    }
    let (width, height, components) = markers
        .frame
        .ok_or_else(|| Error::jpeg("the file has no frame header before its scan"))?;
    Error::check_limit(
        Limit::Pixels,
        u64::from(width) * u64::from(height),
        limits.max_pixels,
    )?;

    let device = match components {
        1 => ColorSpace::Gray,
        3 => ColorSpace::Rgb,
        4 => ColorSpace::Cmyk,
        n => {
            return Err(Error::Unsupported(format!(
                "a JPEG with {n} colour components"
            )));
        }
    };
    let color_space = match icc_profile(markers.icc) {
        Some(profile) => ColorSpace::Icc {
            components,
            profile,
            deflated: false,
        },
        None => device,
    };
    let decode = (components == 4 && markers.adobe).then(|| [1.0, 0.0].repeat(4));
    let (orientation, exif_density) = markers.exif.unwrap_or((1, None));
    Ok(PlacedImage {
        xobject: XObject {
            width,
            height,
            color_space,
            bits_per_component: 8,
            encoding: Encoding::Dct,
            data: bytes,
            decode,
            mask: Mask::None,
        },
        density: markers.jfif_density.or(exif_density),
        orientation,
        pass_through: true,
    })
}

/// Walks the marker segments up to the first SOS (ITU-T T.81, B.1.1).
fn scan(bytes: &[u8]) -> Result<Markers, Error> {
    if !bytes.starts_with(&[0xff, 0xd8]) {
        return Err(Error::jpeg("the file does not start with an SOI marker"));
    }
    let mut markers = Markers::default();
    let mut at = 2;
    loop {
        let Some(&[0xff, marker]) = bytes.get(at..at + 2) else {
            return Err(Error::jpeg(format!("expected a marker at byte {at}")));
        };
        at += 2;
        match marker {
            0xff => at -= 1, // fill byte
            0x01 | 0xd0..=0xd7 => {}
            0xd9 => return Err(Error::jpeg("the file ends before any scan")),
            0xda => return Ok(markers),
            _ => {
                let length = bytes
                    .get(at..at + 2)
                    .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
                    .filter(|&l| l >= 2 && at + l <= bytes.len())
                    .ok_or_else(|| {
                        Error::jpeg(format!("the segment of marker {marker:#04x} is cut short"))
                    })?;
                segment(&mut markers, marker, &bytes[at + 2..at + length])?;
                at += length;
            }
        }
    }
}

fn segment(markers: &mut Markers, marker: u8, data: &[u8]) -> Result<(), Error> {
    match marker {
        0xc0..=0xc2 => {
            let [precision, h0, h1, w0, w1, components, ..] = *data else {
                return Err(Error::jpeg("the frame header is too short"));
            };
            let (height, width) = (u16::from_be_bytes([h0, h1]), u16::from_be_bytes([w0, w1]));
            if precision != 8 {
                return Err(Error::Unsupported(format!(
                    "a {precision}-bit JPEG (PDF readers decode 8-bit)"
                )));
            }
            if width == 0 || height == 0 {
                return Err(Error::Unsupported(
                    "a JPEG whose height is given after the scan (DNL)".into(),
                ));
            }
            markers.frame = Some((u32::from(width), u32::from(height), components));
        }
        0xc3 | 0xc5..=0xc7 | 0xc9..=0xcb | 0xcd..=0xcf => {
            return Err(Error::Unsupported(
                "a lossless, hierarchical or arithmetic-coded JPEG (PDF readers decode baseline and progressive)".into(),
            ));
        }
        0xe0 if data.starts_with(b"JFIF\0") && data.len() >= 12 => {
            let x = f32::from(u16::from_be_bytes([data[8], data[9]]));
            let y = f32::from(u16::from_be_bytes([data[10], data[11]]));
            markers.jfif_density = match data[7] {
                1 if x > 0.0 && y > 0.0 => Some((x, y)),
                2 if x > 0.0 && y > 0.0 => Some((x * 2.54, y * 2.54)),
                _ => None,
            };
        }
        0xe1 if data.starts_with(b"Exif\0\0") && markers.exif.is_none() => {
            markers.exif = Some(exif(&data[6..]));
        }
        0xe2 if data.starts_with(b"ICC_PROFILE\0") && data.len() > 14 => {
            markers.icc.push((data[12], data[14..].to_vec()));
        }
        0xee if data.starts_with(b"Adobe") => markers.adobe = true,
        _ => {}
    }
    Ok(())
}

/// Orientation (1–8) and resolution from the EXIF IFD0. Broken EXIF is ignored: it is metadata
/// beside the image, and cameras write plenty of it.
fn exif(tiff: &[u8]) -> (u8, Option<(f32, f32)>) {
    use exif::{In, Tag, Value};
    let Ok(exif) = exif::Reader::new().read_raw(tiff.to_vec()) else {
        return (1, None);
    };
    let orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1) as u8;
    let rational = |tag| match exif.get_field(tag, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Rational(r)) if !r.is_empty() && r[0].denom != 0 && r[0].num != 0 => {
            Some(r[0].to_f32())
        }
        _ => None,
    };
    let per_inch = match exif
        .get_field(Tag::ResolutionUnit, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
    {
        Some(3) => 2.54,
        _ => 1.0,
    };
    let density = rational(Tag::XResolution)
        .zip(rational(Tag::YResolution))
        .map(|(x, y)| (x * per_inch, y * per_inch));
    (orientation, density)
}

/// Joins `ICC_PROFILE` chunks in their sequence order (ICC.1, B.4).
fn icc_profile(mut chunks: Vec<(u8, Vec<u8>)>) -> Option<Vec<u8>> {
    if chunks.is_empty() {
        return None;
    }
    chunks.sort_by_key(|(sequence, _)| *sequence);
    Some(chunks.into_iter().flat_map(|(_, data)| data).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_without_a_frame_are_refused() {
        let err = read(
            vec![0xff, 0xd8, 0xff, 0xda, 0, 2, 0xff, 0xd9],
            &Limits::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no frame header"), "{err}");
    }

    #[test]
    fn truncated_segments_are_refused() {
        let err = read(vec![0xff, 0xd8, 0xff, 0xe0, 0x40, 0x00], &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("cut short"), "{err}");
    }
}
