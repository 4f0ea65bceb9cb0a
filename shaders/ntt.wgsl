// Negacyclic NTT of every row of a batch chunk, in place in `data`, producing exactly core's
// reference order (bit-reversed evaluations; `ringvault_core::ntt`).
//
// Forward: Cooley-Tukey with the psi-twist merged (Longa-Naehrig 2016, Alg. 1), Harvey's lazy
// butterflies: values stay in [0, 4q), the last pass reduces into [0, q).
// Inverse: Gentleman-Sande (Alg. 2): values stay in [0, 2q); the last pass multiplies by n^-1
// (fully reduced).
//
// Stage s (0 <= s < log n) has 2^s blocks of 2t = n / 2^s residues; block i uses twiddle
// index 2^s + i of the prime's psi_rev (forward) or psi_inv_rev (inverse) table.
//
// Passes:
// - `*_inner`: one workgroup holds a tile of TILE = 4096 residues in workgroup memory (16 KiB)
//   and runs every stage whose blocks fit in it (2t <= min(n, TILE)); with n < TILE a tile
//   holds TILE / n whole rows.
// - `*_outer`: for n > TILE, the stages with larger blocks run RADIX_LOG at a time in
//   registers (radix 2^RADIX_LOG <= 16): one invocation owns 2^RADIX_LOG residues at stride
//   n / 2^(s0 + RADIX_LOG) and runs stages s0 .. s0 + RADIX_LOG - 1 on them.
//   Forward runs the outer passes first, inverse last.
//
// Header: n, log_n, limbs (L of the batch), total (inner: logical residues; outer:
// invocations); p0 = inner: log2 of the first (forward) or last (inverse) half-block t,
// outer: first stage s0;
// p1 = 1 on the pass that finishes the transform; p2, p3 = row stride and offset: logical row
// r is physical row r * p2 + p3 (the NTT-domain modulus switch transforms one limb per
// polynomial).
// Records (per limb of the batch): prime index, q, Barrett mu, bit length, n^-1, Shoup(n^-1).
// Twiddles: prime p's forward table at p * 2n, its inverse table at p * 2n + n.

const TILE: u32 = 4096u;

override RADIX_LOG: u32 = 1u;

var<workgroup> tile: array<u32, 4096>;

// Physical index of residue e of logical row lr, and that row's limb.
fn phys_index(lr: u32, e: u32) -> u32 {
    return (lr * hdr.p2 + hdr.p3) * hdr.n + e;
}

fn limb_of(lr: u32) -> u32 {
    return (lr * hdr.p2 + hdr.p3) % hdr.limbs;
}

fn twiddle_base(limb: u32, inverse: bool) -> u32 {
    return rec(limb, 0u) * 2u * hdr.n + select(0u, hdr.n, inverse);
}

// Loads this workgroup's tile; returns nothing (residues past `total` are left alone).
fn load_tile(base: u32, lid: u32) {
    for (var idx = lid; idx < TILE; idx += WG) {
        let g = base + idx;
        if (g < hdr.total) {
            tile[idx] = data[phys_index(g >> hdr.log_n, g & (hdr.n - 1u))];
        }
    }
}

// Butterflies per invocation per stage in a tile.
const BUTTERFLIES: u32 = 8u;

// The rows of an invocation's butterflies do not change from stage to stage: butterfly j of a
// tile pairs residues of row j >> (log_n - 1). Their modulus and twiddle table are looked up
// once per dispatch.
struct Slots {
    q: array<u32, 8>,
    tw: array<u32, 8>,
}

fn butterfly_slots(base: u32, lid: u32, inverse: bool) -> Slots {
    var s: Slots;
    let row0 = base >> hdr.log_n;
    for (var k = 0u; k < BUTTERFLIES; k++) {
        let limb = limb_of(row0 + ((lid + k * WG) >> (hdr.log_n - 1u)));
        s.q[k] = rec(limb, 1u);
        s.tw[k] = twiddle_base(limb, inverse);
    }
    return s;
}

// Tile position of butterfly j's first residue in the stage of half-blocks t = 2^log_t.
fn butterfly_x(j: u32, log_t: u32) -> u32 {
    return ((j >> log_t) << (log_t + 1u)) + (j & ((1u << log_t) - 1u));
}

// Forward stages with half-blocks t = 2^p0 down to 1; p1 = 1: reduce into [0, q) (always
// the last pass of a forward transform).
@compute @workgroup_size(256)
fn ntt_fwd_inner(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let base = (wid.y * nwg.x + wid.x) * TILE;
    if (base >= hdr.total) {
        return;
    }
    let slots = butterfly_slots(base, lid, false);
    load_tile(base, lid);
    workgroupBarrier();
    var log_t = hdr.p0;
    loop {
        let t = 1u << log_t;
        for (var k = 0u; k < BUTTERFLIES; k++) {
            let x = butterfly_x(lid + k * WG, log_t);
            let g = base + x;
            if (g < hdr.total) {
                // Block e / 2t of the n / 2t blocks of this stage: index n / 2t + e / 2t.
                let e = g & (hdr.n - 1u);
                let w = twiddles[slots.tw[k] + ((hdr.n + e) >> (log_t + 1u))];
                let q = slots.q[k];
                let u = reduce_once(tile[x], 2u * q);
                let v = mul_shoup_lazy(tile[x + t], w.x, w.y, q);
                tile[x] = u + v;
                tile[x + t] = u + 2u * q - v;
            }
        }
        workgroupBarrier();
        if (log_t == 0u) {
            break;
        }
        log_t -= 1u;
    }
    for (var idx = lid; idx < TILE; idx += WG) {
        let g = base + idx;
        if (g < hdr.total) {
            let lr = g >> hdr.log_n;
            var v = tile[idx];
            if (hdr.p1 == 1u) {
                let q = rec(limb_of(lr), 1u);
                v = reduce_once(reduce_once(v, 2u * q), q);
            }
            data[phys_index(lr, g & (hdr.n - 1u))] = v;
        }
    }
}

// Inverse stages with half-blocks t = 1 up to 2^p0; p1 = 1: multiply by n^-1 (the last pass
// when no register pass follows).
@compute @workgroup_size(256)
fn ntt_inv_inner(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let base = (wid.y * nwg.x + wid.x) * TILE;
    if (base >= hdr.total) {
        return;
    }
    let slots = butterfly_slots(base, lid, true);
    load_tile(base, lid);
    workgroupBarrier();
    var log_t = 0u;
    loop {
        let t = 1u << log_t;
        for (var k = 0u; k < BUTTERFLIES; k++) {
            let x = butterfly_x(lid + k * WG, log_t);
            let g = base + x;
            if (g < hdr.total) {
                let e = g & (hdr.n - 1u);
                let w = twiddles[slots.tw[k] + ((hdr.n + e) >> (log_t + 1u))];
                let q = slots.q[k];
                let u = tile[x];
                let v = tile[x + t];
                tile[x] = reduce_once(u + v, 2u * q);
                tile[x + t] = mul_shoup_lazy(u + 2u * q - v, w.x, w.y, q);
            }
        }
        workgroupBarrier();
        if (log_t >= hdr.p0) {
            break;
        }
        log_t += 1u;
    }
    for (var idx = lid; idx < TILE; idx += WG) {
        let g = base + idx;
        if (g < hdr.total) {
            let lr = g >> hdr.log_n;
            var v = tile[idx];
            if (hdr.p1 == 1u) {
                let limb = limb_of(lr);
                v = mul_shoup(v, rec(limb, 4u), rec(limb, 5u), rec(limb, 1u));
            }
            data[phys_index(lr, g & (hdr.n - 1u))] = v;
        }
    }
}

// The residues one outer invocation owns: logical row, first physical index and stride,
// block index b at stage s0.
struct Column {
    limb: u32,
    first: u32,
    stride: u32,
    block: u32,
}

fn column(gid: u32) -> Column {
    let log_per_row = hdr.log_n - RADIX_LOG;
    let lr = gid >> log_per_row;
    let u = gid & ((1u << log_per_row) - 1u);
    let log_stride = hdr.log_n - hdr.p0 - RADIX_LOG;
    let b = u >> log_stride;
    let c = u & ((1u << log_stride) - 1u);
    let first = phys_index(lr, (b << (hdr.log_n - hdr.p0)) + c);
    return Column(limb_of(lr), first, 1u << log_stride, b);
}

@compute @workgroup_size(256)
fn ntt_fwd_outer(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let gid = linear_id(lid, wid, nwg);
    if (gid >= hdr.total) {
        return;
    }
    let col = column(gid);
    let q = rec(col.limb, 1u);
    let tw = twiddle_base(col.limb, false);
    let r = 1u << RADIX_LOG;
    var v: array<u32, 16>;
    for (var j = 0u; j < r; j++) {
        v[j] = data[col.first + j * col.stride];
    }
    for (var d = 0u; d < RADIX_LOG; d++) {
        let h = r >> (d + 1u);
        let m = 1u << (hdr.p0 + d);
        for (var j = 0u; j < r; j++) {
            if ((j & h) == 0u) {
                let w = twiddles[tw + m + (col.block << d) + (j >> (RADIX_LOG - d))];
                let u = reduce_once(v[j], 2u * q);
                let y = mul_shoup_lazy(v[j + h], w.x, w.y, q);
                v[j] = u + y;
                v[j + h] = u + 2u * q - y;
            }
        }
    }
    for (var j = 0u; j < r; j++) {
        var x = v[j];
        if (hdr.p1 == 1u) {
            x = reduce_once(reduce_once(x, 2u * q), q);
        }
        data[col.first + j * col.stride] = x;
    }
}

@compute @workgroup_size(256)
fn ntt_inv_outer(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let gid = linear_id(lid, wid, nwg);
    if (gid >= hdr.total) {
        return;
    }
    let col = column(gid);
    let q = rec(col.limb, 1u);
    let tw = twiddle_base(col.limb, true);
    let r = 1u << RADIX_LOG;
    var v: array<u32, 16>;
    for (var j = 0u; j < r; j++) {
        v[j] = data[col.first + j * col.stride];
    }
    for (var dd = 0u; dd < RADIX_LOG; dd++) {
        let d = RADIX_LOG - 1u - dd;
        let h = r >> (d + 1u);
        let m = 1u << (hdr.p0 + d);
        for (var j = 0u; j < r; j++) {
            if ((j & h) == 0u) {
                let w = twiddles[tw + m + (col.block << d) + (j >> (RADIX_LOG - d))];
                let a = v[j];
                let b = v[j + h];
                v[j] = reduce_once(a + b, 2u * q);
                v[j + h] = mul_shoup_lazy(a + 2u * q - b, w.x, w.y, q);
            }
        }
    }
    let n_inv = rec(col.limb, 4u);
    let n_inv_shoup = rec(col.limb, 5u);
    for (var j = 0u; j < r; j++) {
        var x = v[j];
        if (hdr.p1 == 1u) {
            x = mul_shoup(x, n_inv, n_inv_shoup, q);
        }
        data[col.first + j * col.stride] = x;
    }
}
