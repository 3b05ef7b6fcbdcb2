//! Property: any PNG, of every colour type, bit depth and interlacing, with or without
//! transparency, comes back from the PDF with identical samples.
//!
//! The PNGs are written by LodePNG (not by the `png` crate the converter decodes with), and the
//! PDF is read back by lopdf (not by the `pdf-writer` that wrote it).

mod support;

use lodepng::{ColorType, Encoder, RGBA};
use proptest::prelude::*;
use support::{extract, reference};

#[derive(Debug, Clone)]
struct Png {
    color_type: ColorType,
    depth: u32,
    interlaced: bool,
    width: usize,
    height: usize,
    samples: Vec<u8>,
    palette: Vec<RGBA>,
    key: Option<(u16, u16, u16)>,
}

impl Png {
    fn encode(&self) -> Vec<u8> {
        let mut encoder = Encoder::new();
        encoder.set_auto_convert(false);
        let raw = encoder.info_raw_mut();
        raw.colortype = self.color_type;
        raw.set_bitdepth(self.depth);
        for &entry in &self.palette {
            raw.palette_add(entry).unwrap();
        }
        let png = encoder.info_png_mut();
        png.interlace_method = u8::from(self.interlaced);
        png.color.colortype = self.color_type;
        png.color.set_bitdepth(self.depth);
        for &entry in &self.palette {
            png.color.palette_add(entry).unwrap();
        }
        if let Some((r, g, b)) = self.key {
            png.color.set_key(r, g, b);
        }
        encoder
            .encode(&self.samples, self.width, self.height)
            .expect("LodePNG encodes the image")
    }
}

fn channels(color_type: ColorType) -> usize {
    match color_type {
        ColorType::GREY | ColorType::PALETTE => 1,
        ColorType::GREY_ALPHA => 2,
        ColorType::RGB => 3,
        _ => 4,
    }
}

fn png() -> impl Strategy<Value = Png> {
    let kinds = prop_oneof![
        (
            Just(ColorType::GREY),
            prop_oneof![Just(1u32), Just(2), Just(4), Just(8), Just(16)]
        ),
        (Just(ColorType::RGB), prop_oneof![Just(8u32), Just(16)]),
        (
            Just(ColorType::PALETTE),
            prop_oneof![Just(1u32), Just(2), Just(4), Just(8)]
        ),
        (
            Just(ColorType::GREY_ALPHA),
            prop_oneof![Just(8u32), Just(16)]
        ),
        (Just(ColorType::RGBA), prop_oneof![Just(8u32), Just(16)]),
    ];
    (
        kinds,
        any::<bool>(),
        1..24usize,
        1..24usize,
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |((color_type, depth), interlaced, width, height, transparent, seed)| {
                let mut rng = seed;
                let mut next = move || {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng
                };
                // LodePNG takes raw samples as one bit stream, rows not padded to whole bytes.
                let bytes = (width * height * channels(color_type) * depth as usize).div_ceil(8);
                let mut samples: Vec<u8> = (0..bytes).map(|_| next() as u8).collect();
                let max = (1u32 << depth) - 1;
                let palette: Vec<RGBA> = if color_type == ColorType::PALETTE {
                    let entries = 1 + (next() as usize % (max as usize + 1));
                    // Palette indices must stay below the entry count.
                    for pixel in 0..width * height {
                        let bit = pixel * depth as usize;
                        let shift = 8 - depth as usize - bit % 8;
                        let index = (next() as usize % entries) as u8;
                        samples[bit / 8] =
                            samples[bit / 8] & !((max as u8) << shift) | (index << shift);
                    }
                    (0..entries)
                        .map(|_| {
                            let alpha = if transparent {
                                [0u8, 255, next() as u8][next() as usize % 3]
                            } else {
                                255
                            };
                            RGBA::new(next() as u8, next() as u8, next() as u8, alpha)
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                let key = (transparent && matches!(color_type, ColorType::GREY | ColorType::RGB))
                    .then(|| {
                        // Take the key from the first pixel so that some pixels really are transparent.
                        let first = |c: usize| match depth {
                            16 => u16::from_be_bytes([samples[2 * c], samples[2 * c + 1]]),
                            8 => u16::from(samples[c]),
                            d => u16::from(samples[0] >> (8 - d)),
                        };
                        if color_type == ColorType::GREY {
                            (first(0), first(0), first(0))
                        } else {
                            (first(0), first(1), first(2))
                        }
                    });
                Png {
                    color_type,
                    depth,
                    interlaced,
                    width,
                    height,
                    samples,
                    palette,
                    key,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn any_png_comes_back_with_identical_samples(image in png()) {
        let png = image.encode();
        let expected = reference(&png);
        let mut pdf = Vec::new();
        pdfmill_pdf::convert([png], &pdfmill_pdf::Options::default(), &mut pdf).unwrap();
        let found = extract(&pdf, 1);
        prop_assert!(expected == found, "{}", expected.first_difference(&found).unwrap_or_default());
    }
}

/// Samples that make every filter win some rows: noise, ramps, flat runs and smooth gradients,
/// by bands of rows. `opaque_every` sets every such byte (an alpha sample) to 255.
fn texture(
    width: usize,
    height: usize,
    pixel_bytes: usize,
    opaque_alpha: Option<usize>,
) -> Vec<u8> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let row_bytes = width * pixel_bytes;
    (0..row_bytes * height)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let (y, x) = (i / row_bytes, i % row_bytes);
            if opaque_alpha.is_some_and(|alpha| x % pixel_bytes >= pixel_bytes - alpha) {
                return 0xff;
            }
            match (y / 37) % 4 {
                0 => seed as u8,
                1 => (x + y) as u8,
                2 => 200,
                _ => ((x / pixel_bytes + y) / 3) as u8 ^ (seed >> 62) as u8,
            }
        })
        .collect()
}

/// Images large enough that the converter cuts them into bands compressed on several threads,
/// row by row as they are decoded (alpha) or from the decoded image (Adam7).
#[test]
fn large_images_compressed_in_bands_come_back_identical() {
    let cases = [
        (ColorType::RGBA, 8, false, 900, 600, None),
        (ColorType::RGBA, 16, false, 500, 400, None),
        (ColorType::GREY_ALPHA, 8, false, 1300, 500, None),
        (ColorType::GREY_ALPHA, 16, false, 700, 500, None),
        (ColorType::RGBA, 8, false, 700, 500, Some(1)),
        (ColorType::RGB, 8, true, 800, 600, None),
        (ColorType::RGBA, 16, true, 500, 400, None),
    ];
    for (color_type, depth, interlaced, width, height, opaque_alpha) in cases {
        let pixel_bytes = channels(color_type) * depth as usize / 8;
        let image = Png {
            color_type,
            depth,
            interlaced,
            width,
            height,
            samples: texture(
                width,
                height,
                pixel_bytes,
                opaque_alpha.map(|alpha| alpha * depth as usize / 8),
            ),
            palette: Vec::new(),
            key: None,
        };
        let png = image.encode();
        let expected = reference(&png);
        let mut pdf = Vec::new();
        pdfmill_pdf::convert([png], &pdfmill_pdf::Options::default(), &mut pdf).unwrap();
        let found = extract(&pdf, 1);
        assert!(
            expected == found,
            "{color_type:?} {depth}-bit {width}×{height} interlaced={interlaced}: {}",
            expected.first_difference(&found).unwrap_or_default()
        );
    }
}
