//! Arbitrary bytes as one input file: the converter must return `Ok` or `Err`, never panic,
//! hang or allocate past its limits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pdfmill_pdf::{Limits, Options};

fuzz_target!(|data: &[u8]| {
    let options = Options {
        limits: Limits {
            max_pixels: 4_000_000,
            max_input_bytes: 1 << 20,
            max_pages: 4,
        },
        ..Options::default()
    };
    let _ = pdfmill_pdf::convert([data.to_vec()], &options, std::io::sink());
});
