//! From the job's page options (points, parsed by `pdfmill_schemas::domain`) to the
//! converter's: the one translation, used by the worker and by `pdfmill convert`.

use pdfmill_schemas::domain::{self, PageOptions};

/// The converter options for `page`, with the converter's default limits.
pub fn pdf_options(page: &PageOptions) -> pdfmill_pdf::Options {
    let page_size = match page.size.dimensions_pt() {
        None => pdfmill_pdf::PageSize::Image,
        Some((width, height)) => pdfmill_pdf::PageSize::Fixed { width, height },
    };
    let fit = match page.fit {
        domain::Fit::Contain => pdfmill_pdf::Fit::Contain,
        domain::Fit::Cover => pdfmill_pdf::Fit::Cover,
        domain::Fit::None => pdfmill_pdf::Fit::None,
    };
    pdfmill_pdf::Options {
        layout: pdfmill_pdf::Layout {
            page_size,
            fit,
            margin: page.margin_pt,
            dpi: page.dpi.map(|dpi| dpi as f32),
        },
        metadata: pdfmill_pdf::Metadata {
            title: page.title.clone(),
            ..Default::default()
        },
        limits: pdfmill_pdf::Limits::default(),
    }
}
