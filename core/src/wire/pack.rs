//! Bit packing of residue rows, and a bounds-checked reader over a body.
//!
//! A row of `n` values below `m` takes `⌈n·w/8⌉` bytes with `w = ⌈log₂ m⌉`: value `i` sits in
//! bits `i·w … i·w + w − 1` of the row, counting from bit 0 of byte 0 (little-endian bit
//! order). Unused high bits of the last byte are zero.

use crate::Error;

/// `⌈log₂ m⌉`: the bits of a value in `[0, m)`, `m ≥ 2`.
pub(crate) const fn width(m: u32) -> u32 {
    32 - (m - 1).leading_zeros()
}

/// Bytes of one packed row of `n` values of width `w`.
pub(crate) const fn row_bytes(n: usize, w: u32) -> usize {
    (n * w as usize).div_ceil(8)
}

/// Appends `values` (each below `2^w`, `w ≤ 32`) packed to `w` bits, padded to a byte.
pub(crate) fn pack_row(values: &[u32], w: u32, out: &mut Vec<u8>) {
    debug_assert!(w <= 32 && values.iter().all(|&v| w == 32 || v >> w == 0));
    out.reserve(row_bytes(values.len(), w));
    // Whole groups of 8 values (exactly `w` bytes, so the rest starts on a byte) at a fixed
    // width, then value by value.
    let grouped = pack_groups(values, w, out);
    let mut acc = 0u64;
    let mut bits = 0u32;
    for &v in &values[grouped..] {
        acc |= u64::from(v) << bits;
        bits += w;
        if bits >= 32 {
            out.extend_from_slice(&(acc as u32).to_le_bytes());
            acc >>= 32;
            bits -= 32;
        }
    }
    out.extend_from_slice(&acc.to_le_bytes()[..bits.div_ceil(8) as usize]);
}

/// Unpacks `out.len()` values of width `w` from `src` (exactly one packed row) and checks that
/// each is below `m` and that the padding bits are zero.
///
/// # Errors
/// [`Error::WireLength`] if `src` is not one row long; [`Error::ResidueOutOfRange`] for a value
/// `≥ m`; [`Error::WireNonCanonical`] for nonzero padding bits.
pub(crate) fn unpack_row(src: &[u8], w: u32, m: u32, out: &mut [u32]) -> Result<(), Error> {
    let expected = row_bytes(out.len(), w);
    if src.len() != expected {
        return Err(Error::WireLength { what: "packed row", expected: expected as u64, found: src.len() as u64 });
    }
    let mask = if w == 32 { u64::from(u32::MAX) } else { (1u64 << w) - 1 };
    let n = out.len();
    // Whole groups of 8 values (exactly `w` bytes) at a fixed width first, then value by
    // value: value `i` starts at bit `i·w`, and an unaligned 8-byte load at its byte holds
    // all of it (`w + 7 ≤ 39 < 64` bits). Values whose load stays inside `src` take that
    // path (no branch per value); the last few read their bytes one by one.
    let grouped = unpack_groups(src, w, out);
    let fast = if src.len() >= 8 { n.min((src.len() - 8) * 8 / w as usize + 1) } else { 0 };
    for (i, o) in out[..fast].iter_mut().enumerate().skip(grouped) {
        let bit = i * w as usize;
        let at = bit / 8;
        let word = u64::from_le_bytes([src[at], src[at + 1], src[at + 2], src[at + 3], src[at + 4], src[at + 5], src[at + 6], src[at + 7]]);
        *o = ((word >> (bit % 8)) & mask) as u32;
    }
    for (i, o) in out.iter_mut().enumerate().skip(fast) {
        let bit = i * w as usize;
        let mut word = 0u64;
        for (k, &b) in src.iter().skip(bit / 8).take(5).enumerate() {
            word |= u64::from(b) << (8 * k);
        }
        *o = ((word >> (bit % 8)) & mask) as u32;
    }
    // The bits of the last byte past n·w are padding.
    let used = (n * w as usize) % 8;
    if used != 0 && src.last().is_some_and(|&b| b >> used != 0) {
        return Err(Error::WireNonCanonical { what: "nonzero padding bits after a packed row" });
    }
    // A branch-free maximum vectorises; the culprit is searched only on failure.
    if out.iter().fold(0, |a, &x| a.max(x)) >= m {
        let bad = out.iter().copied().find(|&x| x >= m).unwrap_or(m);
        return Err(Error::ResidueOutOfRange { value: bad, q: m });
    }
    Ok(())
}

/// `f::<W>(args)` with `W` the runtime width `w` made a constant (`1 ≤ w ≤ 32`; 0 for any
/// other width: nothing done).
macro_rules! at_width {
    ($w:expr, $f:ident $args:tt) => {
        at_width!(@ $w, $f $args; 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
    };
    (@ $w:expr, $f:ident $args:tt; $($n:literal)*) => {
        match $w {
            $($n => $f::<$n> $args,)*
            _ => 0,
        }
    };
}

/// Packs the leading whole groups of 8 values of width `w` (`1 ≤ w ≤ 32`) onto `out`, with
/// the width a constant (every shift and byte position fixed); returns how many values it
/// took (a multiple of 8).
fn pack_groups(values: &[u32], w: u32, out: &mut Vec<u8>) -> usize {
    at_width!(w, pack_groups_of(values, out))
}

/// [`pack_groups`] at width `W`.
#[inline]
fn pack_groups_of<const W: usize>(values: &[u32], out: &mut Vec<u8>) -> usize {
    let groups = values.len() / 8;
    let start = out.len();
    out.resize(start + groups * W, 0);
    for (vals, bytes) in values.chunks_exact(8).zip(out[start..].chunks_exact_mut(W)) {
        let (mut acc, mut bits, mut at) = (0u64, 0usize, 0usize);
        for &v in vals {
            acc |= u64::from(v) << bits;
            bits += W;
            while bits >= 8 {
                bytes[at] = acc as u8;
                acc >>= 8;
                bits -= 8;
                at += 1;
            }
        }
    }
    groups * 8
}

/// Unpacks the leading groups of 8 values of width `w` (`1 ≤ w ≤ 32`) whose 8-byte loads
/// stay inside `src`, with the width a constant (every offset and shift fixed); returns how
/// many values it wrote (a multiple of 8). The values are not range-checked.
fn unpack_groups(src: &[u8], w: u32, out: &mut [u32]) -> usize {
    at_width!(w, unpack_groups_of(src, out))
}

/// [`unpack_groups`] at width `W`.
#[inline]
fn unpack_groups_of<const W: usize>(src: &[u8], out: &mut [u32]) -> usize {
    let mask = if W == 32 { u64::from(u32::MAX) } else { (1u64 << W) - 1 };
    // Group g spans bytes g·W … g·W + W − 1; its loads end before byte g·W + W + 8.
    let groups = (out.len() / 8).min(src.len().saturating_sub(8) / W);
    for (g, values) in out[..groups * 8].chunks_exact_mut(8).enumerate() {
        let bytes = &src[g * W..g * W + W + 8];
        for (k, o) in values.iter_mut().enumerate() {
            let (at, shift) = (k * W / 8, k * W % 8);
            let word = u64::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3], bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
            *o = ((word >> shift) & mask) as u32;
        }
    }
    groups * 8
}

/// A cursor over a body whose total length has already been checked.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// The next `len` bytes.
    ///
    /// # Errors
    /// [`Error::WireLength`] past the end (not reached after the exact-length check).
    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(len).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(Error::WireLength { what: "body", expected: (self.pos as u64).saturating_add(len as u64), found: self.bytes.len() as u64 });
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// A 32-byte seed.
    pub(crate) fn seed(&mut self) -> Result<[u8; 32], Error> {
        let mut s = [0u8; 32];
        s.copy_from_slice(self.take(32)?);
        Ok(s)
    }

    /// One packed row into `out`.
    pub(crate) fn row(&mut self, w: u32, m: u32, out: &mut [u32]) -> Result<(), Error> {
        let src = self.take(row_bytes(out.len(), w))?;
        unpack_row(src, w, m, out)
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_ceil_log2() {
        assert_eq!(width(2), 1);
        assert_eq!(width(3), 2);
        assert_eq!(width(4), 2);
        assert_eq!(width(5), 3);
        assert_eq!(width(257), 9);
        assert_eq!(width(65537), 17);
        assert_eq!(width((1 << 30) - 35), 30);
    }

    #[test]
    fn rows_round_trip_at_every_width() {
        for w in 1..=30u32 {
            for n in [1usize, 2, 3, 7, 8, 16, 33] {
                let m = (1u32 << w) - 1 + u32::from(w == 1);
                let values: Vec<u32> = (0..n as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 3) % m).collect();
                let mut bytes = Vec::new();
                pack_row(&values, w, &mut bytes);
                assert_eq!(bytes.len(), row_bytes(n, w), "w={w} n={n}");
                let mut back = vec![0; n];
                unpack_row(&bytes, w, m, &mut back).unwrap();
                assert_eq!(back, values, "w={w} n={n}");
            }
        }
    }

    /// Bit `k` of a packed row, read one bit at a time (the definition of the layout).
    fn reference_unpack(src: &[u8], w: u32, n: usize) -> Vec<u32> {
        (0..n).map(|i| (0..w as usize).map(|b| u32::from((src[(i * w as usize + b) / 8] >> ((i * w as usize + b) % 8)) & 1) << b).sum()).collect()
    }

    #[test]
    fn unpacking_matches_the_bitwise_definition() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for w in 1u32..=32 {
            for n in [1usize, 2, 7, 8, 9, 15, 64, 129, 4096] {
                let values: Vec<u32> = (0..n).map(|_| (next() as u32) & if w == 32 { u32::MAX } else { (1 << w) - 1 }).collect();
                let mut bytes = Vec::new();
                pack_row(&values, w, &mut bytes);
                assert_eq!(reference_unpack(&bytes, w, n), values, "pack w={w} n={n}");
                let mut back = vec![0; n];
                unpack_row(&bytes, w, u32::MAX, &mut back).unwrap_or_else(|e| panic!("w={w} n={n}: {e}"));
                assert_eq!(back, values, "unpack w={w} n={n}");
                if !(n * w as usize).is_multiple_of(8) {
                    let mut bad = bytes.clone();
                    *bad.last_mut().unwrap() |= 0x80;
                    assert!(matches!(unpack_row(&bad, w, u32::MAX, &mut back), Err(Error::WireNonCanonical { .. })), "padding w={w} n={n}");
                }
            }
        }
    }

    #[test]
    fn known_layout() {
        // Values 1, 2, 3 at 3 bits: 001 010 011 → bits 0..9 = 1,0,0, 0,1,0, 1,1,0 → 0b1101_0001,
        // 0b0000_0000.
        let mut bytes = Vec::new();
        pack_row(&[1, 2, 3], 3, &mut bytes);
        assert_eq!(bytes, [0b1101_0001, 0]);
    }

    #[test]
    fn bad_rows_are_typed_errors() {
        let mut bytes = Vec::new();
        pack_row(&[1, 2, 3], 3, &mut bytes);
        let mut out = [0; 3];
        // A value equal to the modulus.
        assert_eq!(unpack_row(&bytes, 3, 3, &mut out), Err(Error::ResidueOutOfRange { value: 3, q: 3 }));
        // Padding bits set.
        bytes[1] |= 0x80;
        assert!(matches!(unpack_row(&bytes, 3, 5, &mut out), Err(Error::WireNonCanonical { .. })));
        // Wrong length.
        assert!(matches!(unpack_row(&bytes[..1], 3, 5, &mut out), Err(Error::WireLength { .. })));
    }
}
