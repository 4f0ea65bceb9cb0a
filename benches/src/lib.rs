//! Shared helpers of the RingVault criterion benches.
//!
//! Benches live in `benches/benches/`; run them with `cargo bench -p ringvault-benches`.
//! Set `RINGVAULT_BENCH_FULL=1` for the full sweep (longer measurements). The sample data and
//! the peers' prime come from the facade's `ringvault bench`, so both time the same inputs.

pub use ringvault::app::workloads::{anchor_prime, anchor_ring, sample_batch};

/// Whether the full sweep was requested (`RINGVAULT_BENCH_FULL=1`).
pub fn full_sweep() -> bool {
    std::env::var("RINGVAULT_BENCH_FULL").is_ok_and(|v| v == "1")
}
