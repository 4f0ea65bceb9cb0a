// RingVault WGSL prelude: prepended to every kernel file at pipeline creation (WGSL has no
// #include). It declares the one bind-group layout every kernel shares and the modular
// arithmetic on u32 residues.
//
// Bounds every kernel relies on:
// - every modulus q is below 2^30, so lazy values below 4q fit in a u32;
// - residues handed to a kernel are fully reduced (< q) unless the kernel says otherwise;
// - core WGSL has no 64-bit integers and no high multiply: 32x32 -> 64-bit products come from
//   `mul_wide`, built from 16-bit halves, or one u64 product where the device has
//   SHADER_INT64.
//
// Loops: the modules are built without wgpu's loop-bounding counters (`GpuOptions::
// checked_shaders`), which is sound only because every loop ends whatever the header and the
// data hold. Every loop in these files is one of:
// - `for` over a counter from a start to a bound fixed before the loop (constants TILE, WG,
//   BUTTERFLIES, RADIX_LOG, 1 << RADIX_LOG, or a header word such as the limb counts of
//   basis.wgsl), incremented by a nonzero constant and never written in the body: it ends
//   after at most 2^32 steps for any bound;
// - the NTT's stage `loop`s (ntt.wgsl): forward counts `log_t` down from a header word by one
//   and breaks at 0; inverse counts up from 0 by one and breaks once `log_t >= p0`. Neither
//   counter is written elsewhere, so each ends after at most 2^32 stages.
// No loop condition reads buffer data. Bounds checks and division guards stay on.
//
// Bindings (group 0), the same for every pipeline:
//   0  hdr       uniform   16 words of per-dispatch parameters (the first 64 bytes of `info`)
//   1  info      storage   the same buffer: header, then 8-word per-limb records from word 16
//   2  data      storage   read-write: the output / in-place batch chunk
//   3  src0      storage   read-only: first input chunk
//   4  src1      storage   read-only: second input chunk
//   5  twiddles  storage   read-only: the plan's NTT tables as (w, Shoup(w)) pairs

const WG: u32 = 256u;
const RECORDS: u32 = 16u;

struct Header {
    n: u32,
    log_n: u32,
    limbs: u32,
    total: u32,
    p0: u32,
    p1: u32,
    p2: u32,
    p3: u32,
    p4: u32,
    p5: u32,
    p6: u32,
    p7: u32,
    p8: u32,
    p9: u32,
    p10: u32,
    p11: u32,
}

@group(0) @binding(0) var<uniform> hdr: Header;
@group(0) @binding(1) var<storage, read> info: array<u32>;
@group(0) @binding(2) var<storage, read_write> data: array<u32>;
@group(0) @binding(3) var<storage, read> src0: array<u32>;
@group(0) @binding(4) var<storage, read> src1: array<u32>;
@group(0) @binding(5) var<storage, read> twiddles: array<vec2<u32>>;

// Word `f` of the 8-word record `r`.
fn rec(r: u32, f: u32) -> u32 {
    return info[RECORDS + 8u * r + f];
}

// Linear invocation index of a 2D grid of 1D workgroups (grids wider than 65535 groups wrap
// into y).
fn linear_id(lid: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

// `mul_wide(a, b) -> vec2<u32>`, the full 64-bit product as (low word, high word), follows
// this prelude from one of two files: `mul_wide_u32.wgsl` (four 16x16 products; any adapter)
// or `mul_wide_u64.wgsl` (one native u64 product; adapters with 64-bit shader integers).
// Both return the same words for every input.

// High word of the 64-bit product.
fn mul_hi(a: u32, b: u32) -> u32 {
    return mul_wide(a, b).y;
}

// x - bound if x >= bound, else x.
fn reduce_once(x: u32, bound: u32) -> u32 {
    return select(x, x - bound, x >= bound);
}

// Shoup product x*w mod q in [0, 2q) for any x < 2^32, w < q, ws = floor(w * 2^32 / q)
// (Harvey 2014, Lemma 1). Bit-identical to core's `Modulus::mul_shoup_lazy`.
fn mul_shoup_lazy(x: u32, w: u32, ws: u32, q: u32) -> u32 {
    return x * w - mul_hi(x, ws) * q;
}

// Shoup product, fully reduced.
fn mul_shoup(x: u32, w: u32, ws: u32, q: u32) -> u32 {
    return reduce_once(mul_shoup_lazy(x, w, ws, q), q);
}

// x mod q for any u32 x: a Shoup product by 1 with one_shoup = floor(2^32 / q).
fn reduce_u32(x: u32, q: u32, one_shoup: u32) -> u32 {
    return reduce_once(x - mul_hi(x, one_shoup) * q, q);
}

// (a + b) mod q for a, b < q.
fn add_mod(a: u32, b: u32, q: u32) -> u32 {
    return reduce_once(a + b, q);
}

// (a - b) mod q for a, b < q.
fn sub_mod(a: u32, b: u32, q: u32) -> u32 {
    return select(a + q - b, a - b, a >= b);
}

// (-a) mod q for a < q.
fn neg_mod(a: u32, q: u32) -> u32 {
    return select(q - a, 0u, a == 0u);
}

// Barrett product a*b mod q for a, b < q (Menezes et al., Handbook of Applied Cryptography,
// Algorithm 14.42, base 2): k = bit length of q (2 <= k <= 30), mu = floor(2^(2k) / q).
// x = a*b < 2^(2k); x1 = x >> (k-1) < 2^(k+1); the quotient estimate (x1*mu) >> (k+1) is short
// by at most 2, so the remainder is below 3q < 2^32. Fully reduced.
fn mul_mod(a: u32, b: u32, q: u32, mu: u32, k: u32) -> u32 {
    let x = mul_wide(a, b);
    // 64-bit shifts by k-1 in [1, 29] and k+1 in [3, 31]: neither shift amount reaches 32.
    let x1 = (x.x >> (k - 1u)) | (x.y << (33u - k));
    let p = mul_wide(x1, mu);
    let quot = (p.x >> (k + 1u)) | (p.y << (31u - k));
    let r = x.x - quot * q;
    return reduce_once(reduce_once(r, 2u * q), q);
}
