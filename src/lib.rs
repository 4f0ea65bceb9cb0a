//! # ringvault (the README follows)
//!
//! The facade of RingVault, a Ring-LWE homomorphic-encryption engine whose ciphertexts run on
//! CPU SIMD (scalar, AVX2, AVX-512) and, with its own issue, on GPUs. This crate ties the
//! layers together for applications and hosts the `ringvault` command line:
//!
//! - [`info`]: what this machine offers (backends, CPU level);
//! - [`bench`](mod@bench): the kernel benchmark behind `ringvault bench` (table or JSON lines).
//!
//! The layers below: `ringvault-core` (ring arithmetic, the `Backend` trait) and
//! `ringvault-backend-cpu` (the CPU backend). They are re-exported as [`core`] and [`cpu`].

#![doc = include_str!("../README.md")]

pub mod bench;
pub mod info;
pub mod selfcheck;

pub use ringvault_backend_cpu as cpu;
pub use ringvault_core as core;
