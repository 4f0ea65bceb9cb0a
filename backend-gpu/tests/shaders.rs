//! Every shader module parses and validates with naga (no adapter needed), and every pipeline
//! builds on the adapter when there is one.

#[macro_use]
mod common;

use ringvault_backend_gpu::shaders::{FILES, module_source};

#[test]
fn every_shader_parses_and_validates() {
    // Both products: the 16-bit halves under no capability, the native u64 one under
    // SHADER_INT64 (and refused without it).
    for int64 in [false, true] {
        let capabilities = if int64 { naga::valid::Capabilities::SHADER_INT64 } else { naga::valid::Capabilities::empty() };
        for (name, file) in FILES {
            let source = module_source(file, int64);
            let module = naga::front::wgsl::parse_str(&source).unwrap_or_else(|e| panic!("{name}.wgsl: {}", e.emit_to_string(&source)));
            let mut validator = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities);
            validator.validate(&module).unwrap_or_else(|e| panic!("{name}.wgsl (int64 {int64}): {}", e.emit_to_string(&source)));
            assert!(!module.entry_points.is_empty(), "{name}.wgsl has no entry point");
            if int64 {
                let mut narrow = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty());
                assert!(narrow.validate(&module).is_err(), "{name}.wgsl: the u64 product needs SHADER_INT64");
            }
        }
    }
}

#[test]
fn int64_is_used_exactly_where_offered_and_allowed() {
    let b = gpu!();
    assert_eq!(b.uses_int64(), b.adapter_offers_int64(), "the default uses 64-bit products where the adapter has them");
    let narrow = gpu_narrow!();
    assert!(!narrow.uses_int64());
}

#[test]
fn every_pipeline_builds() {
    // Building the backend compiles every module and builds every pipeline inside error
    // scopes: a rejected one is an `Err` (a failure when RINGVAULT_REQUIRE_GPU=1).
    let b = gpu!();
    assert!(!b.adapter_name().is_empty());
    assert!(ringvault_backend_gpu::list_adapters().iter().any(|a| a.name == b.adapter_name()));
}
