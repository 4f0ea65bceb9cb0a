//! The NTT schedule: which passes of `shaders/ntt.wgsl` transform a chunk.
//!
//! Rows of `n ≤ 4096` residues transform in one tiled pass (workgroup memory). Larger rows
//! first (forward) or last (inverse) run the `log₂ n − 12` stages whose blocks exceed a tile in
//! register passes of radix up to 16, so `n = 2^15` takes one register pass (radix 8) and one
//! tiled pass, and `n = 2^16` one radix-16 pass and one tiled pass.

use ringvault_core::{BatchShape, Error};

use super::{Dispatch, TILE};
use crate::plan::{GpuPlan, header};
use crate::shaders::{Kernel, MAX_RADIX_LOG};

/// `log₂` of the tile: the largest `tile_log` the schedule accepts.
pub(crate) const TILE_LOG: u32 = TILE.trailing_zeros();

/// Which rows of a chunk to transform: logical row `r` is physical row `r·stride + offset`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rows {
    pub(crate) count: usize,
    pub(crate) stride: usize,
    pub(crate) offset: usize,
}

impl Rows {
    /// Every row of a chunk of `polys` polynomials of `shape`.
    pub(crate) fn all(shape: &BatchShape, polys: usize) -> Self {
        Self { count: polys * shape.limbs.len(), stride: 1, offset: 0 }
    }
}

/// The stage counts of the register passes, in forward order (stage 0 first), when the tiled
/// pass handles blocks of up to `2^tile_log` residues.
fn outer_passes(log_n: u32, tile_log: u32) -> Vec<u32> {
    let outer = log_n.saturating_sub(tile_log);
    if outer == 0 {
        return vec![];
    }
    let max = u32::from(MAX_RADIX_LOG);
    let passes = outer.div_ceil(max);
    (0..passes).map(|i| outer / passes + u32::from(i < outer % passes)).collect()
}

/// The dispatches of a forward (`forward = true`) or inverse NTT of `rows` of the chunk
/// `buffer` of a batch of `shape`, the tiled pass handling blocks of up to `2^tile_log`
/// residues (`1 ≤ tile_log ≤ 12`). Call inside an error scope.
pub(crate) fn dispatches<'a>(plan: &'a GpuPlan, shape: &BatchShape, buffer: &'a wgpu::Buffer, rows: Rows, forward: bool, tile_log: u32) -> Result<Vec<Dispatch<'a>>, Error> {
    let n = shape.n;
    let log_n = n.trailing_zeros();
    let records: Vec<u32> = shape
        .limbs
        .iter()
        .flat_map(|&p| {
            let t = plan.ring().table(p);
            plan.limb_record(p, [t.n_inv(), t.n_inv_shoup(), 0, 0])
        })
        .collect();
    let info = |total: u64, p0: u32, last: bool| {
        let mut w = header(shape, shape.limbs.len(), total, &[p0, u32::from(last), rows.stride as u32, rows.offset as u32]);
        w.extend_from_slice(&records);
        plan.info(w)
    };
    let residues = (rows.count * n) as u64;
    let tile_log = tile_log.clamp(1, TILE_LOG);
    // log₂ of the largest half-block of the tiled pass.
    let half_tile = log_n.min(tile_log) - 1;
    let passes = outer_passes(log_n, tile_log);
    let mut out = Vec::with_capacity(passes.len() + 1);
    let outer = |s0: u32, r: u32, last: bool| -> Result<Dispatch<'a>, Error> {
        let kernel = if forward { Kernel::NttFwdOuter(r as u8) } else { Kernel::NttInvOuter(r as u8) };
        let threads = residues >> r;
        Ok(Dispatch::new(kernel, info(threads, s0, last)?, buffer, threads).twiddles(&plan.twiddles))
    };
    if forward {
        let mut s0 = 0;
        for &r in &passes {
            out.push(outer(s0, r, false)?);
            s0 += r;
        }
        out.push(Dispatch::new(Kernel::NttFwdInner, info(residues, half_tile, true)?, buffer, residues).twiddles(&plan.twiddles));
    } else {
        out.push(Dispatch::new(Kernel::NttInvInner, info(residues, half_tile, passes.is_empty())?, buffer, residues).twiddles(&plan.twiddles));
        let mut s0: u32 = passes.iter().sum();
        for &r in passes.iter().rev() {
            s0 -= r;
            out.push(outer(s0, r, s0 == 0)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_passes_cover_the_large_stages() {
        assert!(outer_passes(10, 12).is_empty());
        assert!(outer_passes(12, 12).is_empty());
        assert_eq!(outer_passes(13, 12), vec![1]);
        assert_eq!(outer_passes(15, 12), vec![3]);
        assert_eq!(outer_passes(16, 12), vec![4]);
        assert_eq!(outer_passes(17, 12), vec![3, 2]);
        assert_eq!(outer_passes(20, 12), vec![4, 4]);
        assert_eq!(outer_passes(12, 8), vec![4]);
        assert_eq!(outer_passes(10, 8), vec![2]);
    }
}
