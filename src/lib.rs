//! # ringvault (the README follows)
//!
//! The facade of RingVault, a Ring-LWE homomorphic-encryption engine whose ciphertexts run on
//! CPU SIMD (scalar, AVX2, AVX-512) and on GPUs (wgpu). This crate ties the
//! layers together for applications and hosts the `ringvault` command line:
//!
//! - [`engine`]: which backend runs (flag, environment, `ringvault.toml`; `auto` takes a
//!   hardware GPU when present);
//! - [`commands`], [`csv`], [`files`]: the owner's and the server's file-based flow;
//! - [`demo`]: the main job end to end; [`info`]: backends, CPU level, GPU adapters;
//! - [`bench`](mod@bench): the benchmarks behind `ringvault bench` (table or JSON lines).
//!
//! The layers below: `ringvault-core` (ring arithmetic, the `Backend` trait),
//! `ringvault-backend-cpu` (the CPU backend) and, with the default feature `gpu`,
//! `ringvault-backend-gpu` (wgpu compute shaders). They are re-exported as [`core`], [`cpu`]
//! and `gpu`; [`engine`] picks one at run time.

#![doc = include_str!("../README.md")]

pub mod bench;
pub mod commands;
pub mod csv;
pub mod demo;
pub mod engine;
pub mod files;
pub mod info;
pub mod selfcheck;

/// What the command line reports: the core's typed errors, CSV problems naming line and
/// column, files that are not what they claim, I/O, configuration.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A core error (parameters, keys, wire format, evaluation, decryption).
    #[error(transparent)]
    Core(#[from] ringvault_core::Error),
    /// The CSV input.
    #[error(transparent)]
    Csv(#[from] csv::CsvError),
    /// A file that is not what its name or header claims.
    #[error("{0}")]
    Format(String),
    /// Reading or writing a file.
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// The operating system's message.
        reason: String,
    },
    /// Backend or configuration choices.
    #[error("{0}")]
    Config(String),
}

pub use ringvault_backend_cpu as cpu;
#[cfg(feature = "gpu")]
pub use ringvault_backend_gpu as gpu;
pub use ringvault_core as core;
