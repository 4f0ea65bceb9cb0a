//! AVX2 element-wise kernels (8 × u32 lanes). PLACEHOLDER: forwards to the scalar
//! reference kernels until the vector kernels land.
//!
//! Every function has the signature and exact results of its twin in
//! `ringvault_core::ring::kernels` (or `BasisConversion::convert_one` for the conversion).

use ringvault_core::ring::kernels;
use ringvault_core::rns::BasisConversion;
use ringvault_core::zq::Modulus;

/// `a[i] = (a[i] + b[i]) mod q`.
#[target_feature(enable = "avx2")]
pub(crate) fn add_row(a: &mut [u32], b: &[u32], m: &Modulus) {
    kernels::add_row(a, b, m)
}
/// `a[i] = (a[i] − b[i]) mod q`.
#[target_feature(enable = "avx2")]
pub(crate) fn sub_row(a: &mut [u32], b: &[u32], m: &Modulus) {
    kernels::sub_row(a, b, m)
}
/// `a[i] = −a[i] mod q`.
#[target_feature(enable = "avx2")]
pub(crate) fn negate_row(a: &mut [u32], m: &Modulus) {
    kernels::negate_row(a, m)
}
/// `a[i] = a[i]·b[i] mod q`.
#[target_feature(enable = "avx2")]
pub(crate) fn mul_row(a: &mut [u32], b: &[u32], m: &Modulus) {
    kernels::mul_row(a, b, m)
}
/// `acc[i] = (acc[i] + a[i]·b[i]) mod q`.
#[target_feature(enable = "avx2")]
pub(crate) fn mul_acc_row(a: &[u32], b: &[u32], acc: &mut [u32], m: &Modulus) {
    kernels::mul_acc_row(a, b, acc, m)
}
/// `a[i] = a[i]·c mod q`, `c < q`.
#[target_feature(enable = "avx2")]
pub(crate) fn mul_constant_row(a: &mut [u32], c: u32, m: &Modulus) {
    kernels::mul_constant_row(a, c, m)
}
/// `out[i] = a[i] mod p`.
#[target_feature(enable = "avx2")]
pub(crate) fn reduce_row(a: &[u32], out: &mut [u32], p: &Modulus) {
    kernels::reduce_row(a, out, p)
}
/// Fast basis conversion of one polynomial: `src` holds `|Q|` rows of `n`, `out` `|P|` rows.
#[target_feature(enable = "avx2")]
pub(crate) fn convert_basis_poly(conv: &BasisConversion, src: &[u32], out: &mut [u32], n: usize) {
    super::convert_basis_poly_scalar(conv, src, out, n)
}
