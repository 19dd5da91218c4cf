//! Deterministic file content that is computed, never stored.
//!
//! Byte `i` of the pattern with seed `s` is byte `i % 8` (little-endian) of
//! `splitmix64(splitmix64(s) ^ (i / 8))`. splitmix64 is a bijection, so within
//! one file no two 8-byte words are equal and the content never repeats: a
//! chunk written at the wrong offset, duplicated or dropped always shows up as
//! a mismatch. Hashing the seed first keeps files with nearby seeds (0, 1, 2…)
//! from being word-permutations of each other.

/// The splitmix64 finaliser (Steele, Lea & Flood): a cheap, well-mixed
/// bijection on `u64`.
#[inline(always)]
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 8 bytes of word `index` for an already hashed seed.
#[inline(always)]
fn word(key: u64, index: u64) -> [u8; 8] {
    splitmix64(key ^ index).to_le_bytes()
}

/// Byte `index` of the pattern for `seed`: the reference definition, one byte
/// at a time. [`pattern_fill`] produces the same bytes much faster.
///
/// ```
/// let seed = 7;
/// let mut buf = [0u8; 3];
/// pardl_testserver::pattern_fill(seed, 1000, &mut buf);
/// assert_eq!(buf[1], pardl_testserver::pattern_byte(seed, 1001));
/// ```
pub fn pattern_byte(seed: u64, index: u64) -> u8 {
    word(splitmix64(seed), index / 8)[(index % 8) as usize]
}

/// Fills `buf` with the bytes of `Body::Pattern { seed, .. }` at
/// `[offset, offset + buf.len())`.
///
/// This is what the server itself uses for every body slice, so it works in
/// whole 8-byte words and only handles a partial word at either end;
/// benchmarks push gigabytes through it.
///
/// ```
/// use pardl_testserver::{pattern_bytes, pattern_fill};
/// let mut buf = vec![0u8; 100];
/// pattern_fill(42, 13, &mut buf); // unaligned offset is fine
/// assert_eq!(buf, pattern_bytes(42, 13, 100));
/// ```
pub fn pattern_fill(seed: u64, offset: u64, buf: &mut [u8]) {
    if buf.is_empty() {
        return;
    }
    let key = splitmix64(seed);
    let mut index = offset / 8;
    let skip = (offset % 8) as usize;

    // Leading partial word, when `offset` is not a multiple of 8.
    let head_len = if skip == 0 {
        0
    } else {
        (8 - skip).min(buf.len())
    };
    let (head, rest) = buf.split_at_mut(head_len);
    if head_len > 0 {
        head.copy_from_slice(&word(key, index)[skip..skip + head_len]);
        index = index.wrapping_add(1);
    }

    // Whole words, as a slice pattern plus shifts. Optimised builds are fast
    // with any formulation, but pardl's tests run this crate unoptimised,
    // where the iterator and memcpy calls of the obvious `chunks_exact_mut` +
    // `copy_from_slice` loop made it ~5x slower (about 120 vs 600 MiB/s).
    let mut rest = rest;
    while let [b0, b1, b2, b3, b4, b5, b6, b7, tail @ ..] = rest {
        let w = splitmix64(key ^ index);
        *b0 = w as u8;
        *b1 = (w >> 8) as u8;
        *b2 = (w >> 16) as u8;
        *b3 = (w >> 24) as u8;
        *b4 = (w >> 32) as u8;
        *b5 = (w >> 40) as u8;
        *b6 = (w >> 48) as u8;
        *b7 = (w >> 56) as u8;
        index = index.wrapping_add(1);
        rest = tail;
    }

    // Trailing partial word.
    if !rest.is_empty() {
        let n = rest.len();
        rest.copy_from_slice(&word(key, index)[..n]);
    }
}

/// The exact bytes of `Body::Pattern { seed, .. }` at `[offset, offset + len)`,
/// for comparing against what a client downloaded.
///
/// ```
/// use pardl_testserver::pattern_bytes;
/// let whole = pattern_bytes(1, 0, 64);
/// assert_eq!(&whole[10..20], &pattern_bytes(1, 10, 10)[..]);
/// assert_ne!(whole, pattern_bytes(2, 0, 64)); // the seed matters
/// ```
pub fn pattern_bytes(seed: u64, offset: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    pattern_fill(seed, offset, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_matches_per_byte_definition_at_every_alignment() {
        for seed in [0u64, 1, 0xDEAD_BEEF, u64::MAX] {
            for offset in 0..17u64 {
                for len in [0usize, 1, 3, 7, 8, 9, 15, 16, 17, 63, 100] {
                    let got = pattern_bytes(seed, offset, len);
                    let want: Vec<u8> = (offset..offset + len as u64)
                        .map(|i| pattern_byte(seed, i))
                        .collect();
                    assert_eq!(got, want, "seed {seed} offset {offset} len {len}");
                }
            }
        }
    }

    #[test]
    fn fill_works_near_u64_max() {
        let offset = u64::MAX - 20;
        let got = pattern_bytes(3, offset, 20);
        let want: Vec<u8> = (offset..offset + 20).map(|i| pattern_byte(3, i)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn words_do_not_repeat_within_a_file() {
        // A shifted copy must never match: that is what catches chunks written
        // at the wrong offset.
        let data = pattern_bytes(5, 0, 1 << 16);
        let mut words: Vec<&[u8]> = data.chunks(8).collect();
        words.sort();
        words.dedup();
        assert_eq!(words.len(), (1 << 16) / 8);
        for shift in [1usize, 8, 4096, 65536 / 2] {
            assert_ne!(&data[..1024], &data[shift..shift + 1024], "shift {shift}");
        }
    }
}
