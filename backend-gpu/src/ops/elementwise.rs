//! Per-chunk dispatches (element-wise, automorphism and basis kernels): one launch per
//! chunk of the output, the inputs' matching chunks bound beside it (chunk 0 of a broadcast
//! operand).

use ringvault_core::{Domain, Error};

use super::Dispatch;
use crate::batch::{Chunk, GpuBatch};
use crate::plan::{GpuPlan, header};
use crate::shaders::Kernel;

/// An input of a per-chunk kernel: a batch's chunks and whether it is broadcast (one
/// polynomial applied to every polynomial of the output). Untyped by domain: a kernel may read
/// a batch transformed in place earlier in the same submission.
pub(crate) type Input<'a> = (&'a [Chunk], bool);

/// The per-limb records of `out`'s limbs, with `extra(limb)` in the last four words.
pub(crate) fn records<D: Domain>(plan: &GpuPlan, out: &GpuBatch<D>, extra: impl Fn(usize) -> [u32; 4]) -> Vec<u32> {
    out.shape.limbs.iter().enumerate().flat_map(|(i, &p)| plan.limb_record(p, extra(i))).collect()
}

/// One launch of `kernel` per chunk of `out` with header parameters `params` (from `p0`),
/// binding `inputs` as `src0`, `src1`. Inputs have `out`'s polynomial count (so the same
/// chunking) unless broadcast. Call inside an error scope.
pub(crate) fn per_chunk<'a, D: Domain>(
    plan: &'a GpuPlan,
    kernel: Kernel,
    out: &'a GpuBatch<D>,
    inputs: &[Input<'a>],
    params: &[u32],
    records: &[u32],
) -> Result<Vec<Dispatch<'a>>, Error> {
    let width = (out.shape.limbs.len() * out.shape.n) as u64;
    out.chunks
        .iter()
        .enumerate()
        .map(|(c, chunk)| {
            let total = chunk.polys as u64 * width;
            let mut words = header(&out.shape, out.shape.limbs.len(), total, params);
            words.extend_from_slice(records);
            let mut d = Dispatch::new(kernel, plan.info(words)?, chunk.buffer(), total);
            for (slot, &(input, bcast)) in inputs.iter().enumerate() {
                let b = input[if bcast { 0 } else { c }].buffer();
                d = if slot == 0 { d.src0(b) } else { d.src1(b) };
            }
            Ok(d)
        })
        .collect()
}
