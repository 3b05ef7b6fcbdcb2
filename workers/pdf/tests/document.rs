//! Page geometry, metadata, limits and multi-page documents.

mod support;

use pdfmill_pdf::{
    Document, ErrorKind, Fit, Layout, Limit, Limits, Metadata, Options, PageSize, Timestamp,
};
use support::stored_image;

fn suite(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/pngsuite/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn page_of(layout: Layout, png: &str) -> (f32, f32) {
    let mut pdf = Vec::new();
    pdfmill_pdf::convert(
        [suite(png)],
        &Options {
            layout,
            ..Options::default()
        },
        &mut pdf,
    )
    .unwrap();
    stored_image(&pdf, 1).2
}

fn content(pdf: &[u8], page: u32) -> String {
    let document = lopdf::Document::load_mem(pdf).unwrap();
    String::from_utf8(document.get_page_content(document.get_pages()[&page])).unwrap()
}

#[test]
fn the_default_page_is_the_image_at_its_resolution() {
    // 32×32 pixels at 72 dpi; cdun2c08 has pHYs of 1000 pixels per metre (25.4 dpi).
    assert_eq!(page_of(Layout::default(), "basn2c08.png"), (32.0, 32.0));
    let (w, h) = page_of(Layout::default(), "cdun2c08.png");
    assert!(
        (w - 90.7).abs() < 0.1 && (h - 90.7).abs() < 0.1,
        "{w} × {h}"
    );
    // --dpi overrides the file; margins go around the image.
    let (w, h) = page_of(
        Layout {
            dpi: Some(144.0),
            margin: 10.0,
            ..Layout::default()
        },
        "cdun2c08.png",
    );
    assert_eq!((w, h), (36.0, 36.0));
}

#[test]
fn fixed_pages_contain_or_cover_the_image_inside_the_margins() {
    let a4 = Layout {
        page_size: PageSize::A4,
        margin: 20.0,
        ..Layout::default()
    };
    let mut pdf = Vec::new();
    let options = Options {
        layout: a4.clone(),
        ..Options::default()
    };
    pdfmill_pdf::convert([suite("basn2c08.png")], &options, &mut pdf).unwrap();
    let (width, height) = stored_image(&pdf, 1).2;
    assert!((width - 595.28).abs() < 0.01 && (height - 841.89).abs() < 0.01);
    // Contain: a square image scaled to the area's width (555.28), centred vertically.
    let drawn = content(&pdf, 1);
    assert!(
        drawn.contains("555.2756 0 0 555.2756 20 143.307"),
        "{drawn}"
    );
    assert!(!drawn.contains(" re"), "contain needs no clip: {drawn}");

    let cover = Options {
        layout: Layout {
            fit: Fit::Cover,
            ..a4
        },
        ..Options::default()
    };
    let mut pdf = Vec::new();
    pdfmill_pdf::convert([suite("basn2c08.png")], &cover, &mut pdf).unwrap();
    let drawn = content(&pdf, 1);
    assert!(
        drawn.contains("801.8898 0 0 801.8898"),
        "cover scales to the area's height: {drawn}"
    );
    assert!(
        drawn.contains("20 20 555.2756 801.8898 re"),
        "cover clips to the area: {drawn}"
    );
}

#[test]
fn landscape_images_turn_fixed_pages_to_landscape() {
    // cdhn2c08 is 32×8 pixels; at a fixed resolution it is wide, so Letter turns landscape.
    let letter = |dpi| Layout {
        page_size: PageSize::LETTER,
        dpi,
        ..Layout::default()
    };
    assert_eq!(page_of(letter(Some(72.0)), "cdhn2c08.png"), (792.0, 612.0));
    assert_eq!(page_of(letter(Some(72.0)), "cdfn2c08.png"), (612.0, 792.0));
}

#[test]
fn pixel_aspect_ratio_from_phys_is_honoured() {
    // 8×32, 32×8 and 8×8 pixels whose pHYs aspect ratios make each one show as a square.
    for name in ["cdfn2c08.png", "cdhn2c08.png", "cdsn2c08.png"] {
        let (w, h) = page_of(Layout::default(), name);
        assert!(
            (w - h).abs() < 0.01,
            "{name} must show square, is {w} × {h}"
        );
    }
}

#[test]
fn pages_follow_input_order_and_metadata_is_written() {
    let created = Timestamp {
        year: 2026,
        month: 11,
        day: 25,
        hour: 9,
        minute: 3,
        second: 0,
    };
    let options = Options {
        metadata: Metadata {
            title: Some("Receipts".into()),
            created: Some(created),
            ..Metadata::default()
        },
        ..Options::default()
    };
    let mut document = Document::new(options);
    for name in ["basn0g01.png", "basn6a16.png", "basi3p08.png"] {
        document.add_image(suite(name)).unwrap();
    }
    // A bad page is refused and leaves the document as it was.
    assert!(document.add_image(suite("xcsn0g01.png")).is_err());
    assert_eq!(document.pages(), 3);
    let mut pdf = Vec::new();
    document.finish(&mut pdf).unwrap();
    let parsed = lopdf::Document::load_mem(&pdf).unwrap();
    assert_eq!(parsed.get_pages().len(), 3);
    assert_eq!(
        stored_image(&pdf, 2)
            .0
            .get(b"BitsPerComponent")
            .unwrap()
            .as_i64()
            .unwrap(),
        16
    );
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/Title (Receipts)"), "title missing");
    assert!(
        text.contains("/CreationDate (D:20261125090300Z"),
        "date missing"
    );
    assert!(text.contains("/Producer (pdfmill "), "producer missing");
}

#[test]
fn limits_refuse_large_inputs_before_decoding() {
    let tight = |limits: Limits| Options {
        limits,
        ..Options::default()
    };
    let error = pdfmill_pdf::convert(
        [suite("basn2c08.png")],
        &tight(Limits {
            max_pixels: 1000,
            ..Limits::default()
        }),
        Vec::new(),
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            pdfmill_pdf::Error::TooLarge {
                limit: Limit::Pixels,
                actual: 1024,
                max: 1000
            }
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "the input is too large: 1024 pixels where at most 1000 are allowed"
    );

    let error = pdfmill_pdf::convert(
        [suite("basn2c08.png")],
        &tight(Limits {
            max_input_bytes: 100,
            ..Limits::default()
        }),
        Vec::new(),
    )
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TooLarge);

    let two = [suite("basn2c08.png"), suite("basn2c08.png")];
    let error = pdfmill_pdf::convert(
        two,
        &tight(Limits {
            max_pages: 1,
            ..Limits::default()
        }),
        Vec::new(),
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            pdfmill_pdf::Error::TooLarge {
                limit: Limit::Pages,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn other_formats_are_unsupported_not_corrupt() {
    for bytes in [b"GIF89a....".to_vec(), b"%PDF-1.7".to_vec(), Vec::new()] {
        let error = pdfmill_pdf::convert([bytes], &Options::default(), Vec::new()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unsupported, "{error}");
    }
}
