//! Decoded samples back into the stream a pass-through IDAT is: zlib over PNG-filtered rows,
//! which PDF reads as `/FlateDecode` with `/Predictor 15` (ISO 32000-1, 7.4.4.4).
//!
//! Three choices make this path fast and its output small, measured on photo-like images:
//!
//! - **Filter**: each row gets the PNG filter (ISO/IEC 15948, 9.2) whose residuals have the
//!   smallest sum of absolute signed values, libpng's heuristic. The five candidates are
//!   computed with branch-free loops the compiler vectorises.
//! - **Deflate**: zlib-rs's run-length strategy, Huffman codes fitted to each block plus runs
//!   (matches at distance 1); see [`BandRef::compress`] for why that suits filtered photos.
//! - **Bands**: a large plane is cut into bands of rows, each filtered and deflated as a task
//!   on rayon's pool (a call still returns only when all are done; inside `pdfmill convert
//!   --each`, bands and files share the one pool instead of each image starting threads of
//!   its own). Each thread keeps its deflate state and resets it per band. A band ends
//!   with a sync flush, so the raw deflate streams concatenate into one, and with matches at
//!   distance 1 only, little is lost at the seams; the bands' Adler-32s combine into the zlib
//!   trailer. Small planes stay on the calling thread. When rows come from a decoder one at a
//!   time ([`compress_while_filling`]), a band is compressed as soon as its last row is in,
//!   while the decoder goes on with the next: decoding and compressing overlap, and the
//!   decoded image is never interleaved in memory whole.

use std::{cell::RefCell, sync::mpsc};

use rayon::prelude::*;

use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Method, Strategy, compress_bound};

/// The layout of one plane's rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Bytes per row (width × bits per pixel, rounded up to whole bytes).
    pub row_bytes: usize,
    /// Bytes per complete pixel, at least 1: the distance the Sub, Average and Paeth filters
    /// look back (ISO/IEC 15948, 9.2).
    pub filter_distance: usize,
}

/// Packed rows of samples, as PNG stores them after unfiltering.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub samples: &'a [u8],
    pub shape: Shape,
}

/// Below this many sample bytes a band is not worth a task of its own.
const MIN_BAND_BYTES: usize = 256 * 1024;

/// Bands per thread: more bands start compressing sooner (when rows arrive one by one) and
/// leave less to do after the last row, at the cost of one more sync flush each.
const BANDS_PER_THREAD: usize = 4;

/// zlib's header for a deflate stream with a 32 KiB window and no preset dictionary
/// (RFC 1950, 2.2); `0x7801 % 31 == 0` as FCHECK requires.
const ZLIB_HEADER: [u8; 2] = [0x78, 0x01];

/// Rows per band for `height` rows of `row_bytes` each (summed over the planes cut alike).
fn band_rows(height: usize, row_bytes: usize) -> usize {
    let threads = rayon::current_num_threads();
    if height * row_bytes < 2 * MIN_BAND_BYTES || threads == 1 {
        return height.max(1);
    }
    height
        .div_ceil(threads * BANDS_PER_THREAD)
        .max(MIN_BAND_BYTES / row_bytes.max(1))
        .max(1)
}

/// Filters and deflates each plane; returns one zlib stream per plane, in order.
pub(crate) fn compress(planes: &[Rows<'_>]) -> Vec<Vec<u8>> {
    let bands: Vec<(usize, BandRef<'_>)> = planes
        .iter()
        .enumerate()
        .flat_map(|(plane, rows)| {
            let height = rows.samples.len() / rows.shape.row_bytes.max(1);
            let band_rows = band_rows(height, rows.shape.row_bytes);
            split_into_bands(rows, band_rows).map(move |band| (plane, band))
        })
        .collect();
    let results: Vec<Band> = bands.par_iter().map(|(_, band)| band.compress()).collect();
    assemble(
        planes.len(),
        bands.iter().map(|(plane, _)| *plane).zip(results),
    )
}

/// Planes whose rows are produced one at a time, by `fill`, and compressed band by band while
/// the next rows are produced: each finished band becomes a task on rayon's pool. `fill`
/// writes the next row of every plane into the slices it is given (one per shape, in order).
///
/// Returns each plane's samples and its zlib stream, or the first error `fill` returned.
pub(crate) fn compress_while_filling<E: Send>(
    shapes: &[Shape],
    height: usize,
    fill: impl FnMut(&mut [&mut [u8]]) -> Result<(), E> + Send,
) -> Result<Vec<Compressed>, E> {
    let row_bytes: usize = shapes.iter().map(|shape| shape.row_bytes).sum();
    let band_rows = band_rows(height, row_bytes);
    let mut planes: Vec<Vec<u8>> = shapes
        .iter()
        .map(|shape| vec![0; shape.row_bytes * height])
        .collect();
    let (done, finished) = mpsc::channel::<(usize, Vec<Band>)>();
    rayon::scope(|scope| {
        let mut fill = fill;
        let mut unfilled: Vec<_> = planes
            .iter_mut()
            .zip(shapes)
            .map(|(plane, shape)| plane.chunks_mut(shape.row_bytes * band_rows))
            .collect();
        let mut previous: Vec<Option<&[u8]>> = vec![None; shapes.len()];
        for (index, first_row) in (0..height).step_by(band_rows).enumerate() {
            let mut band: Vec<&mut [u8]> = unfilled
                .iter_mut()
                .map(|chunks| chunks.next().expect("a chunk per band"))
                .collect();
            for row in 0..band_rows.min(height - first_row) {
                let mut rows: Vec<&mut [u8]> = band
                    .iter_mut()
                    .zip(shapes)
                    .map(|(samples, shape)| {
                        &mut samples[row * shape.row_bytes..(row + 1) * shape.row_bytes]
                    })
                    .collect();
                fill(&mut rows)?;
            }
            let last = first_row + band_rows >= height;
            let refs: Vec<BandRef<'_>> = band
                .into_iter()
                .zip(shapes)
                .zip(&mut previous)
                .map(|((samples, &shape), previous)| {
                    let samples: &[u8] = samples;
                    let band = BandRef {
                        samples,
                        previous: *previous,
                        shape,
                        last,
                    };
                    *previous = samples
                        .len()
                        .checked_sub(shape.row_bytes)
                        .map(|i| &samples[i..]);
                    band
                })
                .collect();
            let done = done.clone();
            scope.spawn(move |_| {
                let bands = refs.iter().map(BandRef::compress).collect();
                // The receiver outlives the scope; sending cannot fail.
                let _ = done.send((index, bands));
            });
        }
        Ok(())
    })?;
    drop(done);
    let mut bands: Vec<(usize, Vec<Band>)> = finished.into_iter().collect();
    bands.sort_unstable_by_key(|(index, _)| *index);
    let streams = assemble(
        shapes.len(),
        bands
            .into_iter()
            .flat_map(|(_, per_plane)| per_plane.into_iter().enumerate()),
    );
    Ok(planes
        .into_iter()
        .zip(streams)
        .map(|(samples, stream)| Compressed { samples, stream })
        .collect())
}

/// A plane filled by [`compress_while_filling`]: its samples and its zlib stream.
pub(crate) struct Compressed {
    pub samples: Vec<u8>,
    pub stream: Vec<u8>,
}

/// Cuts a plane into bands of `band_rows` rows.
fn split_into_bands<'a>(
    rows: &'a Rows<'a>,
    band_rows: usize,
) -> impl Iterator<Item = BandRef<'a>> + 'a {
    let chunk = (rows.shape.row_bytes * band_rows.max(1)).max(1);
    let count = rows.samples.len().div_ceil(chunk).max(1);
    (0..count).map(move |band| {
        let start = band * chunk;
        let end = (start + chunk).min(rows.samples.len());
        BandRef {
            samples: &rows.samples[start..end],
            previous: start
                .checked_sub(rows.shape.row_bytes)
                .map(|previous| &rows.samples[previous..start]),
            shape: rows.shape,
            last: band + 1 == count,
        }
    })
}

/// Joins the bands of each plane, given in order, into one zlib stream per plane.
fn assemble(planes: usize, bands: impl Iterator<Item = (usize, Band)>) -> Vec<Vec<u8>> {
    let mut streams: Vec<Vec<u8>> = (0..planes).map(|_| ZLIB_HEADER.to_vec()).collect();
    let mut checksums = vec![1u32; planes];
    for (plane, band) in bands {
        streams[plane].extend_from_slice(&band.deflated);
        checksums[plane] =
            zlib_rs::adler32::adler32_combine(checksums[plane], band.adler32, band.filtered_len);
    }
    for (stream, checksum) in streams.iter_mut().zip(checksums) {
        stream.extend_from_slice(&checksum.to_be_bytes());
    }
    streams
}

thread_local! {
    /// Each thread's deflate state and buffers, reused band after band: allocating and zeroing
    /// them per band (a few hundred kilobytes of state, an output buffer the size of the band)
    /// cost more than small bands take to compress.
    static WORKSPACE: RefCell<Option<Workspace>> = const { RefCell::new(None) };
}

/// What compressing a band needs besides the band.
struct Workspace {
    deflate: Deflate,
    /// Room for the deflated band; grown, never shrunk.
    out: Vec<u8>,
    /// The five filtered versions of a row.
    filtered: Vec<u8>,
    /// The row above the first row of an image.
    zero_row: Vec<u8>,
}

/// Runs `f` with this thread's workspace, its deflate state reset to a new raw deflate stream.
fn with_workspace<R>(f: impl FnOnce(&mut Workspace) -> R) -> R {
    WORKSPACE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let workspace = match slot.as_mut() {
            Some(workspace) => {
                workspace.deflate.reset();
                workspace
            }
            None => slot.insert(Workspace {
                // Level 1 with negative window bits: raw deflate, no zlib header.
                deflate: Deflate::new_with_config(DeflateConfig {
                    level: 1,
                    method: Method::Deflated,
                    window_bits: -15,
                    mem_level: 9,
                    strategy: Strategy::Rle,
                }),
                out: Vec::new(),
                filtered: Vec::new(),
                zero_row: Vec::new(),
            }),
        };
        f(workspace)
    })
}

/// Grows `buffer` to at least `len` zeroed-or-reused bytes.
fn at_least(buffer: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buffer.len() < len {
        buffer.resize(len, 0);
    }
    buffer
}

/// Rows of one plane to compress on their own.
struct BandRef<'a> {
    samples: &'a [u8],
    /// The row above the band's first, if any.
    previous: Option<&'a [u8]>,
    shape: Shape,
    /// Whether the band ends the plane (the final deflate block) or not (a sync flush).
    last: bool,
}

/// One band's raw deflate data, ending in a sync flush or, for the last band, the final block.
struct Band {
    deflated: Vec<u8>,
    adler32: u32,
    filtered_len: u64,
}

impl BandRef<'_> {
    /// Filters each row and feeds it to a deflate stream of the band's own, row by row, so the
    /// filtered band is never held whole.
    ///
    /// The deflate is zlib-rs's run-length strategy. Why run-length: a photo's filtered rows
    /// are residuals with sensor noise, which back-references hardly shorten; their size comes
    /// from how well the Huffman code fits the residuals. Searching for matches is where zlib's
    /// default levels spend their time; matching only runs of one byte value (distance 1) keeps
    /// the dynamic Huffman blocks, catches flat areas and the long constant stretches of alpha
    /// cut-outs, and skips the search. Measured on photo-like planes it is smaller than zlib
    /// level 6 (what img2pdf writes) at a fraction of the time. Matches at distance 1 also
    /// mean nothing is lost where bands meet.
    fn compress(&self) -> Band {
        with_workspace(|workspace| self.compress_with(workspace))
    }

    fn compress_with(&self, workspace: &mut Workspace) -> Band {
        let Shape {
            row_bytes,
            filter_distance,
        } = self.shape;
        let rows = self.samples.len() / row_bytes.max(1);
        let filtered_len = rows * (row_bytes + 1);
        let Workspace {
            deflate,
            out,
            filtered,
            zero_row,
        } = workspace;
        let out = at_least(out, compress_bound(filtered_len) + 16);
        let scratch = at_least(filtered, 5 * (row_bytes + 1));
        let zero_row = at_least(zero_row, row_bytes);
        let mut adler32 = 1;
        let mut previous = self.previous.unwrap_or(&zero_row[..row_bytes]);
        for current in self.samples.chunks_exact(row_bytes.max(1)) {
            let filtered = filter_row(current, previous, filter_distance, scratch);
            adler32 = zlib_rs::adler32::adler32(adler32, filtered);
            let written = deflate.total_out() as usize;
            deflate
                .compress(filtered, &mut out[written..], DeflateFlush::NoFlush)
                .expect("deflating into a large enough buffer cannot fail");
            previous = current;
        }
        let flush = if self.last {
            DeflateFlush::Finish
        } else {
            DeflateFlush::SyncFlush
        };
        let written = deflate.total_out() as usize;
        deflate
            .compress(&[], &mut out[written..], flush)
            .expect("deflating into a large enough buffer cannot fail");
        Band {
            deflated: out[..deflate.total_out() as usize].to_vec(),
            adler32,
            filtered_len: filtered_len as u64,
        }
    }
}

/// PNG filter types (ISO/IEC 15948, 9.2).
const NONE: u8 = 0;
const SUB: u8 = 1;
const UP: u8 = 2;
const AVERAGE: u8 = 3;
const PAETH: u8 = 4;

/// Filters `current` every way and returns the filtered row with the smallest sum of absolute
/// signed residuals: its filter type byte, then its residuals (a slice of `scratch`, which
/// holds 5 such rows).
fn filter_row<'s>(
    current: &[u8],
    previous: &[u8],
    distance: usize,
    scratch: &'s mut [u8],
) -> &'s [u8] {
    let n = current.len();
    let d = distance.min(n);
    let mut slots = scratch.chunks_exact_mut(n + 1);
    let mut slot = |kind| {
        let slot = slots.next().expect("five slots");
        slot[0] = kind;
        slot
    };
    let (none, sub, up, average, paeth) =
        (slot(NONE), slot(SUB), slot(UP), slot(AVERAGE), slot(PAETH));

    none[1..].copy_from_slice(current);
    let sub_residuals = &mut sub[1..];
    sub_residuals[..d].copy_from_slice(&current[..d]);
    for ((out, &x), &a) in sub_residuals[d..]
        .iter_mut()
        .zip(&current[d..])
        .zip(current)
    {
        *out = x.wrapping_sub(a);
    }
    for ((out, &x), &b) in up[1..].iter_mut().zip(current).zip(previous) {
        *out = x.wrapping_sub(b);
    }
    let average_residuals = &mut average[1..];
    for ((out, &x), &b) in average_residuals[..d].iter_mut().zip(current).zip(previous) {
        *out = x.wrapping_sub(b >> 1);
    }
    for (((out, &x), &a), &b) in average_residuals[d..]
        .iter_mut()
        .zip(&current[d..])
        .zip(current)
        .zip(&previous[d..])
    {
        *out = x.wrapping_sub(((u16::from(a) + u16::from(b)) >> 1) as u8);
    }
    // With a = c = 0 at the row's start, the Paeth predictor is b.
    let paeth_residuals = &mut paeth[1..];
    for ((out, &x), &b) in paeth_residuals[..d].iter_mut().zip(current).zip(previous) {
        *out = x.wrapping_sub(b);
    }
    for ((((out, &x), &a), &b), &c) in paeth_residuals[d..]
        .iter_mut()
        .zip(&current[d..])
        .zip(current)
        .zip(&previous[d..])
        .zip(previous)
    {
        *out = x.wrapping_sub(paeth_predictor(a, b, c));
    }

    [&*none, &*sub, &*up, &*average, &*paeth]
        .into_iter()
        .min_by_key(|row| cost(&row[1..]))
        .expect("five candidates")
}

/// The Paeth predictor (ISO/IEC 15948, 9.4), branch-free so the loop vectorises.
fn paeth_predictor(a: u8, b: u8, c: u8) -> u8 {
    let (a16, b16, c16) = (i16::from(a), i16::from(b), i16::from(c));
    let p = a16 + b16 - c16;
    let (pa, pb, pc) = ((p - a16).abs(), (p - b16).abs(), (p - c16).abs());
    let b_or_c = if pb <= pc { b } else { c };
    if pa <= pb && pa <= pc { a } else { b_or_c }
}

/// Sum of the residuals read as signed bytes, in absolute value.
fn cost(residuals: &[u8]) -> u64 {
    residuals
        .chunks(4096)
        .map(|chunk| {
            chunk
                .iter()
                .map(|&r| u32::from((r as i8).unsigned_abs()))
                .sum::<u32>()
        })
        .map(u64::from)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(stream: &[u8]) -> Vec<u8> {
        let mut out = vec![0; 1 << 22];
        let (data, code) =
            zlib_rs::decompress_slice(&mut out, stream, zlib_rs::InflateConfig::default());
        assert_eq!(code, zlib_rs::ReturnCode::Ok);
        data.to_vec()
    }

    /// Undoes the PNG filters, to check the round trip independently of the encoder.
    fn unfilter(filtered: &[u8], row_bytes: usize, distance: usize) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        for (y, row) in filtered.chunks_exact(row_bytes + 1).enumerate() {
            let start = out.len();
            for (i, &r) in row[1..].iter().enumerate() {
                let a = if i >= distance {
                    out[start + i - distance]
                } else {
                    0
                };
                let b = if y > 0 { out[start - row_bytes + i] } else { 0 };
                let c = if y > 0 && i >= distance {
                    out[start - row_bytes + i - distance]
                } else {
                    0
                };
                let prediction = match row[0] {
                    NONE => 0,
                    SUB => a,
                    UP => b,
                    AVERAGE => ((u16::from(a) + u16::from(b)) / 2) as u8,
                    PAETH => paeth_predictor(a, b, c),
                    other => panic!("filter type {other}"),
                };
                out.push(r.wrapping_add(prediction));
            }
        }
        out
    }

    #[test]
    fn bands_join_into_one_stream_that_round_trips() {
        // Big enough for several bands, with noise, ramps and runs so every filter wins rows.
        let (row_bytes, height) = (3 * 700, 1000);
        let mut seed = 1u32;
        let samples: Vec<u8> = (0..row_bytes * height)
            .map(|i| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                match (i / row_bytes) % 4 {
                    0 => (seed >> 24) as u8,
                    1 => (i % 251) as u8,
                    2 => 7,
                    _ => ((i % row_bytes) / 3) as u8 ^ (seed >> 30) as u8,
                }
            })
            .collect();
        let shape = Shape {
            row_bytes,
            filter_distance: 3,
        };
        let plane = Rows {
            samples: &samples,
            shape,
        };
        let small = Rows {
            samples: &samples[..row_bytes * 3],
            shape,
        };
        let streams = compress(&[plane, small]);
        assert_eq!(unfilter(&inflate(&streams[0]), row_bytes, 3), samples);
        assert_eq!(
            unfilter(&inflate(&streams[1]), row_bytes, 3),
            &samples[..row_bytes * 3]
        );
    }

    #[test]
    fn paeth_matches_the_spec() {
        for (a, b, c) in [
            (0, 0, 0),
            (10, 20, 5),
            (200, 10, 100),
            (255, 0, 255),
            (3, 3, 9),
        ] {
            let p = i32::from(a) + i32::from(b) - i32::from(c);
            let (pa, pb, pc) = (
                (p - i32::from(a)).abs(),
                (p - i32::from(b)).abs(),
                (p - i32::from(c)).abs(),
            );
            let expected = if pa <= pb && pa <= pc {
                a
            } else if pb <= pc {
                b
            } else {
                c
            };
            assert_eq!(paeth_predictor(a, b, c), expected);
        }
    }
}
