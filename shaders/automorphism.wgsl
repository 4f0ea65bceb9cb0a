// Galois automorphism x -> x^k (k odd, k < 2n) of every row of a batch chunk, out of place:
// `src0` is the input, `data` the output (same shape).
//
// Coefficients: out[i k mod 2n] = a[i], negated when i k mod 2n >= n (core's
// `ring::kernels::automorphism_coeff_row`); one invocation per input residue.
// NTT domain: out[j] = a[perm[j]] with perm = `ring::kernels::galois_permutation_ntt`, computed
// here from its definition (slot j holds the evaluation at psi^(2 brv(j) + 1)); one invocation
// per output residue.
//
// Preconditions: inputs below their primes; n = 2^log_n with 1 <= log_n; i k is taken modulo
// 2^32, which keeps i k mod 2n exact since 2n divides 2^32.
// Header: n, log_n, limbs, total (residues); p0 = k. Records (per limb): prime index, q.

fn bit_reverse(x: u32) -> u32 {
    return reverseBits(x) >> (32u - hdr.log_n);
}

@compute @workgroup_size(256)
fn automorphism_coeff(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let g = linear_id(lid, wid, nwg);
    if (g >= hdr.total) {
        return;
    }
    let row = g >> hdr.log_n;
    let i = g & (hdr.n - 1u);
    let j = (i * hdr.p0) & (2u * hdr.n - 1u);
    let x = src0[g];
    let q = rec(row % hdr.limbs, 1u);
    let dst = row * hdr.n + (j & (hdr.n - 1u));
    data[dst] = select(neg_mod(x, q), x, j < hdr.n);
}

@compute @workgroup_size(256)
fn automorphism_ntt(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let g = linear_id(lid, wid, nwg);
    if (g >= hdr.total) {
        return;
    }
    let row = g >> hdr.log_n;
    let j = g & (hdr.n - 1u);
    let e = 2u * bit_reverse(j) + 1u;
    let ek = (e * hdr.p0) & (2u * hdr.n - 1u);
    data[g] = src0[row * hdr.n + bit_reverse((ek - 1u) / 2u)];
}
