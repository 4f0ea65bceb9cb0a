//! # ringvault (the README follows)
//!
//! The facade of RingVault, a Ring-LWE homomorphic-encryption engine whose ciphertexts run on
//! CPU SIMD (scalar, AVX2, AVX-512) and on GPUs (wgpu). This crate ties the
//! layers together for applications and hosts the `ringvault` command line:
//!
//! - [`app`] (`ringvault-app`): the application layer every front end calls: key files,
//!   tables, results, vault datasets and queries, [`engine`] selection and configuration;
//! - [`vault`] (`ringvault-vault`): the vault service and its client;
//! - [`commands`]: the owner's and the server's file-based flow;
//! - [`demo`]: the main job end to end; [`info`]: backends, CPU level, GPU adapters;
//! - [`bench`](mod@bench): the benchmarks behind `ringvault bench` (table or JSON lines).
//!
//! The layers below: `ringvault-core` (ring arithmetic, the `Backend` trait),
//! `ringvault-backend-cpu` (the CPU backend) and, with the default feature `gpu`,
//! `ringvault-backend-gpu` (wgpu compute shaders). They are re-exported as [`core`], [`cpu`]
//! and `gpu`; [`engine`] picks one at run time.

#![doc = include_str!("../README.md")]

pub mod bench;
pub mod bench_vault;
pub mod commands;
pub mod demo;
pub mod info;
pub mod selfcheck;
pub mod vault_cli;

/// What the command line reports: the application layer's error (core errors, CSV problems
/// naming line and column, files that are not what they claim, I/O, configuration).
pub type CliError = ringvault_app::AppError;

pub use ringvault_app as app;
pub use ringvault_app::{csv, engine, on_backend};
pub use ringvault_vault as vault;
pub use ringvault_backend_cpu as cpu;
#[cfg(feature = "gpu")]
pub use ringvault_backend_gpu as gpu;
pub use ringvault_core as core;
