//! Per-ring precomputation: the NTT tables on the device (uploaded once per plan), the chunking
//! of batches, and a cache of the small per-dispatch parameter buffers.
//!
//! # Parameter buffers
//! Every dispatch binds one small buffer twice: its first 16 words as a uniform header (sizes,
//! flags, scalars; uniform so that loop bounds around barriers are uniform) and the whole
//! buffer as read-only storage, whose words from 16 on are 8-word per-limb records (modulus,
//! Barrett and Shoup constants). Each shader file documents its header fields and records. The
//! words are a pure function of the operation's shape and constants, so buffers are cached by
//! content: repeated operations upload nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ringvault_core::zq::Modulus;
use ringvault_core::{BatchShape, Error, RingContext};
use wgpu::util::DeviceExt;

use crate::context::gpu_error;

/// Words of the header that precede the records.
pub(crate) const HEADER_WORDS: usize = 16;

/// Cached parameter buffers at most (the cache is emptied when full).
const INFO_CACHE_ENTRIES: usize = 4096;

/// The GPU backend's plan for one ring.
#[derive(Debug)]
pub struct GpuPlan {
    ring: Arc<RingContext>,
    /// For prime `p`: `(ψ^{brv(k)}, Shoup)` pairs at `p·2n`, `(ψ^{−brv(k)}, Shoup)` at `p·2n + n`.
    pub(crate) twiddles: wgpu::Buffer,
    /// Polynomials per buffer chunk: every batch of this plan is split at the same polynomial
    /// boundaries, whatever its limb count, so chunk `c` of one batch meets chunk `c` of another.
    pub(crate) polys_per_chunk: usize,
    device: wgpu::Device,
    info: Mutex<HashMap<Vec<u32>, Arc<wgpu::Buffer>>>,
}

impl AsRef<RingContext> for GpuPlan {
    fn as_ref(&self) -> &RingContext {
        &self.ring
    }
}

impl GpuPlan {
    /// Uploads the tables. Call inside an error scope.
    pub(crate) fn new(device: &wgpu::Device, ring: Arc<RingContext>, polys_per_chunk: usize) -> Self {
        let n = ring.n();
        let mut words = Vec::with_capacity(ring.len() * 4 * n);
        for table in ring.tables() {
            for (w, s) in [(table.psi_rev(), table.psi_rev_shoup()), (table.psi_inv_rev(), table.psi_inv_rev_shoup())] {
                for (&a, &b) in w.iter().zip(s) {
                    words.push(a);
                    words.push(b);
                }
            }
        }
        let twiddles = device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some("ntt twiddles"), contents: bytemuck::cast_slice(&words), usage: wgpu::BufferUsages::STORAGE });
        Self { ring, twiddles, polys_per_chunk, device: device.clone(), info: Mutex::new(HashMap::new()) }
    }

    /// The ring.
    pub fn ring(&self) -> &Arc<RingContext> {
        &self.ring
    }

    /// Polynomials per device buffer chunk (batches with more are split).
    pub fn polys_per_chunk(&self) -> usize {
        self.polys_per_chunk
    }

    /// `(first polynomial, polynomials)` of each chunk of a batch of `count` polynomials.
    pub(crate) fn chunks(&self, count: usize) -> Vec<(usize, usize)> {
        let per = self.polys_per_chunk.max(1);
        (0..count.div_ceil(per)).map(|c| (c * per, per.min(count - c * per))).collect()
    }

    /// The parameter buffer holding `words` (cached by content). Call inside an error scope.
    pub(crate) fn info(&self, words: Vec<u32>) -> Result<Arc<wgpu::Buffer>, Error> {
        let mut cache = self.info.lock().map_err(|_| gpu_error("parameter cache lock poisoned"))?;
        if let Some(b) = cache.get(&words) {
            return Ok(b.clone());
        }
        if cache.len() >= INFO_CACHE_ENTRIES {
            cache.clear();
        }
        let buffer = Arc::new(self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("dispatch parameters"),
            contents: bytemuck::cast_slice(&words),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::STORAGE,
        }));
        cache.insert(words, buffer.clone());
        Ok(buffer)
    }

    /// The modulus of context prime `p`.
    pub(crate) fn modulus(&self, p: usize) -> &Modulus {
        self.ring.modulus(p)
    }

    /// The standard 8-word record of a batch limb naming context prime `p`: prime index, `q`,
    /// Barrett `μ`, bit length of `q`, then `extra`.
    pub(crate) fn limb_record(&self, p: usize, extra: [u32; 4]) -> [u32; 8] {
        let m = self.modulus(p);
        let (mu, k) = barrett(m);
        [p as u32, m.value(), mu, k, extra[0], extra[1], extra[2], extra[3]]
    }
}

/// The Barrett constants of the shaders' `mul_mod`: `(⌊2^{2k}/q⌋, k)` with `k` the bit length of
/// `q` (`2 ≤ k ≤ 30`, so `μ ≤ 2^31`).
pub(crate) fn barrett(m: &Modulus) -> (u32, u32) {
    let k = m.bits();
    (((1u64 << (2 * k)) / u64::from(m.value())) as u32, k)
}

/// `⌊2^32 / q⌋`, the Shoup companion of 1: the shaders' `reduce_u32` constant.
pub(crate) fn one_shoup(m: &Modulus) -> u32 {
    m.shoup(1)
}

/// A header: `n`, `log n`, `limbs`, `total`, then up to 12 kernel parameters.
pub(crate) fn header(shape: &BatchShape, limbs: usize, total: u64, params: &[u32]) -> Vec<u32> {
    let mut w = vec![0u32; HEADER_WORDS];
    w[0] = shape.n as u32;
    w[1] = shape.n.trailing_zeros();
    w[2] = limbs as u32;
    w[3] = total as u32;
    for (slot, &p) in w[4..].iter_mut().zip(params) {
        *slot = p;
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shaders' Barrett product, on the host: `a·b mod q` for `a, b < q`.
    fn barrett_mul(a: u32, b: u32, m: &Modulus) -> u32 {
        let (mu, k) = barrett(m);
        let q = m.value();
        let x = u64::from(a) * u64::from(b);
        let x1 = (x >> (k - 1)) as u32;
        let quot = ((u64::from(x1) * u64::from(mu)) >> (k + 1)) as u32;
        let r = (x as u32).wrapping_sub(quot.wrapping_mul(q));
        assert!(r < 3 * q, "estimate short by more than 2");
        ringvault_core::zq::reduce_once(ringvault_core::zq::reduce_once(r, 2 * q), q)
    }

    #[test]
    fn barrett_matches_core_on_edges() {
        for q in [2u32, 3, 17, 257, 65537, (1 << 20) + 7, 998_244_353, (1 << 30) - 35, (1 << 29) + 11] {
            let m = Modulus::new(q).unwrap();
            for a in [0, 1, q / 2, q - 2, q - 1].into_iter().filter(|&a| a < q) {
                for b in [0, 1, 2, q / 3, q - 2, q - 1].into_iter().filter(|&b| b < q) {
                    assert_eq!(barrett_mul(a, b, &m), m.mul(a, b), "q={q} a={a} b={b}");
                }
            }
        }
    }
}
