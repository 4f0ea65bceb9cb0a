// mul_wide for adapters with 64-bit shader integers (wgpu's SHADER_INT64): one native
// 64-bit product, split into its words. Same result as mul_wide_u32.wgsl for every input.

fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let p = u64(a) * u64(b);
    return vec2<u32>(u32(p & 0xfffffffflu), u32(p >> 32u));
}
