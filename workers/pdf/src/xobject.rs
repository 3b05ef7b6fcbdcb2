//! The decoders' common output: one image XObject (ISO 32000-1, 8.9.5) ready to be written,
//! with its samples still compressed the way the PDF will carry them.

/// Colour space of an image XObject (ISO 32000-1, 8.6).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ColorSpace {
    /// `/DeviceGray`
    Gray,
    /// `/DeviceRGB`
    Rgb,
    /// `/DeviceCMYK`
    Cmyk,
    /// `/ICCBased` with `components` colour components; the profile is zlib-compressed when
    /// `deflated` (as PNG's `iCCP` carries it), raw otherwise (as JPEG's `APP2` carries it).
    Icc {
        components: u8,
        profile: Vec<u8>,
        deflated: bool,
    },
    /// `/Indexed` over `base` with `palette.len() / 3` entries (ISO 32000-1, 8.6.6.3).
    Indexed {
        base: Box<ColorSpace>,
        palette: Vec<u8>,
    },
}

impl ColorSpace {
    /// Colour components per sample value (an index counts as one).
    pub(crate) fn components(&self) -> u8 {
        match self {
            ColorSpace::Gray | ColorSpace::Indexed { .. } => 1,
            ColorSpace::Rgb => 3,
            ColorSpace::Cmyk => 4,
            ColorSpace::Icc { components, .. } => *components,
        }
    }
}

/// How the sample bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// `/FlateDecode` of PNG-filtered rows: `/DecodeParms << /Predictor 15 … >>` (7.4.4.4).
    FlatePng,
    /// `/DCTDecode`: a whole JPEG file (7.4.8).
    Dct,
}

/// Transparency of an image (ISO 32000-1, 11.6.5).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mask {
    /// Opaque.
    None,
    /// `/Mask [min max …]`: samples inside every range are transparent (8.9.6.4).
    ColorKey(Vec<i32>),
    /// `/SMask`: a grey image of the same size giving each pixel's alpha (11.6.5.3).
    Soft(Box<XObject>),
}

/// An image XObject with everything needed to write it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct XObject {
    pub width: u32,
    pub height: u32,
    pub color_space: ColorSpace,
    pub bits_per_component: u8,
    pub encoding: Encoding,
    pub data: Vec<u8>,
    /// `/Decode`, for Adobe's inverted CMYK JPEGs.
    pub decode: Option<Vec<f32>>,
    pub mask: Mask,
}

/// An image ready for a page: its XObject plus how the file says to show it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlacedImage {
    pub xobject: XObject,
    /// Pixels per inch, horizontal and vertical, when the file says.
    pub density: Option<(f32, f32)>,
    /// EXIF orientation, 1–8 (1 = as stored).
    pub orientation: u8,
    /// Whether the file's compressed data was copied unchanged (no decode, no re-encode).
    pub pass_through: bool,
}
