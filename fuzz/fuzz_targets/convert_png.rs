//! The fuzz input as a PNG whose chunk CRCs are made right before converting, so mutations get
//! past the CRC check into chunk validation, decoding and re-encoding. PngSuite files are good
//! seeds for this target as for `convert`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pdfmill_pdf::{Limits, Options};

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Rewrites each chunk's CRC; a length running past the end is cut to what is left.
fn fix_crcs(data: &[u8]) -> Vec<u8> {
    let mut png = SIGNATURE.to_vec();
    let mut rest = data.get(8..).unwrap_or_default();
    while rest.len() >= 8 {
        let length = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let length = length.min(rest.len() - 8);
        let (chunk, next) = rest.split_at(8 + length);
        png.extend((length as u32).to_be_bytes());
        png.extend(&chunk[4..]);
        png.extend(crc32fast::hash(&chunk[4..]).to_be_bytes());
        rest = next.get(4..).unwrap_or_default();
    }
    png
}

fuzz_target!(|data: &[u8]| {
    let options = Options {
        limits: Limits {
            max_pixels: 4_000_000,
            max_input_bytes: 1 << 20,
            max_pages: 4,
        },
        ..Options::default()
    };
    let _ = pdfmill_pdf::convert([fix_crcs(data)], &options, std::io::sink());
});
