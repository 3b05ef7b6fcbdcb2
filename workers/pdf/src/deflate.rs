//! A deflate encoder (RFC 1951) for PNG-filtered rows: Huffman codes fitted to each block, and
//! matches at distance 1 only (runs of one byte value).
//!
//! Why not a general LZ77 encoder: a photo's filtered rows are residuals with sensor noise,
//! which back-references hardly shorten; their size comes from how well the Huffman code fits
//! the residuals. Searching for matches is where zlib spends its time, and a fixed code (as in
//! `fdeflate`) costs about 10% in size. Runs still catch flat areas and the long constant
//! stretches of alpha cut-outs, and cost one comparison per byte to find. Measured on
//! photo-like planes this is as small as zlib's level 6 and several times faster than zlib's
//! own run-length strategy.
//!
//! Every block is a dynamic-Huffman block (3.2.7) over at most [`BLOCK_BYTES`] of input.

/// Input bytes per deflate block: small enough for the code to follow the image's content,
/// large enough that the ~100-byte block header does not matter.
const BLOCK_BYTES: usize = 64 * 1024;

/// Shortest run worth a length/distance pair rather than literals.
const MIN_RUN: usize = 4;

/// Longest match deflate can express (3.2.5).
const MAX_RUN: usize = 258;

/// The end-of-block symbol (3.2.5).
const END_OF_BLOCK: usize = 256;

/// Order in which code length code lengths are sent (3.2.7).
const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Length symbols 257–285: first length of each and extra bits (3.2.5).
const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];

/// Deflates `data` as raw deflate blocks. When `last`, the final block ends the stream;
/// otherwise the data ends with an empty stored block (a "sync flush"), byte-aligned, so that
/// another raw deflate stream can follow it directly.
pub(crate) fn deflate(data: &[u8], last: bool) -> Vec<u8> {
    let mut out = BitWriter::with_capacity(data.len() / 2 + 1024);
    let length_symbols = length_symbols();
    let block_count = data.len().div_ceil(BLOCK_BYTES).max(1);
    for block in 0..block_count {
        let start = block * BLOCK_BYTES;
        let end = (start + BLOCK_BYTES).min(data.len());
        let final_block = last && block + 1 == block_count;
        let frequencies = count_symbols(data, start..end, &length_symbols);
        write_block(
            &mut out,
            data,
            start..end,
            &frequencies,
            &length_symbols,
            final_block,
        );
    }
    if !last {
        // An empty stored block: BFINAL 0, BTYPE 00, then LEN 0 and NLEN 0xffff, byte-aligned.
        out.put(0, 3);
        out.align();
        out.bytes.extend_from_slice(&[0, 0, 0xff, 0xff]);
    }
    out.align();
    out.bytes
}

/// Length symbol (257–285) for each run length 0–258 (entries below 3 unused).
fn length_symbols() -> [u16; MAX_RUN + 1] {
    let mut symbols = [0; MAX_RUN + 1];
    for (index, &base) in LENGTH_BASE.iter().enumerate() {
        let end = LENGTH_BASE
            .get(index + 1)
            .map_or(MAX_RUN + 1, |&b| usize::from(b));
        for symbol in &mut symbols[usize::from(base)..end] {
            *symbol = 257 + index as u16;
        }
    }
    symbols
}

/// The length of the run of copies of `data[at - 1]` starting at `at` (distance 1), if it is
/// worth coding as one; deflate codes everything else as literals.
///
/// The first test reads four bytes at once: on noisy residuals a byte equal to its neighbour is
/// common but four in a row are rare, so the branch predicts well.
#[inline(always)]
fn run_at(data: &[u8], at: usize, end: usize) -> Option<usize> {
    const _: () = assert!(MIN_RUN == 4);
    if at == 0 || end - at < MIN_RUN {
        return None;
    }
    let byte = data[at - 1];
    let next: [u8; 4] = data[at..at + 4].try_into().expect("4 bytes");
    if u32::from_ne_bytes(next) != u32::from(byte) * 0x0101_0101 {
        return None;
    }
    let limit = (end - at).min(MAX_RUN);
    let length = data[at + MIN_RUN..at + limit]
        .iter()
        .position(|&b| b != byte)
        .map_or(limit, |n| n + MIN_RUN);
    Some(length)
}

/// Literal/length symbol frequencies of `data[range]`, end of block included. Four tables in
/// turn, because residuals repeat values and one counter incremented back to back stalls.
fn count_symbols(
    data: &[u8],
    range: std::ops::Range<usize>,
    length_symbols: &[u16; MAX_RUN + 1],
) -> [u32; 286] {
    let mut tables = [[0u32; 286]; 4];
    let (mut at, end) = (range.start, range.end);
    while at < end {
        if let Some(length) = run_at(data, at, end) {
            tables[0][usize::from(length_symbols[length])] += 1;
            at += length;
        } else {
            tables[at & 3][usize::from(data[at])] += 1;
            at += 1;
        }
    }
    let mut frequencies = [0u32; 286];
    for (symbol, frequency) in frequencies.iter_mut().enumerate() {
        *frequency = tables.iter().map(|table| table[symbol]).sum();
    }
    frequencies[END_OF_BLOCK] = 1;
    frequencies
}

fn write_block(
    out: &mut BitWriter,
    data: &[u8],
    range: std::ops::Range<usize>,
    frequencies: &[u32; 286],
    length_symbols: &[u16; MAX_RUN + 1],
    final_block: bool,
) {
    let literal_lengths = code_lengths(frequencies, 15);
    let literal_codes = canonical_codes(&literal_lengths);
    let literal_count = literal_lengths
        .iter()
        .rposition(|&l| l != 0)
        .map_or(257, |last| (last + 1).max(257));

    // The code lengths of both alphabets, run-length coded with symbols 16, 17 and 18 (3.2.7).
    // The distance alphabet has one code, distance 1, of length 1.
    let mut all_lengths = literal_lengths[..literal_count].to_vec();
    all_lengths.push(1);
    let length_tokens = run_length_code(&all_lengths);
    let mut length_frequencies = [0u32; 19];
    for &(symbol, _) in &length_tokens {
        length_frequencies[usize::from(symbol)] += 1;
    }
    let length_lengths = code_lengths(&length_frequencies, 7);
    let length_codes = canonical_codes(&length_lengths);
    let length_code_count = CODE_LENGTH_ORDER
        .iter()
        .rposition(|&symbol| length_lengths[symbol] != 0)
        .map_or(4, |last| (last + 1).max(4));

    out.put(u64::from(final_block), 1);
    out.put(2, 2);
    out.put((literal_count - 257) as u64, 5);
    out.put(0, 5);
    out.put((length_code_count - 4) as u64, 4);
    for &symbol in &CODE_LENGTH_ORDER[..length_code_count] {
        out.put(u64::from(length_lengths[symbol]), 3);
    }
    for &(symbol, extra) in &length_tokens {
        let symbol = usize::from(symbol);
        out.put(
            u64::from(length_codes[symbol]),
            u32::from(length_lengths[symbol]),
        );
        match symbol {
            16 => out.put(u64::from(extra), 2),
            17 => out.put(u64::from(extra), 3),
            18 => out.put(u64::from(extra), 7),
            _ => {}
        }
    }

    // Code and length of every literal/length symbol in one table, so a literal is one lookup.
    let mut symbols = [(0u64, 0u32); 286];
    for (entry, (&code, &length)) in symbols
        .iter_mut()
        .zip(literal_codes.iter().zip(&literal_lengths))
    {
        *entry = (u64::from(code), u32::from(length));
    }
    // Distance 1 is distance code 0: one bit "0", no extra bits. The bit buffer lives in
    // locals here, the hot loop of the whole re-compression.
    let (mut bits, mut count) = (out.bits, out.count);
    let bytes = &mut out.bytes;
    bytes.reserve(range.len() * 2 + 64);
    let (mut at, end) = (range.start, range.end);
    while at < end {
        let (code, length) = if let Some(run) = run_at(data, at, end) {
            at += run;
            let symbol = usize::from(length_symbols[run]);
            let index = symbol - 257;
            let extra = (run - usize::from(LENGTH_BASE[index])) as u64;
            let (code, length) = symbols[symbol];
            (
                code | extra << length,
                length + u32::from(LENGTH_EXTRA[index]) + 1,
            )
        } else {
            at += 1;
            symbols[usize::from(data[at - 1])]
        };
        bits |= code << count;
        count += length;
        if count >= 32 {
            bytes.extend_from_slice(&(bits as u32).to_le_bytes());
            bits >>= 32;
            count -= 32;
        }
    }
    (out.bits, out.count) = (bits, count);
    out.put(
        u64::from(literal_codes[END_OF_BLOCK]),
        u32::from(literal_lengths[END_OF_BLOCK]),
    );
}

/// Code lengths as symbols 0–18 with their extra-bit values: 16 repeats the previous length
/// 3–6 times, 17 and 18 stand for 3–10 and 11–138 zeros (3.2.7).
fn run_length_code(lengths: &[u8]) -> Vec<(u8, u8)> {
    let mut tokens = Vec::with_capacity(lengths.len());
    let mut at = 0;
    while at < lengths.len() {
        let length = lengths[at];
        let run = lengths[at..].iter().take_while(|&&l| l == length).count();
        if length == 0 && run >= 11 {
            let n = run.min(138);
            tokens.push((18, (n - 11) as u8));
            at += n;
        } else if length == 0 && run >= 3 {
            let n = run.min(10);
            tokens.push((17, (n - 3) as u8));
            at += n;
        } else if length != 0 && run >= 4 {
            tokens.push((length, 0));
            let n = (run - 1).min(6);
            tokens.push((16, (n - 3) as u8));
            at += 1 + n;
        } else {
            tokens.push((length, 0));
            at += 1;
        }
    }
    tokens
}

/// Huffman code lengths of at most `limit` bits for `frequencies` (0 for unused symbols). When
/// the optimal code is too deep, frequencies are halved (staying non-zero) until it fits: this
/// costs a fraction of a percent and only on blocks with very skewed statistics.
fn code_lengths(frequencies: &[u32], limit: u8) -> Vec<u8> {
    let mut frequencies = frequencies.to_vec();
    loop {
        let lengths = huffman_lengths(&frequencies);
        if lengths.iter().all(|&l| l <= limit) {
            return lengths;
        }
        for f in frequencies.iter_mut().filter(|f| **f > 0) {
            *f = (*f >> 1).max(1);
        }
    }
}

/// Optimal (unlimited) Huffman code lengths. A lone used symbol gets a second, unused partner
/// so that the code is complete, as inflaters expect.
fn huffman_lengths(frequencies: &[u32]) -> Vec<u8> {
    use std::{cmp::Reverse, collections::BinaryHeap};

    let mut lengths = vec![0u8; frequencies.len()];
    let mut used: Vec<usize> = (0..frequencies.len())
        .filter(|&s| frequencies[s] > 0)
        .collect();
    match used.len() {
        0 => return lengths,
        1 => used.push(if used[0] == 0 { 1 } else { 0 }),
        _ => {}
    }
    // Nodes: leaves first (one per used symbol), then internal nodes; `parent` links upwards.
    let mut parent = vec![usize::MAX; 2 * used.len() - 1];
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = used
        .iter()
        .enumerate()
        .map(|(node, &symbol)| Reverse((u64::from(frequencies[symbol]), node)))
        .collect();
    let mut next = used.len();
    while let (Some(Reverse((fa, a))), Some(Reverse((fb, b)))) = (heap.pop(), heap.pop()) {
        parent[a] = next;
        parent[b] = next;
        heap.push(Reverse((fa + fb, next)));
        next += 1;
    }
    // Internal nodes are created after their children, so walking down from the root fills
    // each node's depth from its parent's.
    let mut depth = vec![0u8; parent.len()];
    for node in (0..parent.len() - 1).rev() {
        depth[node] = depth[parent[node]].saturating_add(1);
    }
    for (node, &symbol) in used.iter().enumerate() {
        lengths[symbol] = depth[node];
    }
    lengths
}

/// Canonical Huffman codes for `lengths` (3.2.2), bit-reversed because deflate sends Huffman
/// codes most significant bit first into a least-significant-bit-first stream.
fn canonical_codes(lengths: &[u8]) -> Vec<u16> {
    let mut count = [0u16; 16];
    for &l in lengths {
        count[usize::from(l)] += 1;
    }
    count[0] = 0;
    let mut next = [0u16; 16];
    let mut code = 0u16;
    for bits in 1..16 {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
    }
    lengths
        .iter()
        .map(|&l| match l {
            0 => 0,
            _ => {
                let code = next[usize::from(l)];
                next[usize::from(l)] += 1;
                code.reverse_bits() >> (16 - u16::from(l))
            }
        })
        .collect()
}

/// Bits packed least significant first (3.1.1).
struct BitWriter {
    bytes: Vec<u8>,
    bits: u64,
    count: u32,
}

impl BitWriter {
    fn with_capacity(capacity: usize) -> Self {
        BitWriter {
            bytes: Vec::with_capacity(capacity),
            bits: 0,
            count: 0,
        }
    }

    /// Appends the low `count` bits of `value` (at most 32).
    #[inline]
    fn put(&mut self, value: u64, count: u32) {
        self.bits |= value << self.count;
        self.count += count;
        if self.count >= 32 {
            self.bytes
                .extend_from_slice(&(self.bits as u32).to_le_bytes());
            self.bits >>= 32;
            self.count -= 32;
        }
    }

    /// Pads with zero bits to a byte boundary and writes out what is pending.
    fn align(&mut self) {
        let bytes = self.count.div_ceil(8);
        self.bytes
            .extend_from_slice(&self.bits.to_le_bytes()[..bytes as usize]);
        self.bits = 0;
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_raw(stream: &[u8]) -> Vec<u8> {
        let mut out = vec![0; 1 << 22];
        let config = zlib_rs::InflateConfig { window_bits: -15 };
        let (data, code) = zlib_rs::decompress_slice(&mut out, stream, config);
        assert_eq!(code, zlib_rs::ReturnCode::Ok);
        data.to_vec()
    }

    #[test]
    fn round_trips_noise_runs_and_edge_cases() {
        let mut seed = 7u32;
        let mut noise = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 24) as u8
        };
        let mut mixed = Vec::new();
        for i in 0..300_000usize {
            mixed.push(match (i / 5000) % 3 {
                0 => noise(),
                1 => 0,
                _ => (i % 7) as u8,
            });
        }
        let skewed: Vec<u8> = (0..200_000u32)
            .map(|i| (i.trailing_zeros() % 20) as u8)
            .collect();
        for data in [vec![], vec![9], vec![5; 1000], mixed, skewed] {
            assert_eq!(inflate_raw(&deflate(&data, true)), data);
            // Two halves, the first sync-flushed, make one stream.
            let (a, b) = data.split_at(data.len() / 2);
            let mut joined = deflate(a, false);
            joined.extend(deflate(b, true));
            assert_eq!(inflate_raw(&joined), data);
        }
    }

    #[test]
    fn deep_codes_are_limited() {
        // Fibonacci frequencies make the optimal code as deep as there are symbols.
        let mut frequencies = vec![1u32, 1];
        while frequencies.len() < 30 {
            let n = frequencies.len();
            frequencies.push(frequencies[n - 1] + frequencies[n - 2]);
        }
        let lengths = code_lengths(&frequencies, 15);
        assert!(lengths.iter().all(|&l| (1..=15).contains(&l)));
        let kraft: f64 = lengths.iter().map(|&l| 0.5f64.powi(i32::from(l))).sum();
        assert!(kraft <= 1.0);
    }
}
