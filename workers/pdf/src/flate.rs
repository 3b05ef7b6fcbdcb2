//! Decoded samples back into the stream a pass-through IDAT is: zlib over PNG-filtered rows,
//! which PDF reads as `/FlateDecode` with `/Predictor 15` (ISO 32000-1, 7.4.4.4).
//!
//! Three choices make this path fast and its output small, measured on photo-like images:
//!
//! - **Filter**: each row gets the PNG filter (ISO/IEC 15948, 9.2) whose residuals have the
//!   smallest sum of absolute signed values, libpng's heuristic. The five candidates are
//!   computed with branch-free loops the compiler vectorises.
//! - **Deflate**: the `deflate` module's encoder, Huffman codes fitted to each block plus runs
//!   (matches at distance 1); see there for why that suits filtered photos.
//! - **Bands**: a large plane is cut into bands of rows, each filtered and deflated on its own
//!   thread (`std::thread::scope`; the call still returns only when all are done). A band ends
//!   with a sync flush, so the raw deflate streams concatenate into one, and with matches at
//!   distance 1 only nothing is lost at the seams; the bands' Adler-32s combine into the zlib
//!   trailer. Small planes stay on the calling thread.

use std::{num::NonZeroUsize, ops::Range, thread};

use crate::deflate;

/// Packed rows of samples, as PNG stores them after unfiltering.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub samples: &'a [u8],
    /// Bytes per row (width × bits per pixel, rounded up to whole bytes).
    pub row_bytes: usize,
    /// Bytes per complete pixel, at least 1: the distance the Sub, Average and Paeth filters
    /// look back (ISO/IEC 15948, 9.2).
    pub filter_distance: usize,
}

/// Below this many sample bytes a band is not worth a thread.
const MIN_BAND_BYTES: usize = 512 * 1024;

/// The most threads one call uses, whatever the machine has.
const MAX_THREADS: usize = 8;

/// zlib's header for a deflate stream with a 32 KiB window and no preset dictionary
/// (RFC 1950, 2.2); `0x7801 % 31 == 0` as FCHECK requires.
const ZLIB_HEADER: [u8; 2] = [0x78, 0x01];

/// Filters and deflates each plane; returns one zlib stream per plane, in order.
pub(crate) fn compress(planes: &[Rows<'_>]) -> Vec<Vec<u8>> {
    let threads = thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(MAX_THREADS);
    compress_on(planes, threads)
}

fn compress_on(planes: &[Rows<'_>], threads: usize) -> Vec<Vec<u8>> {
    let bands: Vec<(usize, Range<usize>, bool)> = planes
        .iter()
        .enumerate()
        .flat_map(|(plane, rows)| {
            let height = rows.samples.len() / rows.row_bytes.max(1);
            let count = (rows.samples.len() / MIN_BAND_BYTES).clamp(1, threads);
            let per_band = height.div_ceil(count).max(1);
            (0..height.div_ceil(per_band).max(1)).map(move |band| {
                let start = band * per_band;
                let end = (start + per_band).min(height);
                (plane, start..end, end == height)
            })
        })
        .collect();

    let run = |(plane, rows, last): &(usize, Range<usize>, bool)| {
        compress_band(&planes[*plane], rows.clone(), *last)
    };
    let results: Vec<Band> = if bands.len() == 1 {
        vec![run(&bands[0])]
    } else {
        thread::scope(|scope| {
            let spawned: Vec<_> = bands[1..]
                .iter()
                .map(|band| scope.spawn(move || run(band)))
                .collect();
            let mut results = vec![run(&bands[0])];
            results.extend(
                spawned
                    .into_iter()
                    .map(|handle| handle.join().expect("a compression thread panicked")),
            );
            results
        })
    };

    let mut streams: Vec<Vec<u8>> = planes.iter().map(|_| ZLIB_HEADER.to_vec()).collect();
    let mut checksums = vec![1u32; planes.len()];
    for ((plane, _, _), band) in bands.iter().zip(results) {
        streams[*plane].extend_from_slice(&band.deflated);
        checksums[*plane] =
            zlib_rs::adler32::adler32_combine(checksums[*plane], band.adler32, band.filtered_len);
    }
    for (stream, checksum) in streams.iter_mut().zip(checksums) {
        stream.extend_from_slice(&checksum.to_be_bytes());
    }
    streams
}

/// One band's raw deflate data, ending in a sync flush or, for the last band, the final block.
struct Band {
    deflated: Vec<u8>,
    adler32: u32,
    filtered_len: u64,
}

fn compress_band(plane: &Rows<'_>, rows: Range<usize>, last: bool) -> Band {
    let row_bytes = plane.row_bytes;
    let mut filtered = Vec::with_capacity(rows.len() * (row_bytes + 1));
    let zero_row = vec![0; row_bytes];
    let mut scratch = vec![0; 5 * row_bytes];
    for y in rows {
        let current = &plane.samples[y * row_bytes..(y + 1) * row_bytes];
        let previous = match y {
            0 => &zero_row[..],
            _ => &plane.samples[(y - 1) * row_bytes..y * row_bytes],
        };
        let (kind, residuals) = filter_row(current, previous, plane.filter_distance, &mut scratch);
        filtered.push(kind);
        filtered.extend_from_slice(residuals);
    }
    let adler32 = zlib_rs::adler32::adler32(1, &filtered);
    let deflated = deflate::deflate(&filtered, last);
    Band {
        deflated,
        adler32,
        filtered_len: filtered.len() as u64,
    }
}

/// PNG filter types (ISO/IEC 15948, 9.2).
const NONE: u8 = 0;
const SUB: u8 = 1;
const UP: u8 = 2;
const AVERAGE: u8 = 3;
const PAETH: u8 = 4;

/// Filters `current` every way and returns the filter type with the smallest sum of absolute
/// signed residuals, and those residuals (a slice of `scratch`, which holds 5 rows).
fn filter_row<'s>(
    current: &[u8],
    previous: &[u8],
    distance: usize,
    scratch: &'s mut [u8],
) -> (u8, &'s [u8]) {
    let n = current.len();
    let d = distance.min(n);
    let (none, rest) = scratch.split_at_mut(n);
    let (sub, rest) = rest.split_at_mut(n);
    let (up, rest) = rest.split_at_mut(n);
    let (average, rest) = rest.split_at_mut(n);
    let paeth = &mut rest[..n];

    none.copy_from_slice(current);
    sub[..d].copy_from_slice(&current[..d]);
    for ((out, &x), &a) in sub[d..].iter_mut().zip(&current[d..]).zip(current) {
        *out = x.wrapping_sub(a);
    }
    for ((out, &x), &b) in up.iter_mut().zip(current).zip(previous) {
        *out = x.wrapping_sub(b);
    }
    for ((out, &x), &b) in average[..d].iter_mut().zip(current).zip(previous) {
        *out = x.wrapping_sub(b >> 1);
    }
    for (((out, &x), &a), &b) in average[d..]
        .iter_mut()
        .zip(&current[d..])
        .zip(current)
        .zip(&previous[d..])
    {
        *out = x.wrapping_sub(((u16::from(a) + u16::from(b)) >> 1) as u8);
    }
    // With a = c = 0 at the row's start, the Paeth predictor is b.
    for ((out, &x), &b) in paeth[..d].iter_mut().zip(current).zip(previous) {
        *out = x.wrapping_sub(b);
    }
    for ((((out, &x), &a), &b), &c) in paeth[d..]
        .iter_mut()
        .zip(&current[d..])
        .zip(current)
        .zip(&previous[d..])
        .zip(previous)
    {
        *out = x.wrapping_sub(paeth_predictor(a, b, c));
    }

    let candidates = [
        (NONE, &*none),
        (SUB, &*sub),
        (UP, &*up),
        (AVERAGE, &*average),
        (PAETH, &*paeth),
    ];
    let (kind, residuals) = candidates
        .into_iter()
        .min_by_key(|(_, residuals)| cost(residuals))
        .expect("five candidates");
    (kind, residuals)
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
        let plane = Rows {
            samples: &samples,
            row_bytes,
            filter_distance: 3,
        };
        let small = Rows {
            samples: &samples[..row_bytes * 3],
            row_bytes,
            filter_distance: 3,
        };
        let streams = compress_on(&[plane, small], 4);
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
