//! The WGSL sources, compiled into the crate from the workspace's `shaders/` directory with
//! `include_str!` (never read from disk at run time).
//!
//! WGSL has no `#include`: every module is [`COMMON`] (bindings, header, modular arithmetic),
//! one of the two `mul_wide` files ([`MUL_WIDE_U32`], or [`MUL_WIDE_U64`] on a device opened
//! with 64-bit shader integers), then one kernel file ([`module_source`]). Each file's opening
//! comment states what its kernels assume (moduli below `2^30`, fully reduced inputs, lazy
//! ranges).

/// The prelude: the shared bind-group layout, the per-dispatch header and the u32 modular
/// arithmetic (Shoup and Barrett reductions over `mul_wide`).
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");
/// `mul_wide` from 16-bit halves: any adapter.
pub const MUL_WIDE_U32: &str = include_str!("../../shaders/mul_wide_u32.wgsl");
/// `mul_wide` as one native 64-bit product: devices with `wgpu::Features::SHADER_INT64`.
pub const MUL_WIDE_U64: &str = include_str!("../../shaders/mul_wide_u64.wgsl");
/// Forward and inverse NTT: workgroup-tile passes and register-radix passes.
pub const NTT: &str = include_str!("../../shaders/ntt.wgsl");
/// Add, subtract, negate, pointwise multiply, multiply-accumulate, per-limb constants.
pub const ELEMENTWISE: &str = include_str!("../../shaders/elementwise.wgsl");
/// Basis extension of one limb, fast basis conversion, modulus switching.
pub const BASIS: &str = include_str!("../../shaders/basis.wgsl");
/// Galois automorphisms in both domains.
pub const AUTOMORPHISM: &str = include_str!("../../shaders/automorphism.wgsl");

/// Every kernel file with its name.
pub const FILES: [(&str, &str); 4] = [("ntt", NTT), ("elementwise", ELEMENTWISE), ("basis", BASIS), ("automorphism", AUTOMORPHISM)];

/// The complete WGSL module of one kernel file: the prelude, `mul_wide` (native 64-bit
/// products when `int64`), then the file.
pub fn module_source(file: &str, int64: bool) -> String {
    let mul_wide = if int64 { MUL_WIDE_U64 } else { MUL_WIDE_U32 };
    [COMMON, mul_wide, file].join("\n")
}

/// A compute kernel: one entry point of one file (with its pipeline constants).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kernel {
    NttFwdInner,
    NttInvInner,
    /// Forward register pass of radix `2^r`, `1 ≤ r ≤ 4`.
    NttFwdOuter(u8),
    /// Inverse register pass of radix `2^r`, `1 ≤ r ≤ 4`.
    NttInvOuter(u8),
    Add,
    Sub,
    Negate,
    Mul,
    MulAcc,
    MulConst,
    ReduceLimb,
    ConvertBasis,
    DropLimb,
    DropFinish,
    DivideSpecial,
    AutomorphismCoeff,
    AutomorphismNtt,
}

/// The largest radix (as a power of two) of the NTT register passes.
pub(crate) const MAX_RADIX_LOG: u8 = 4;

impl Kernel {
    /// Every kernel, in pipeline order.
    pub(crate) fn all() -> Vec<Kernel> {
        let mut all = vec![Kernel::NttFwdInner, Kernel::NttInvInner];
        all.extend((1..=MAX_RADIX_LOG).map(Kernel::NttFwdOuter));
        all.extend((1..=MAX_RADIX_LOG).map(Kernel::NttInvOuter));
        all.extend([
            Kernel::Add,
            Kernel::Sub,
            Kernel::Negate,
            Kernel::Mul,
            Kernel::MulAcc,
            Kernel::MulConst,
            Kernel::ReduceLimb,
            Kernel::ConvertBasis,
            Kernel::DropLimb,
            Kernel::DropFinish,
            Kernel::DivideSpecial,
            Kernel::AutomorphismCoeff,
            Kernel::AutomorphismNtt,
        ]);
        all
    }

    /// Position in [`Kernel::all`].
    pub(crate) fn index(self) -> usize {
        let r = MAX_RADIX_LOG as usize;
        match self {
            Kernel::NttFwdInner => 0,
            Kernel::NttInvInner => 1,
            Kernel::NttFwdOuter(k) => 1 + k as usize,
            Kernel::NttInvOuter(k) => 1 + r + k as usize,
            Kernel::Add => 2 + 2 * r,
            Kernel::Sub => 3 + 2 * r,
            Kernel::Negate => 4 + 2 * r,
            Kernel::Mul => 5 + 2 * r,
            Kernel::MulAcc => 6 + 2 * r,
            Kernel::MulConst => 7 + 2 * r,
            Kernel::ReduceLimb => 8 + 2 * r,
            Kernel::ConvertBasis => 9 + 2 * r,
            Kernel::DropLimb => 10 + 2 * r,
            Kernel::DropFinish => 11 + 2 * r,
            Kernel::DivideSpecial => 12 + 2 * r,
            Kernel::AutomorphismCoeff => 13 + 2 * r,
            Kernel::AutomorphismNtt => 14 + 2 * r,
        }
    }

    /// The file (index into [`FILES`]) and entry point.
    pub(crate) fn entry(self) -> (usize, &'static str) {
        match self {
            Kernel::NttFwdInner => (0, "ntt_fwd_inner"),
            Kernel::NttInvInner => (0, "ntt_inv_inner"),
            Kernel::NttFwdOuter(_) => (0, "ntt_fwd_outer"),
            Kernel::NttInvOuter(_) => (0, "ntt_inv_outer"),
            Kernel::Add => (1, "add"),
            Kernel::Sub => (1, "sub"),
            Kernel::Negate => (1, "negate"),
            Kernel::Mul => (1, "mul"),
            Kernel::MulAcc => (1, "mul_acc"),
            Kernel::MulConst => (1, "mul_const"),
            Kernel::ReduceLimb => (2, "reduce_limb"),
            Kernel::ConvertBasis => (2, "convert_basis"),
            Kernel::DropLimb => (2, "drop_limb"),
            Kernel::DropFinish => (2, "drop_finish"),
            Kernel::DivideSpecial => (2, "divide_special"),
            Kernel::AutomorphismCoeff => (3, "automorphism_coeff"),
            Kernel::AutomorphismNtt => (3, "automorphism_ntt"),
        }
    }

    /// Pipeline-overridable constants.
    pub(crate) fn constants(self) -> Vec<(&'static str, f64)> {
        match self {
            Kernel::NttFwdOuter(r) | Kernel::NttInvOuter(r) => vec![("RADIX_LOG", f64::from(r))],
            _ => vec![],
        }
    }

    /// True for kernels whose workgroups own a 4096-residue tile rather than 256 residues.
    pub(crate) fn tiled(self) -> bool {
        matches!(self, Kernel::NttFwdInner | Kernel::NttInvInner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_indices_are_positions() {
        for (i, k) in Kernel::all().into_iter().enumerate() {
            assert_eq!(k.index(), i, "{k:?}");
        }
    }
}
