//! Every image of PngSuite: the valid ones convert losslessly, the corrupt ones are refused.

mod support;

use std::path::{Path, PathBuf};

use pdfmill_pdf::{ErrorKind, Layout, Options};
use support::{Rgba16, extract, qpdf_check, reference, render, require};

fn suite() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pngsuite");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("PngSuite is expected at {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "png"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        175,
        "PngSuite has 161 valid and 14 corrupt files"
    );
    files
}

fn is_corrupt(path: &Path) -> bool {
    path.file_name().unwrap().to_string_lossy().starts_with('x')
}

/// Page = image at 72 dpi whatever pHYs says, so a 72 dpi render maps pixel to pixel.
fn one_pixel_per_point() -> Options {
    Options {
        layout: Layout {
            dpi: Some(72.0),
            ..Layout::default()
        },
        ..Options::default()
    }
}

fn convert(png: Vec<u8>) -> Result<Vec<u8>, pdfmill_pdf::Error> {
    let mut pdf = Vec::new();
    pdfmill_pdf::convert([png], &one_pixel_per_point(), &mut pdf)?;
    Ok(pdf)
}

#[test]
fn valid_files_convert_to_identical_samples() {
    let mut failures = Vec::new();
    for path in suite().into_iter().filter(|p| !is_corrupt(p)) {
        let png = std::fs::read(&path).unwrap();
        let expected = reference(&png);
        match convert(png) {
            Err(e) => failures.push(format!("{}: refused: {e}", path.display())),
            Ok(pdf) => {
                if let Some(difference) = expected.first_difference(&extract(&pdf, 1)) {
                    failures.push(format!("{}: {difference}", path.display()));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 161 files are not lossless:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn valid_files_pass_qpdf_and_render_as_decoded() {
    require("qpdf");
    require("mutool");
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for path in suite().into_iter().filter(|p| !is_corrupt(p)) {
        let png = std::fs::read(&path).unwrap();
        let expected = reference(&png);
        let pdf_path = dir
            .path()
            .join(path.file_name().unwrap())
            .with_extension("pdf");
        std::fs::write(&pdf_path, convert(png).unwrap()).unwrap();
        qpdf_check(&pdf_path);
        if let Some(difference) = compare_render(&expected, render(&pdf_path)) {
            failures.push(format!("{}: {difference}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 161 files render differently:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The renderer works in 8 bits (taking a 16-bit sample's high byte) and composites with
/// premultiplied alpha, so: colour must match exactly where a pixel is opaque; a partly
/// transparent pixel may have its alpha off by one and its colour by 255 / alpha (the
/// premultiply round trip); fully transparent pixels have no colour to compare.
fn compare_render(
    expected: &Rgba16,
    (width, height, found): (usize, usize, Vec<[u8; 4]>),
) -> Option<String> {
    if (width, height) != (expected.width, expected.height) {
        return Some(format!(
            "rendered {width}×{height}, expected {}×{}",
            expected.width, expected.height
        ));
    }
    let to8 = |v: u16| (v >> 8) as u8;
    for (i, (e, f)) in expected.pixels.iter().zip(&found).enumerate() {
        let e8 = e.map(to8);
        let (alpha_tolerance, tolerance) = match e8[3] {
            0 => (0, 255),
            255 => (0, 0),
            a => (1, 255 / i32::from(a) + 1),
        };
        let alpha_off = (i32::from(e8[3]) - i32::from(f[3])).abs() > alpha_tolerance;
        let color_off = (0..3).any(|c| (i32::from(e8[c]) - i32::from(f[c])).abs() > tolerance);
        if alpha_off || color_off {
            return Some(format!(
                "pixel ({}, {}): expected {e8:?}, rendered {f:?}",
                i % width,
                i / width
            ));
        }
    }
    None
}

#[test]
fn corrupt_files_are_refused_as_corrupt() {
    for path in suite().into_iter().filter(|p| is_corrupt(p)) {
        let error = convert(std::fs::read(&path).unwrap())
            .expect_err(&format!("{} must be refused", path.display()));
        assert_eq!(
            error.kind(),
            ErrorKind::Corrupt,
            "{}: {error}",
            path.display()
        );
        assert!(
            error.to_string().starts_with("the PNG image is corrupt: "),
            "{error}"
        );
    }
}
