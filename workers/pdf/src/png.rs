//! PNG (ISO/IEC 15948) to an image XObject, copying the compressed data whenever PDF can read it.
//!
//! PDF's `/FlateDecode` filter with `/Predictor 15` is exactly PNG's IDAT encoding (zlib over
//! filtered rows; ISO 32000-1, 7.4.4.4), so a non-interlaced image without an alpha channel goes
//! into the PDF as its concatenated IDAT bytes: no inflate, no deflate, memory near the file
//! size. Everything else is decoded with the `png` crate, and re-filtered and re-compressed into
//! the same kind of stream by the `flate` module (adaptive PNG filters, a deflate encoder with
//! per-block Huffman codes and runs, large planes in parallel bands):
//!
//! | input | colour | transparency |
//! |---|---|---|
//! | grey, RGB, palette; not interlaced | IDAT copied | `tRNS` → colour-key `/Mask` |
//! | palette with partial `tRNS` alpha | IDAT copied | indices decoded → 8-bit `/SMask` |
//! | interlaced (Adam7) | decoded, re-compressed | as above |
//! | grey+alpha, RGBA | decoded, split, re-compressed | alpha → `/SMask` at the same depth |
//!
//! Samples keep their bit depth (1–16) and values. Colour: an `iCCP` profile becomes an
//! `/ICCBased` colour space (its zlib stream copied as is). `sRGB` needs nothing, as viewers
//! take `/DeviceRGB` as sRGB. `gAMA` and `cHRM` are not applied: the samples are stored as the
//! file has them, which is what browsers and most PNG viewers show, and what keeps the
//! conversion lossless.
//!
//! Every chunk's CRC is checked and the chunk order validated before anything is written, so a
//! damaged file is refused, never half-converted.

use std::io::Cursor;

use crate::{
    Error, Limit, Limits, flate,
    xobject::{ColorSpace, Encoding, Mask, PlacedImage, XObject},
};

/// The eight bytes every PNG starts with (ISO/IEC 15948, 5.2).
pub(crate) const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Colour types (ISO/IEC 15948, 11.2.2).
const GREY: u8 = 0;
const RGB: u8 = 2;
const INDEXED: u8 = 3;
const GREY_ALPHA: u8 = 4;
const RGBA: u8 = 6;

/// The IHDR fields that matter here.
#[derive(Debug, Clone, Copy)]
struct Header {
    width: u32,
    height: u32,
    bit_depth: u8,
    color_type: u8,
    interlaced: bool,
}

impl Header {
    /// Grey+alpha or RGBA (colour type bit 4, ISO/IEC 15948 6.1).
    fn has_alpha(&self) -> bool {
        self.color_type & 4 != 0
    }

    fn channels(&self) -> usize {
        match self.color_type {
            GREY | INDEXED => 1,
            GREY_ALPHA => 2,
            RGB => 3,
            _ => 4,
        }
    }
}

/// The chunks a conversion needs, found by one pass over the file.
#[derive(Default)]
struct Chunks<'a> {
    header: Option<Header>,
    palette: Option<&'a [u8]>,
    transparency: Option<&'a [u8]>,
    icc: Option<&'a [u8]>,
    physical: Option<&'a [u8]>,
    /// (offset, length) of each IDAT payload, in file order.
    data: Vec<(usize, usize)>,
}

/// Converts one PNG file. Takes ownership so the IDAT payloads can be joined in place.
pub(crate) fn read(mut bytes: Vec<u8>, limits: &Limits) -> Result<PlacedImage, Error> {
    let chunks = walk(&bytes)?;
    let header = chunks.header.expect("walk returns a header");
    let pixels = u64::from(header.width) * u64::from(header.height);
    Error::check_limit(Limit::Pixels, pixels, limits.max_pixels)?;

    let palette = chunks.palette.map(<[u8]>::to_vec);
    let color_space = color_space(&header, palette, chunks.icc)?;
    let density = chunks.physical.and_then(density);
    let transparency = chunks.transparency.map(<[u8]>::to_vec);
    let data_parts = chunks.data;

    let placed = |xobject, pass_through| PlacedImage {
        xobject,
        density,
        orientation: 1,
        pass_through,
    };
    if header.interlaced || header.has_alpha() {
        let xobject =
            compress_while_decoding(header, color_space, transparency.as_deref(), &bytes, limits)?;
        return Ok(placed(xobject, false));
    }

    let mask = match (&color_space, transparency.as_deref()) {
        (_, None) => Mask::None,
        (ColorSpace::Indexed { .. }, Some(alpha)) => match index_color_key(alpha) {
            Some(key) => key,
            None => palette_soft_mask(header, alpha, &decode(&bytes, limits)?)?,
        },
        (_, Some(key)) => color_key(header, key),
    };
    let data = join_data(&mut bytes, &data_parts);
    let pass_through = !matches!(mask, Mask::Soft(_));
    Ok(placed(
        flate_image(&header, header.bit_depth, color_space, data, mask),
        pass_through,
    ))
}

/// Checks the signature, every chunk's CRC and the chunk order; returns what the rest needs.
fn walk(bytes: &[u8]) -> Result<Chunks<'_>, Error> {
    if bytes.len() < SIGNATURE.len() || bytes[..8] != SIGNATURE {
        return Err(Error::png(
            "the 8-byte PNG signature is damaged (a transfer in text mode alters it)",
        ));
    }
    let mut chunks = Chunks::default();
    let mut at = SIGNATURE.len();
    let mut seen_end = false;
    let mut data_ended = false;
    while !seen_end {
        let rest = &bytes[at..];
        if rest.len() < 12 {
            return Err(Error::png(
                "the file ends before its IEND chunk (is it truncated?)",
            ));
        }
        let length = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes"));
        let kind: [u8; 4] = rest[4..8].try_into().expect("4 bytes");
        let name = String::from_utf8_lossy(&kind).into_owned();
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(Error::png(format!(
                "a chunk type `{}` is not four letters",
                name.escape_debug()
            )));
        }
        if length > i32::MAX as u32 || rest.len() - 12 < length as usize {
            return Err(Error::png(format!(
                "the {name} chunk runs past the end of the file"
            )));
        }
        let length = length as usize;
        let payload = &rest[8..8 + length];
        let stored_crc =
            u32::from_be_bytes(rest[8 + length..12 + length].try_into().expect("4 bytes"));
        let mut crc = crc32fast::Hasher::new();
        crc.update(&kind);
        crc.update(payload);
        if crc.finalize() != stored_crc {
            return Err(Error::png(format!(
                "the {name} chunk fails its CRC check (the data is damaged)"
            )));
        }
        let payload_at = at + 8;
        at += 12 + length;

        if chunks.header.is_none() && &kind != b"IHDR" {
            return Err(Error::png(format!("the first chunk is {name}, not IHDR")));
        }
        if !chunks.data.is_empty() && &kind != b"IDAT" {
            data_ended = true;
        }
        match &kind {
            b"IHDR" if chunks.header.is_none() => chunks.header = Some(header(payload)?),
            b"IHDR" => return Err(Error::png("the file has two IHDR chunks")),
            b"PLTE" => {
                if !chunks.data.is_empty() {
                    return Err(Error::png("the PLTE chunk comes after the image data"));
                }
                if length == 0 || !length.is_multiple_of(3) || length > 256 * 3 {
                    return Err(Error::png(format!(
                        "the PLTE chunk has {length} bytes, not 3 per entry for 1–256 entries"
                    )));
                }
                chunks.palette = Some(payload);
            }
            b"IDAT" if data_ended => {
                return Err(Error::png("the IDAT chunks are not consecutive"));
            }
            b"IDAT" => chunks.data.push((payload_at, length)),
            b"IEND" => seen_end = true,
            b"tRNS" if chunks.data.is_empty() => chunks.transparency = Some(payload),
            b"iCCP" if chunks.data.is_empty() => chunks.icc = Some(payload),
            b"pHYs" if chunks.data.is_empty() => chunks.physical = Some(payload),
            _ if kind[0].is_ascii_uppercase() => {
                return Err(Error::Unsupported(format!(
                    "the PNG has a critical chunk {name} that this converter does not know"
                )));
            }
            _ => {}
        }
    }
    let header = chunks.header.expect("IEND cannot come before IHDR");
    if chunks.data.is_empty() {
        return Err(Error::png(
            "the file has no IDAT chunk, so there is no image data",
        ));
    }
    validate(&header, &chunks)?;
    Ok(chunks)
}

fn header(payload: &[u8]) -> Result<Header, Error> {
    if payload.len() != 13 {
        return Err(Error::png(format!(
            "the IHDR chunk has {} bytes instead of 13",
            payload.len()
        )));
    }
    let dimension =
        |at: usize| u32::from_be_bytes(payload[at..at + 4].try_into().expect("4 bytes"));
    let (width, height) = (dimension(0), dimension(4));
    let (bit_depth, color_type) = (payload[8], payload[9]);
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(Error::png(format!(
            "the image size {width}×{height} is invalid"
        )));
    }
    let depths: &[u8] = match color_type {
        GREY => &[1, 2, 4, 8, 16],
        INDEXED => &[1, 2, 4, 8],
        RGB | GREY_ALPHA | RGBA => &[8, 16],
        other => {
            return Err(Error::png(format!(
                "the colour type {other} does not exist"
            )));
        }
    };
    if !depths.contains(&bit_depth) {
        return Err(Error::png(format!(
            "a bit depth of {bit_depth} is invalid for colour type {color_type} (allowed: {depths:?})"
        )));
    }
    if payload[10] != 0 || payload[11] != 0 {
        return Err(Error::png("the compression or filter method is not 0"));
    }
    let interlaced = match payload[12] {
        0 => false,
        1 => true,
        other => {
            return Err(Error::png(format!(
                "the interlace method {other} does not exist"
            )));
        }
    };
    Ok(Header {
        width,
        height,
        bit_depth,
        color_type,
        interlaced,
    })
}

fn validate(header: &Header, chunks: &Chunks<'_>) -> Result<(), Error> {
    match (header.color_type, chunks.palette) {
        (INDEXED, None) => return Err(Error::png("a palette image has no PLTE chunk")),
        (GREY | GREY_ALPHA, Some(_)) => {
            return Err(Error::png("a greyscale image must not have a PLTE chunk"));
        }
        _ => {}
    }
    if let Some(trns) = chunks.transparency {
        let expected = match header.color_type {
            GREY => trns.len() == 2,
            RGB => trns.len() == 6,
            INDEXED => trns.len() <= chunks.palette.map_or(0, |p| p.len() / 3),
            _ => {
                return Err(Error::png(
                    "an image with an alpha channel must not have a tRNS chunk",
                ));
            }
        };
        if !expected {
            return Err(Error::png(format!(
                "the tRNS chunk has the wrong length ({} bytes)",
                trns.len()
            )));
        }
    }
    Ok(())
}

fn color_space(
    header: &Header,
    palette: Option<Vec<u8>>,
    icc: Option<&[u8]>,
) -> Result<ColorSpace, Error> {
    let color = if header.color_type & 2 == 0 { 1 } else { 3 };
    let device = match icc {
        Some(chunk) => {
            let name_end = chunk
                .iter()
                .take(80)
                .position(|&b| b == 0)
                .ok_or_else(|| Error::png("the iCCP chunk's profile name is not terminated"))?;
            if chunk.get(name_end + 1) != Some(&0) {
                return Err(Error::png(
                    "the iCCP chunk uses an unknown compression method",
                ));
            }
            ColorSpace::Icc {
                components: color,
                profile: chunk[name_end + 2..].to_vec(),
                deflated: true,
            }
        }
        None if color == 1 => ColorSpace::Gray,
        None => ColorSpace::Rgb,
    };
    Ok(match header.color_type {
        INDEXED => ColorSpace::Indexed {
            base: Box::new(device),
            palette: palette.expect("validated"),
        },
        _ => device,
    })
}

/// Pixels per inch from `pHYs` (ISO/IEC 15948, 11.3.5.3). With no unit it gives only the pixel
/// aspect ratio, applied to the default 72 dpi.
fn density(chunk: &[u8]) -> Option<(f32, f32)> {
    let [x0, x1, x2, x3, y0, y1, y2, y3, unit] = *chunk else {
        return None;
    };
    let (x, y) = (
        u32::from_be_bytes([x0, x1, x2, x3]) as f32,
        u32::from_be_bytes([y0, y1, y2, y3]) as f32,
    );
    if x == 0.0 || y == 0.0 {
        return None;
    }
    match unit {
        1 => Some((x * 0.0254, y * 0.0254)),
        _ => Some((72.0, 72.0 * y / x)),
    }
}

/// Samples as the file stores them: rows of packed samples, no filter bytes, at the file's bit
/// depth, palette indices unexpanded, Adam7 undone.
fn decode(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>, Error> {
    let mut reader = reader(bytes, limits)?;
    let size = reader.output_buffer_size().ok_or(Error::TooLarge {
        limit: Limit::Pixels,
        actual: u64::MAX,
        max: limits.max_pixels,
    })?;
    let mut samples = vec![0; size];
    reader.next_frame(&mut samples).map_err(decoding_error)?;
    Ok(samples)
}

/// A decoder that hands out samples as the file stores them (see [`decode`]).
fn reader<'b>(bytes: &'b [u8], limits: &Limits) -> Result<png::Reader<Cursor<&'b [u8]>>, Error> {
    let budget = usize::try_from(limits.max_pixels.saturating_mul(8)).unwrap_or(usize::MAX);
    let mut decoder =
        png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: budget });
    decoder.set_transformations(png::Transformations::IDENTITY);
    decoder.set_ignore_text_chunk(true);
    decoder.read_info().map_err(decoding_error)
}

/// An image with an alpha channel or interlaced: decoded row by row in image order, each row
/// split into its colour and alpha planes at once (when there is alpha), and each band of rows
/// compressed while the next is decoded.
fn compress_while_decoding(
    header: Header,
    color_space: ColorSpace,
    transparency: Option<&[u8]>,
    bytes: &[u8],
    limits: &Limits,
) -> Result<XObject, Error> {
    let (width, height, depth) = (header.width, header.height, header.bit_depth);
    let mut source = RowSource::new(reader(bytes, limits)?, header)?;
    let color_channels = header.channels() - usize::from(header.has_alpha());
    let mut shapes = vec![shape(width, color_channels, depth)];
    let split_row = header.has_alpha().then(|| {
        shapes.push(shape(width, 1, depth));
        splitter(header.channels(), usize::from(depth / 8))
    });
    let planes = flate::compress_while_filling(&shapes, height as usize, |planes| {
        let row = source.next_row()?;
        match (planes, split_row) {
            ([color, alpha], Some(split_row)) => split_row(row, color, alpha),
            ([color], None) => color.copy_from_slice(row),
            _ => unreachable!("a plane for alpha exactly when there is alpha"),
        }
        Ok::<(), Error>(())
    })?;
    source.finish()?;
    let mut planes = planes.into_iter();
    let color = planes.next().expect("a colour plane");
    let mask = match (planes.next(), &color_space, transparency) {
        (Some(alpha), ..) if is_opaque(&alpha.samples) => Mask::None,
        (Some(alpha), ..) => Mask::Soft(Box::new(grey_image(&header, depth, alpha.stream))),
        (None, _, None) => Mask::None,
        (None, ColorSpace::Indexed { .. }, Some(alpha)) => index_color_key(alpha)
            .map_or_else(|| palette_soft_mask(header, alpha, &color.samples), Ok)?,
        (None, _, Some(key)) => color_key(header, key),
    };
    Ok(flate_image(&header, depth, color_space, color.stream, mask))
}

/// The rows of an image, top to bottom, as the file stores them (packed, at its bit depth).
///
/// Adam7 puts every pixel of the even rows in passes 1 to 6 and every pixel of the odd rows
/// in pass 7, one pass row per image row, in order. So passes 1 to 6 are decoded into a frame
/// first, and from then on rows come out in order as pass 7 decodes: half the decoding of an
/// interlaced image overlaps its compression too.
struct RowSource<'b> {
    reader: png::Reader<Cursor<&'b [u8]>>,
    row: Vec<u8>,
    row_bytes: usize,
    /// Interlaced: the even rows, filled by passes 1 to 6 (the odd rows stay unused).
    frame: Option<Vec<u8>>,
    /// Interlaced: the first row of pass 7 was read while looking for the end of pass 6.
    held: bool,
    next: usize,
}

impl<'b> RowSource<'b> {
    fn new(mut reader: png::Reader<Cursor<&'b [u8]>>, header: Header) -> Result<Self, Error> {
        let row_bytes = shape(header.width, header.channels(), header.bit_depth).row_bytes;
        let mut row = vec![0; reader.output_line_size(header.width).unwrap_or_default()];
        let mut frame = None;
        let mut held = false;
        if header.interlaced {
            let bits_per_pixel = (header.channels() * usize::from(header.bit_depth)) as u8;
            let first_of_pass_7 = png::Adam7Info::new(7, 0, header.width);
            let mut even = vec![0; row_bytes * header.height as usize];
            while let Some(info) = reader.read_row(&mut row).map_err(decoding_error)? {
                let png::InterlaceInfo::Adam7(info) = info else {
                    unreachable!("an interlaced image has Adam7 rows")
                };
                if info == first_of_pass_7 {
                    held = true;
                    break;
                }
                png::expand_interlaced_row(&mut even, row_bytes, &row, &info, bits_per_pixel);
            }
            frame = Some(even);
        }
        Ok(RowSource {
            reader,
            row,
            row_bytes,
            frame,
            held,
            next: 0,
        })
    }

    fn next_row(&mut self) -> Result<&[u8], Error> {
        let y = self.next;
        self.next += 1;
        if let Some(frame) = &self.frame
            && y.is_multiple_of(2)
        {
            return Ok(&frame[y * self.row_bytes..(y + 1) * self.row_bytes]);
        }
        if !std::mem::take(&mut self.held)
            && self
                .reader
                .read_row(&mut self.row)
                .map_err(decoding_error)?
                .is_none()
        {
            return Err(Error::png("its image data ends early"));
        }
        Ok(&self.row[..self.row_bytes])
    }

    /// Past the last row: reads the rest of the image data, as a whole-frame decode does.
    fn finish(mut self) -> Result<(), Error> {
        self.reader
            .read_row(&mut self.row)
            .map_err(decoding_error)
            .map(drop)
    }
}

fn decoding_error(error: png::DecodingError) -> Error {
    match error {
        png::DecodingError::LimitsExceeded => {
            Error::Unsupported("decoding the PNG would need more memory than allowed".into())
        }
        png::DecodingError::Parameter(e) => Error::Unsupported(e.to_string()),
        other => Error::png(format!("its image data cannot be decoded: {other}")),
    }
}

/// Describes packed rows of `channels` samples of `depth` bits per pixel.
fn rows(samples: &[u8], width: u32, channels: usize, depth: u8) -> flate::Rows<'_> {
    flate::Rows {
        samples,
        shape: shape(width, channels, depth),
    }
}

fn shape(width: u32, channels: usize, depth: u8) -> flate::Shape {
    let bits_per_pixel = channels * usize::from(depth);
    flate::Shape {
        row_bytes: (width as usize * bits_per_pixel).div_ceil(8),
        filter_distance: (bits_per_pixel / 8).max(1),
    }
}

/// The function that splits interleaved colour+alpha samples of `bytes_per_sample` bytes into
/// a colour and an alpha plane.
fn splitter(channels: usize, bytes_per_sample: usize) -> fn(&[u8], &mut [u8], &mut [u8]) {
    match (channels, bytes_per_sample) {
        (2, 1) => split::<2, 1>,
        (2, 2) => split::<4, 2>,
        (4, 1) => split::<4, 1>,
        (4, 2) => split::<8, 2>,
        _ => unreachable!("alpha comes with grey or RGB at 8 or 16 bits"),
    }
}

/// Splits `PIXEL`-byte pixels whose last `ALPHA` bytes are the alpha sample; fixed sizes let
/// the compiler unroll the copies.
fn split<const PIXEL: usize, const ALPHA: usize>(
    samples: &[u8],
    color: &mut [u8],
    alpha: &mut [u8],
) {
    for ((px, c), a) in samples
        .chunks_exact(PIXEL)
        .zip(color.chunks_exact_mut(PIXEL - ALPHA))
        .zip(alpha.chunks_exact_mut(ALPHA))
    {
        c.copy_from_slice(&px[..PIXEL - ALPHA]);
        a.copy_from_slice(&px[PIXEL - ALPHA..]);
    }
}

fn is_opaque(alpha: &[u8]) -> bool {
    alpha.iter().all(|&a| a == 0xff)
}

/// An image of the PNG's size whose `data` is a zlib stream of PNG-filtered rows.
fn flate_image(
    header: &Header,
    depth: u8,
    color_space: ColorSpace,
    data: Vec<u8>,
    mask: Mask,
) -> XObject {
    XObject {
        width: header.width,
        height: header.height,
        color_space,
        bits_per_component: depth,
        encoding: Encoding::FlatePng,
        data,
        decode: None,
        mask,
    }
}

/// A soft mask: grey samples of `depth` bits.
fn grey_image(header: &Header, depth: u8, data: Vec<u8>) -> XObject {
    flate_image(header, depth, ColorSpace::Gray, data, Mask::None)
}

/// `/Mask [v v]` or `/Mask [r r g g b b]` from a grey or RGB `tRNS` (8.9.6.4). A key outside
/// the bit depth's range matches no pixel, so it is left out.
fn color_key(header: Header, key: &[u8]) -> Mask {
    let max = (1u32 << header.bit_depth) - 1;
    let values: Vec<u32> = key
        .chunks_exact(2)
        .map(|v| u32::from(u16::from_be_bytes([v[0], v[1]])))
        .collect();
    if values.iter().any(|&v| v > max) {
        return Mask::None;
    }
    Mask::ColorKey(values.iter().flat_map(|&v| [v as i32, v as i32]).collect())
}

/// A palette whose `tRNS` makes one run of indices fully transparent and the rest opaque is a
/// colour-key mask on the index (`/Mask [lo hi]`); anything else needs a soft mask.
fn index_color_key(alpha: &[u8]) -> Option<Mask> {
    if alpha.iter().any(|&a| a != 0 && a != 0xff) {
        return None;
    }
    let transparent: Vec<usize> = alpha
        .iter()
        .enumerate()
        .filter(|(_, a)| **a == 0)
        .map(|(i, _)| i)
        .collect();
    match (transparent.first(), transparent.last()) {
        (None, _) | (_, None) => Some(Mask::None),
        (Some(&lo), Some(&hi)) if hi - lo + 1 == transparent.len() => {
            Some(Mask::ColorKey(vec![lo as i32, hi as i32]))
        }
        _ => None,
    }
}

/// An 8-bit soft mask holding `tRNS[index]` (255 past its end) for every pixel.
fn palette_soft_mask(header: Header, alpha: &[u8], indices: &[u8]) -> Result<Mask, Error> {
    let (width, height, depth) = (
        header.width as usize,
        header.height,
        usize::from(header.bit_depth),
    );
    let row_bytes = (width * depth).div_ceil(8);
    let lookup: Vec<u8> = (0..256)
        .map(|i| alpha.get(i).copied().unwrap_or(0xff))
        .collect();
    let mut plane = Vec::with_capacity(width * height as usize);
    for row in indices.chunks_exact(row_bytes) {
        plane.extend((0..width).map(|x| {
            let bit = x * depth;
            let index = (row[bit / 8] >> (8 - depth - bit % 8)) & ((1u16 << depth) - 1) as u8;
            lookup[usize::from(index)]
        }));
    }
    let [data] = flate::compress(&[rows(&plane, header.width, 1, 8)])
        .try_into()
        .expect("one stream per plane");
    Ok(Mask::Soft(Box::new(grey_image(&header, 8, data))))
}

/// Moves the IDAT payloads to the front of `bytes`, back to back, and returns just them. In
/// place, because a pass-through image can be hundreds of megabytes.
fn join_data(bytes: &mut Vec<u8>, parts: &[(usize, usize)]) -> Vec<u8> {
    let mut end = 0;
    for &(offset, length) in parts {
        bytes.copy_within(offset..offset + length, end);
        end += length;
    }
    bytes.truncate(end);
    std::mem::take(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_alpha_keeps_sixteen_bit_samples_whole() {
        let samples = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
        let (mut color, mut alpha) = ([0; 8], [0; 8]);
        splitter(2, 2)(&samples, &mut color, &mut alpha);
        assert_eq!(color, [1, 2, 5, 6, 9, 10, 13, 14]);
        assert_eq!(alpha, [3, 4, 7, 8, 11, 12, 15, 16]);
    }

    #[test]
    fn one_run_of_transparent_indices_is_a_color_key() {
        assert_eq!(
            index_color_key(&[255, 0, 0, 255]),
            Some(Mask::ColorKey(vec![1, 2]))
        );
        assert_eq!(index_color_key(&[255, 255]), Some(Mask::None));
        assert_eq!(index_color_key(&[0, 255, 0]), None);
        assert_eq!(index_color_key(&[0, 128]), None);
    }

    #[test]
    fn density_reads_meters_and_aspect() {
        let chunk = |x: u32, y: u32, unit: u8| {
            let mut c = x.to_be_bytes().to_vec();
            c.extend(y.to_be_bytes());
            c.push(unit);
            c
        };
        let (x, y) = density(&chunk(11811, 11811, 1)).unwrap();
        assert!((x - 300.0).abs() < 0.1 && (y - 300.0).abs() < 0.1);
        assert_eq!(density(&chunk(1, 4, 0)), Some((72.0, 288.0)));
        assert_eq!(density(&chunk(0, 4, 1)), None);
    }
}
