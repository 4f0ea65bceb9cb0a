// RNS basis kernels: basis extension of one limb, fast basis conversion, and modulus switching
// (dropping the last limb). One invocation per output residue of `data`; `src0` is the source
// batch chunk (same polynomials, its own limb count).
//
// Preconditions: source residues are below their primes (< 2^30). Outputs are fully reduced
// and equal core's reference kernels bit for bit (`ring::kernels::reduce_row`,
// `rns::BasisConversion::convert_one`, `ring::kernels::drop_last_limb_poly`).
//
// Header: n, log_n, limbs (of the output), total (output residues), then per kernel below.

struct Out {
    // Polynomial, output limb, and coefficient of output residue g.
    poly: u32,
    limb: u32,
    e: u32,
}

fn out_slot(g: u32) -> Out {
    let row = g >> hdr.log_n;
    return Out(row / hdr.limbs, row % hdr.limbs, g & (hdr.n - 1u));
}

// Residue e of limb `limb` of polynomial `poly` in a source of `limbs` limbs.
fn source(poly: u32, limbs: u32, limb: u32, e: u32) -> u32 {
    return src0[(poly * limbs + limb) * hdr.n + e];
}

// data[p, j] = src0[p, p1] mod q_j.
// p0 = source limb count, p1 = source limb. Records (output limbs): prime, q, mu, bits,
// floor(2^32 / q).
@compute @workgroup_size(256)
fn reduce_limb(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let g = linear_id(lid, wid, nwg);
    if (g >= hdr.total) {
        return;
    }
    let o = out_slot(g);
    let x = source(o.poly, hdr.p0, hdr.p1, o.e);
    data[g] = reduce_u32(x, rec(o.limb, 1u), rec(o.limb, 4u));
}

// Fast basis conversion (Bajard-Eynard-Hasan-Zucca 2016):
// data[p, j] = (sum_i [x_i * qt_i]_{q_i} * (Q/q_i mod p_j)) mod p_j, with core's lazy
// accumulation (acc < 2p_j after every term).
// p0 = conversion source limb count Lf, p1 = the source batch's limb count, p2 = the source row
// of the conversion's first prime (rows p2 .. p2 + Lf). Records 0 .. Lf: source q_i, qt_i,
// Shoup(qt_i); records
// Lf .. Lf + Lt: target p_j; then from word 16 + 8 (Lf + Lt) the cross factors
// (Q/q_i mod p_j, Shoup) as pairs at 2 (j Lf + i).
@compute @workgroup_size(256)
fn convert_basis(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let g = linear_id(lid, wid, nwg);
    if (g >= hdr.total) {
        return;
    }
    let o = out_slot(g);
    let lf = hdr.p0;
    let p = rec(lf + o.limb, 0u);
    let xf = RECORDS + 8u * (lf + hdr.limbs) + 2u * o.limb * lf;
    var acc = 0u;
    for (var i = 0u; i < lf; i++) {
        let y = mul_shoup(source(o.poly, hdr.p1, hdr.p2 + i, o.e), rec(i, 1u), rec(i, 2u), rec(i, 0u));
        acc = reduce_once(acc + mul_shoup_lazy(y, info[xf + 2u * i], info[xf + 2u * i + 1u], p), 2u * p);
    }
    data[g] = reduce_once(acc, p);
}

// -delta_i * q_L^-1 + x_i * q_L^-1 mod q_i (GHS 2012 modulus switching with the t-preserving
// rounding): y = [x_L t^-1]_{q_L}, centered; delta_i = t * y mod q_i.
// p0 = source limb count L, p1 = q_L, p2 = t^-1 mod q_L, p3 = Shoup(p2), p4 = 1 to treat x_i
// as 0 (the NTT-domain switch: only the correction, in coefficients).
// Records (output limbs i < L - 1): q_i, floor(2^32 / q_i), q_L mod q_i, q_L^-1 mod q_i,
// Shoup(q_L^-1), t mod q_i, Shoup(t mod q_i).
@compute @workgroup_size(256)
fn drop_limb(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let g = linear_id(lid, wid, nwg);
    if (g >= hdr.total) {
        return;
    }
    let o = out_slot(g);
    let l = hdr.p0;
    let ql = hdr.p1;
    let q = rec(o.limb, 0u);
    let xl = source(o.poly, l, l - 1u, o.e);
    let y = mul_shoup(xl, hdr.p2, hdr.p3, ql);
    var yi = reduce_u32(y, q, rec(o.limb, 1u));
    if (y > ql / 2u) {
        yi = sub_mod(yi, rec(o.limb, 2u), q);
    }
    let delta = mul_shoup(yi, rec(o.limb, 5u), rec(o.limb, 6u), q);
    var xi = 0u;
    if (hdr.p4 == 0u) {
        xi = source(o.poly, l, o.limb, o.e);
    }
    data[g] = mul_shoup(sub_mod(xi, delta, q), rec(o.limb, 3u), rec(o.limb, 4u), q);
}

// data[p, i] += src0[p, i] * q_L^-1 mod q_i: finishes the NTT-domain modulus switch (`data`
// holds the transformed correction). Header and records as `drop_limb`.
@compute @workgroup_size(256)
fn drop_finish(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let g = linear_id(lid, wid, nwg);
    if (g >= hdr.total) {
        return;
    }
    let o = out_slot(g);
    let q = rec(o.limb, 0u);
    let x = mul_shoup(source(o.poly, hdr.p0, o.limb, o.e), rec(o.limb, 3u), rec(o.limb, 4u), q);
    data[g] = add_mod(data[g], x, q);
}

// The division by the special modulus P = p_0 ... p_{K-1} (core's
// `ring::kernels::divide_by_special_poly`), the correction only, in coefficients:
// data[p, i] = -(t * conv(y)_i) * P^-1 mod q_i, with y_j = [x_j * t^-1]_{p_j} for the special
// rows x_j (already inverse-transformed in the source) and conv the fast basis conversion from
// the p_j to q_i (core's `BasisConversion::convert_one`, lazy accumulation below 2 q_i).
// `drop_finish` with the same records then adds x_i * P^-1 after the forward transform.
// p0 = source limb count l + K, p1 = l (the first special row), p2 = K.
// Records (output limbs i < l): q_i, t mod q_i, Shoup, P^-1 mod q_i, Shoup; records l + j:
// p_j, t^-1 * (P/p_j)^-1 mod p_j, Shoup; then from word 16 + 8 (l + K) the cross factors
// (P/p_j mod q_i, Shoup) as pairs at 2 (i K + j).
@compute @workgroup_size(256)
fn divide_special(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let g = linear_id(lid, wid, nwg);
    if (g >= hdr.total) {
        return;
    }
    let o = out_slot(g);
    let l = hdr.p1;
    let k = hdr.p2;
    let q = rec(o.limb, 0u);
    let xf = RECORDS + 8u * (l + k) + 2u * o.limb * k;
    var acc = 0u;
    for (var j = 0u; j < k; j++) {
        let z = mul_shoup(source(o.poly, hdr.p0, l + j, o.e), rec(l + j, 1u), rec(l + j, 2u), rec(l + j, 0u));
        acc = reduce_once(acc + mul_shoup_lazy(z, info[xf + 2u * j], info[xf + 2u * j + 1u], q), 2u * q);
    }
    let delta = mul_shoup(reduce_once(acc, q), rec(o.limb, 1u), rec(o.limb, 2u), q);
    data[g] = mul_shoup(sub_mod(0u, delta, q), rec(o.limb, 3u), rec(o.limb, 4u), q);
}
