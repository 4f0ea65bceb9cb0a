//! Records of `shaders/basis.wgsl`: basis extension, fast basis conversion, modulus switching.

use ringvault_core::Error;
use ringvault_core::ring::kernels::DropLimb;
use ringvault_core::rns::{BasisConversion, SpecialDivision};
use ringvault_core::zq::Modulus;

use crate::context::gpu_error;
use crate::plan::{GpuPlan, one_shoup};

/// Records of `reduce_limb`: the output limbs with `⌊2^32/q⌋`.
pub(crate) fn reduce_records(plan: &GpuPlan, out_limbs: &[usize]) -> Vec<u32> {
    out_limbs.iter().flat_map(|&p| plan.limb_record(p, [one_shoup(plan.modulus(p)), 0, 0, 0])).collect()
}

/// Records of `convert_basis`: source `(qᵢ, q̃ᵢ, Shoup)`, target `pⱼ`, then the cross factors.
pub(crate) fn convert_records(conv: &BasisConversion) -> Result<Vec<u32>, Error> {
    let (lf, lt) = (conv.from().len(), conv.to().len());
    let mut w = Vec::with_capacity(8 * (lf + lt) + 2 * lf * lt);
    for (m, &(f, fs)) in conv.from().moduli().iter().zip(conv.source_factors()) {
        w.extend_from_slice(&[m.value(), f, fs, 0, 0, 0, 0, 0]);
    }
    for p in conv.to() {
        w.extend_from_slice(&[p.value(), 0, 0, 0, 0, 0, 0, 0]);
    }
    for row in conv.cross_factors() {
        if row.len() != lf {
            return Err(gpu_error("basis conversion constants of the wrong size"));
        }
        for &(c, cs) in row {
            w.extend_from_slice(&[c, cs]);
        }
    }
    Ok(w)
}

/// Records of `divide_special` (and of its `drop_finish`): the level's primes with `t` and
/// `P⁻¹`, the special primes with `t⁻¹·(P/pⱼ)⁻¹` (the conversion's source factor and `t⁻¹`
/// in one constant: the same residue as the two products), then the cross factors by output.
pub(crate) fn divide_records(div: &SpecialDivision) -> Result<Vec<u32>, Error> {
    let conv = &div.conv;
    let (l, k) = (div.level(), div.special_count());
    let mut w = Vec::with_capacity(8 * (l + k) + 2 * l * k);
    for (i, q) in conv.to().iter().enumerate() {
        let (tq, pinv) = (div.t_mod_q[i], div.p_inv_q[i]);
        w.extend_from_slice(&[q.value(), tq, q.shoup(tq), pinv, q.shoup(pinv), 0, 0, 0]);
    }
    for (j, (p, &(f, _))) in conv.from().moduli().iter().zip(conv.source_factors()).enumerate() {
        let c = p.mul(div.t_inv_special[j], f);
        w.extend_from_slice(&[p.value(), c, p.shoup(c), 0, 0, 0, 0, 0]);
    }
    for row in conv.cross_factors() {
        if row.len() != k {
            return Err(gpu_error("special-division constants of the wrong size"));
        }
        for &(c, cs) in row {
            w.extend_from_slice(&[c, cs]);
        }
    }
    Ok(w)
}

/// Header parameters (from `p0`) and records of `drop_limb` / `drop_finish` for a batch of `l`
/// limbs; `correction_only` treats the remaining limbs as zero (the NTT-domain switch).
pub(crate) fn drop_params(drop: &DropLimb<'_>, l: usize, correction_only: bool) -> (Vec<u32>, Vec<u32>) {
    let last: &Modulus = drop.last;
    let params = vec![l as u32, last.value(), drop.t_inv_last, last.shoup(drop.t_inv_last), u32::from(correction_only)];
    let records = drop
        .remaining
        .iter()
        .zip(&drop.consts)
        .flat_map(|(m, c)| [m.value(), one_shoup(m), c.ql_mod, c.ql_inv, m.shoup(c.ql_inv), c.t_mod, m.shoup(c.t_mod), 0])
        .collect();
    (params, records)
}
