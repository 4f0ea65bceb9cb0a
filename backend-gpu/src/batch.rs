//! The device-resident batch: a [`BatchShape`] and one device buffer per chunk of polynomials.

use std::marker::PhantomData;

use ringvault_core::{BatchShape, Domain, HasShape};

use crate::buffers::PooledBuffer;

/// One device buffer holding `polys` whole polynomials (limb-major, like a host batch).
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) buffer: PooledBuffer,
    pub(crate) polys: usize,
}

impl Chunk {
    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        self.buffer.buffer()
    }
}

/// A batch of RNS polynomials on the GPU, in domain `D`.
///
/// Polynomial `p` lives in chunk `p / polys_per_chunk` of the plan that made it (one chunk
/// unless the batch is larger than the binding limit or the chunk size chosen in
/// [`crate::GpuOptions`]). Dropping a batch returns its buffers to the backend's pool.
#[derive(Debug)]
pub struct GpuBatch<D: Domain> {
    pub(crate) shape: BatchShape,
    pub(crate) chunks: Vec<Chunk>,
    _domain: PhantomData<D>,
}

impl<D: Domain> HasShape for GpuBatch<D> {
    fn shape(&self) -> &BatchShape {
        &self.shape
    }
}

impl<D: Domain> GpuBatch<D> {
    pub(crate) fn new(shape: BatchShape, chunks: Vec<Chunk>) -> Self {
        Self { shape, chunks, _domain: PhantomData }
    }

    /// The same buffers relabelled as domain `E` (after a transform of every row).
    pub(crate) fn relabel<E: Domain>(self) -> GpuBatch<E> {
        GpuBatch { shape: self.shape, chunks: self.chunks, _domain: PhantomData }
    }

    /// Number of device buffers.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Bytes of one polynomial.
    pub(crate) fn poly_bytes(&self) -> u64 {
        (self.shape.limbs.len() * self.shape.n * 4) as u64
    }
}
