// Element-wise kernels on a batch chunk: one invocation per residue of `data`.
//
// Preconditions: every input residue is below its prime (< q < 2^30); outputs are fully
// reduced and equal core's reference kernels (`ring::kernels::*_row`) bit for bit.
//
// Header: n, log_n, limbs (L), total (residues in `data`); p0 = 1 when the second operand has
// one polynomial and is broadcast to every polynomial of `data`.
// Records (per limb): prime index, q, Barrett mu, bit length of q, constant c, Shoup(c).

struct Slot {
    // Index into `data` (and into a same-shape operand).
    g: u32,
    // Index into a possibly broadcast operand.
    b: u32,
    // Limb of the residue.
    limb: u32,
}

fn slot(g: u32) -> Slot {
    let row = g >> hdr.log_n;
    let limb = row % hdr.limbs;
    let e = g & (hdr.n - 1u);
    return Slot(g, select(g, limb * hdr.n + e, hdr.p0 == 1u), limb);
}

// data = data + src0 (broadcast per p0).
@compute @workgroup_size(256)
fn add(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let g = linear_id(lid, wid, nwg);
    if (g >= hdr.total) {
        return;
    }
    let s = slot(g);
    data[g] = add_mod(data[g], src0[s.b], rec(s.limb, 1u));
}

// data = data - src0 (broadcast per p0).
@compute @workgroup_size(256)
fn sub(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let g = linear_id(lid, wid, nwg);
    if (g >= hdr.total) {
        return;
    }
    let s = slot(g);
    data[g] = sub_mod(data[g], src0[s.b], rec(s.limb, 1u));
}

// data = -data.
@compute @workgroup_size(256)
fn negate(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let g = linear_id(lid, wid, nwg);
    if (g >= hdr.total) {
        return;
    }
    let s = slot(g);
    data[g] = neg_mod(data[g], rec(s.limb, 1u));
}

// data = data * src0 (broadcast per p0), Barrett.
@compute @workgroup_size(256)
fn mul(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let g = linear_id(lid, wid, nwg);
    if (g >= hdr.total) {
        return;
    }
    let s = slot(g);
    data[g] = mul_mod(data[g], src0[s.b], rec(s.limb, 1u), rec(s.limb, 2u), rec(s.limb, 3u));
}

// data = data + src0 * src1 (src0 has data's shape; src1 broadcast per p0).
@compute @workgroup_size(256)
fn mul_acc(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let g = linear_id(lid, wid, nwg);
    if (g >= hdr.total) {
        return;
    }
    let s = slot(g);
    let q = rec(s.limb, 1u);
    data[g] = add_mod(data[g], mul_mod(src0[g], src1[s.b], q, rec(s.limb, 2u), rec(s.limb, 3u)), q);
}

// data = data * c_limb (Shoup with the record's constant).
@compute @workgroup_size(256)
fn mul_const(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let g = linear_id(lid, wid, nwg);
    if (g >= hdr.total) {
        return;
    }
    let s = slot(g);
    data[g] = mul_shoup(data[g], rec(s.limb, 4u), rec(s.limb, 5u), rec(s.limb, 1u));
}
