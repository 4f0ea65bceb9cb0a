//! The core conformance suite on the GPU: bit-identical to the scalar reference on random and
//! edge-valued inputs, for n = 16 … 4096 and several limb counts; again with batches split
//! into many buffer chunks and the NTT's large stages in register passes of every radix; and
//! again with the 16-bit-half products where the adapter has 64-bit integers (both product
//! paths on one adapter).

#[macro_use]
mod common;

ringvault_core::backend_conformance_tests!(suite, gpu!());
ringvault_core::backend_conformance_tests!(split, gpu_split!(), degrees = [256, 1024, 4096]);
ringvault_core::backend_conformance_tests!(narrow, gpu_narrow!());
