//! Every shader module parses and validates with naga (no adapter needed), and every pipeline
//! builds on the adapter when there is one.

#[macro_use]
mod common;

use ringvault_backend_gpu::shaders::{FILES, module_source};

#[test]
fn every_shader_parses_and_validates() {
    for (name, file) in FILES {
        let source = module_source(file);
        let module = naga::front::wgsl::parse_str(&source).unwrap_or_else(|e| panic!("{name}.wgsl: {}", e.emit_to_string(&source)));
        let mut validator = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty());
        validator.validate(&module).unwrap_or_else(|e| panic!("{name}.wgsl: {}", e.emit_to_string(&source)));
        assert!(!module.entry_points.is_empty(), "{name}.wgsl has no entry point");
    }
}

#[test]
fn every_pipeline_builds() {
    // Building the backend compiles every module and builds every pipeline inside error
    // scopes: a rejected one is an `Err` (a failure when RINGVAULT_REQUIRE_GPU=1).
    let b = gpu!();
    assert!(!b.adapter_name().is_empty());
    assert!(ringvault_backend_gpu::list_adapters().iter().any(|a| a.name == b.adapter_name()));
}
