//! Element-wise kernel dispatch: each function matches on the level once per row and calls the
//! AVX-512, AVX2 or scalar twin (the reference kernels of `ringvault_core::ring::kernels`).

use ringvault_core::ring::kernels;
use ringvault_core::rns::BasisConversion;
use ringvault_core::zq::Modulus;

use crate::CpuLevel;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "x86_64")]
mod shared;

/// Scalar fast basis conversion of one polynomial (`|Q|` rows in, `|P|` rows out), the twin of
/// the vector versions; coefficient by coefficient through `BasisConversion::convert_one`.
pub(crate) fn convert_basis_poly_scalar(conv: &BasisConversion, src: &[u32], out: &mut [u32], n: usize) {
    let (lf, lt) = (conv.from().len(), conv.to().len());
    let mut x = vec![0; lf];
    let mut scratch = vec![0; lf];
    let mut y = vec![0; lt];
    for i in 0..n {
        for (l, xl) in x.iter_mut().enumerate() {
            *xl = src[l * n + i];
        }
        conv.convert_one(&x, &mut scratch, &mut y);
        for (j, &yj) in y.iter().enumerate() {
            out[j * n + i] = yj;
        }
    }
}

/// Calls `$f` at the given level: the vector twin where the level has one, else the scalar.
macro_rules! dispatch {
    ($level:expr, $scalar:path, $f:ident ( $($arg:expr),* )) => {
        match $level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a level above Scalar exists only where its CPU features were detected
            // (`CpuBackend::with_level` checks `CpuLevel::is_supported`).
            CpuLevel::Avx512 => unsafe { avx512::$f($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            CpuLevel::Avx2 => unsafe { avx2::$f($($arg),*) },
            _ => $scalar($($arg),*),
        }
    };
}

/// `a += b` on one row.
pub(crate) fn add_row(level: CpuLevel, a: &mut [u32], b: &[u32], m: &Modulus) {
    dispatch!(level, kernels::add_row, add_row(a, b, m))
}
/// `a −= b` on one row.
pub(crate) fn sub_row(level: CpuLevel, a: &mut [u32], b: &[u32], m: &Modulus) {
    dispatch!(level, kernels::sub_row, sub_row(a, b, m))
}
/// `a = −a` on one row.
pub(crate) fn negate_row(level: CpuLevel, a: &mut [u32], m: &Modulus) {
    dispatch!(level, kernels::negate_row, negate_row(a, m))
}
/// `a ⊙= b` on one row.
pub(crate) fn mul_row(level: CpuLevel, a: &mut [u32], b: &[u32], m: &Modulus) {
    dispatch!(level, kernels::mul_row, mul_row(a, b, m))
}
/// `acc += a ⊙ b` on one row.
pub(crate) fn mul_acc_row(level: CpuLevel, a: &[u32], b: &[u32], acc: &mut [u32], m: &Modulus) {
    dispatch!(level, kernels::mul_acc_row, mul_acc_row(a, b, acc, m))
}
/// `acc += Σⱼ a[j] ⊙ b[j]` on one row.
pub(crate) fn mul_dot_row(level: CpuLevel, a: &[&[u32]], b: &[&[u32]], acc: &mut [u32], m: &Modulus) {
    dispatch!(level, kernels::mul_dot_row, mul_dot_row(a, b, acc, m))
}
/// `a ·= c` on one row.
pub(crate) fn mul_constant_row(level: CpuLevel, a: &mut [u32], c: u32, m: &Modulus) {
    dispatch!(level, kernels::mul_constant_row, mul_constant_row(a, c, m))
}
/// `out = a mod p` on one row.
pub(crate) fn reduce_row(level: CpuLevel, a: &[u32], out: &mut [u32], p: &Modulus) {
    dispatch!(level, kernels::reduce_row, reduce_row(a, out, p))
}
/// Fast basis conversion of one polynomial.
pub(crate) fn convert_basis_poly(level: CpuLevel, conv: &BasisConversion, src: &[u32], out: &mut [u32], n: usize) {
    dispatch!(level, convert_basis_poly_scalar, convert_basis_poly(conv, src, out, n))
}
/// Modulus switching of one polynomial: drops its last limb (see `kernels::drop_last_limb_poly`).
pub(crate) fn drop_last_limb_poly(level: CpuLevel, rows: &[u32], out: &mut [u32], n: usize, drop: &kernels::DropLimb<'_>) {
    dispatch!(level, kernels::drop_last_limb_poly, drop_last_limb_poly(rows, out, n, drop))
}
