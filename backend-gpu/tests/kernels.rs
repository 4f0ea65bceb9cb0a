//! GPU kernels against core's scalar reference and the CPU backend's scalar level, beyond what
//! the conformance suite covers: degrees past one workgroup tile (the register passes of the
//! NTT), batches split into several buffers, broadcasting, and the typed errors.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: a failed expectation is a failed test")]

#[macro_use]
mod common;

use std::sync::Arc;

use ringvault_backend_cpu::{CpuBackend, CpuLevel};
use ringvault_backend_gpu::{GpuBackend, GpuOptions};
use ringvault_core::backend::Backend;
use ringvault_core::ring::kernels;
use ringvault_core::rns::{BasisConversion, DigitDecomposition, RnsBasis};
use ringvault_core::testing::{random_batch, test_ring};
use ringvault_core::{BatchShape, Coeff, Error, HasShape, Ntt, PolyBatch};

/// Forward and inverse NTT of every row equal `NttTable::forward` / `inverse`.
fn check_ntt(be: &GpuBackend, n: usize, shape_limbs: Vec<usize>, count: usize) {
    let ring = test_ring(n);
    let plan = be.plan(ring.clone()).unwrap();
    let shape = BatchShape::new(count, n, shape_limbs);
    let a = random_batch::<Coeff>(&ring, shape.clone(), n as u64, true);
    let mut expect = a.clone();
    for r in 0..shape.rows() {
        ring.table(shape.prime_of_row(r)).forward(&mut expect.data_mut()[r * n..(r + 1) * n]);
    }
    let fwd = be.ntt_forward(&plan, be.upload(&plan, &a).unwrap()).unwrap();
    assert_eq!(be.download(&plan, &fwd).unwrap().data(), expect.data(), "forward n={n}");
    let back = be.ntt_inverse(&plan, fwd).unwrap();
    assert_eq!(be.download(&plan, &back).unwrap(), a, "round trip n={n}");
    let e = random_batch::<Ntt>(&ring, shape.clone(), n as u64 + 1, true);
    let mut expect = e.clone();
    for r in 0..shape.rows() {
        ring.table(shape.prime_of_row(r)).inverse(&mut expect.data_mut()[r * n..(r + 1) * n]);
    }
    let inv = be.ntt_inverse(&plan, be.upload(&plan, &e).unwrap()).unwrap();
    assert_eq!(be.download(&plan, &inv).unwrap().data(), expect.data(), "inverse n={n}");
}

#[test]
fn ntt_beyond_one_tile_matches_reference() {
    let be = gpu!();
    // 2^13 … 2^16: register passes of radix 2, 4, 8 and 16 before the tiled pass.
    for n in [1 << 13, 1 << 14, 1 << 15, 1 << 16] {
        check_ntt(&be, n, vec![0, 3, 5], 2);
    }
}

#[test]
fn ntt_register_passes_of_every_radix_match_reference() {
    // The tiled pass limited to 2^8 residues: n = 2^9 … 2^13 run 1 … 5 stages in registers
    // (radix 2, 4, 8, 16, then 8 + 4).
    let be = gpu_split!();
    for log_n in 9..=13 {
        check_ntt(&be, 1 << log_n, vec![1, 4], 3);
    }
}

/// Every operation of the trait on one input set; the downloads, in order.
fn run_ops<B: Backend>(be: &B, n: usize, count: usize) -> Vec<Vec<u32>> {
    let ring = test_ring(n);
    let plan = be.plan(ring.clone()).unwrap();
    let limbs = vec![2, 0, 5, 1];
    let shape = BatchShape::new(count, n, limbs.clone());
    let one = BatchShape::new(1, n, limbs.clone());
    let ha = random_batch::<Coeff>(&ring, shape.clone(), 11, true);
    let hb = random_batch::<Coeff>(&ring, shape.clone(), 12, false);
    let hk = random_batch::<Ntt>(&ring, one.clone(), 13, true);
    let mut out = Vec::new();
    let mut keep = |x: PolyBatch<_>| out.push(x.into_data());
    let a = be.ntt_forward(&plan, be.upload(&plan, &ha).unwrap()).unwrap();
    let b = be.ntt_forward(&plan, be.upload(&plan, &hb).unwrap()).unwrap();
    let key = be.upload(&plan, &hk).unwrap();
    keep(be.download(&plan, &a).unwrap().relabel());
    // Multiply-accumulate with a broadcast key, then the same with a full operand.
    let mut acc = be.duplicate(&plan, &b).unwrap();
    be.mul_pointwise_acc(&plan, &a, &key, &mut acc).unwrap();
    keep(be.download(&plan, &acc).unwrap().relabel());
    be.mul_pointwise_acc(&plan, &a, &b, &mut acc).unwrap();
    keep(be.download(&plan, &acc).unwrap().relabel());
    let mut x = be.duplicate(&plan, &a).unwrap();
    be.mul_pointwise_assign(&plan, &mut x, &key).unwrap();
    be.add_assign(&plan, &mut x, &b).unwrap();
    be.sub_assign(&plan, &mut x, &key).unwrap();
    be.negate_assign(&plan, &mut x).unwrap();
    be.mul_limb_constants_assign(&plan, &mut x, &[7, 0, 1, ring.modulus(1).value() - 1]).unwrap();
    keep(be.download(&plan, &x).unwrap().relabel());
    let mut rot = be.zeros::<Ntt>(&plan, shape.clone()).unwrap();
    be.automorphism_into(&plan, &x, 2 * n - 3, &mut rot).unwrap();
    keep(be.download(&plan, &rot).unwrap().relabel());
    let c = be.ntt_inverse(&plan, x).unwrap();
    keep(be.download(&plan, &c).unwrap());
    let mut rot = be.zeros::<Coeff>(&plan, shape.clone()).unwrap();
    be.automorphism_into(&plan, &c, 5, &mut rot).unwrap();
    keep(be.download(&plan, &rot).unwrap());
    let mut digit = be.zeros::<Coeff>(&plan, BatchShape::new(count, n, vec![3, 4])).unwrap();
    be.reduce_limb_into(&plan, &c, 2, &mut digit).unwrap();
    keep(be.download(&plan, &digit).unwrap());
    let from: Vec<u32> = limbs.iter().map(|&l| ring.modulus(l).value()).collect();
    let conv = BasisConversion::new(&RnsBasis::new(&from).unwrap(), &[ring.modulus(4).value(), ring.modulus(3).value()]).unwrap();
    let mut ext = be.zeros::<Coeff>(&plan, BatchShape::new(count, n, vec![4, 3])).unwrap();
    be.convert_basis_into(&plan, &conv, &c, 0, &mut ext).unwrap();
    keep(be.download(&plan, &ext).unwrap());
    let tail = BasisConversion::new(&RnsBasis::new(&from[1..]).unwrap(), &[ring.modulus(4).value(), ring.modulus(3).value()]).unwrap();
    be.convert_basis_into(&plan, &tail, &c, 1, &mut ext).unwrap();
    keep(be.download(&plan, &ext).unwrap());
    let dropped = be.drop_last_limb(&plan, be.duplicate(&plan, &c).unwrap(), 65537).unwrap();
    keep(be.download(&plan, &dropped).unwrap());
    let dn = be.drop_last_limb_ntt(&plan, be.ntt_forward(&plan, c).unwrap(), 65537).unwrap();
    keep(be.download(&plan, &dn).unwrap().relabel());
    be.wipe(dn);
    out
}

#[test]
fn every_op_matches_cpu_scalar_past_one_tile() {
    let cpu = CpuBackend::with_level(CpuLevel::Scalar).unwrap();
    let expect = run_ops(&cpu, 1 << 13, 3);
    let gpu = gpu!();
    assert_eq!(run_ops(&gpu, 1 << 13, 3), expect, "default GPU backend");
    // One polynomial per buffer and five register stages in two passes.
    let split = gpu_split!();
    assert_eq!(run_ops(&split, 1 << 13, 3), expect, "split GPU backend");
}

#[test]
fn split_batches_with_uneven_chunks_match_cpu_scalar() {
    // 200 KiB chunks hold 8 polynomials of six 1024-residue limbs: 13 polynomials take 8 + 5.
    let cpu = CpuBackend::with_level(CpuLevel::Scalar).unwrap();
    let split = gpu_split!();
    assert_eq!(run_ops(&split, 1024, 13), run_ops(&cpu, 1024, 13));
}

#[test]
fn key_switch_inner_matches_cpu_scalar() {
    let cpu = CpuBackend::with_level(CpuLevel::Scalar).unwrap();
    let gpu = gpu!();
    let split = gpu_split!();
    // One prime per digit, and hybrid digits of two primes (the last cut short).
    for alpha in [1, 2] {
        let expect = cpu.key_switch(4096, 3, alpha);
        assert_eq!(gpu.key_switch(4096, 3, alpha), expect, "digits of {alpha}");
        assert_eq!(split.key_switch(4096, 3, alpha), expect, "digits of {alpha}, split");
    }
}

/// The digit inner products of key switching, on any backend.
trait KeySwitch {
    fn key_switch(&self, n: usize, count: usize, alpha: usize) -> Vec<Vec<u32>>;
}

impl<B: Backend> KeySwitch for B {
    fn key_switch(&self, n: usize, count: usize, alpha: usize) -> Vec<Vec<u32>> {
        let be = self;
        let ring = test_ring(n);
        let plan = be.plan(ring.clone()).unwrap();
        let limbs = vec![0, 1, 2];
        let targets = vec![0, 1, 2, 4, 5];
        let primes: Vec<u32> = targets.iter().map(|&t| ring.modulus(t).value()).collect();
        let digits = DigitDecomposition::new(&primes[..3], alpha, targets.clone(), &primes).unwrap();
        let d = digits.digits().len() as u64;
        let hc = random_batch::<Coeff>(&ring, BatchShape::new(count, n, limbs.clone()), 21, true);
        let coeff = be.upload(&plan, &hc).unwrap();
        let ntt = be.ntt_forward(&plan, be.duplicate(&plan, &coeff).unwrap()).unwrap();
        // Key parts: broadcast for b, one per polynomial for a.
        let kb: Vec<_> = (0..d).map(|i| be.upload(&plan, &random_batch::<Ntt>(&ring, BatchShape::new(1, n, targets.clone()), 30 + i, i == 0)).unwrap()).collect();
        let ka: Vec<_> = (0..d).map(|i| be.upload(&plan, &random_batch::<Ntt>(&ring, BatchShape::new(count, n, targets.clone()), 40 + i, false)).unwrap()).collect();
        let (rb, ra): (Vec<_>, Vec<_>) = (kb.iter().collect(), ka.iter().collect());
        let (gb, ga) = be.key_switch_inner(&plan, &coeff, &ntt, &digits, &rb, &ra).unwrap();
        vec![be.download(&plan, &gb).unwrap().into_data(), be.download(&plan, &ga).unwrap().into_data()]
    }
}

#[test]
fn edge_values_survive_every_pass() {
    // Rows of q − 1, q − 2, 1 and 0 through the largest transform and back.
    let be = gpu!();
    let n = 1 << 15;
    let ring = test_ring(n);
    let plan = be.plan(ring.clone()).unwrap();
    let shape = BatchShape::new(1, n, vec![0, 2, 4, 5]);
    let data: Vec<u32> = (0..shape.rows())
        .flat_map(|r| {
            let q = ring.modulus(shape.prime_of_row(r)).value();
            let v = [q - 1, q - 2, 1, 0][r];
            std::iter::repeat_n(v, n)
        })
        .collect();
    let h = PolyBatch::<Coeff>::from_residues(&ring, shape.clone(), data).unwrap();
    let mut expect = h.clone();
    for r in 0..shape.rows() {
        ring.table(shape.prime_of_row(r)).forward(&mut expect.data_mut()[r * n..(r + 1) * n]);
    }
    let fwd = be.ntt_forward(&plan, be.upload(&plan, &h).unwrap()).unwrap();
    assert_eq!(be.download(&plan, &fwd).unwrap().data(), expect.data());
    let mut sq = be.duplicate(&plan, &fwd).unwrap();
    be.mul_pointwise_assign(&plan, &mut sq, &fwd).unwrap();
    let mut e2 = expect.clone();
    for r in 0..shape.rows() {
        let m = *ring.modulus(shape.prime_of_row(r));
        let row = expect.row(r).to_vec();
        kernels::mul_row(&mut e2.data_mut()[r * n..(r + 1) * n], &row, &m);
    }
    assert_eq!(be.download(&plan, &sq).unwrap().data(), e2.data());
    assert_eq!(be.download(&plan, &be.ntt_inverse(&plan, fwd).unwrap()).unwrap(), h);
}

#[test]
fn limits_and_bad_options_are_typed_errors() {
    let be = gpu!();
    let ring = test_ring(1024);
    let plan = be.plan(ring.clone()).unwrap();
    // A batch past the backend's stated cap is refused before any allocation.
    let cap = be.caps().max_batch_residues;
    let huge = BatchShape::new(cap / (1024 * 6) + 1, 1024, vec![0, 1, 2, 3, 4, 5]);
    assert!(matches!(be.zeros::<Coeff>(&plan, huge), Err(Error::BatchTooLarge { max, .. }) if max == cap));
    // A residue not below its prime is refused at upload.
    let mut bad = random_batch::<Coeff>(&ring, BatchShape::new(1, 1024, vec![0]), 1, false);
    bad.data_mut()[5] = ring.modulus(0).value();
    assert!(matches!(be.upload(&plan, &bad), Err(Error::ResidueOutOfRange { .. })));
    // Options out of range, and an adapter that does not exist.
    assert!(matches!(GpuBackend::with_options(GpuOptions { ntt_tile_log: 0, ..common::default_options() }), Err(Error::Backend { .. })));
    assert!(matches!(GpuBackend::with_options(GpuOptions { max_chunk_bytes: 1 << 40, ..common::default_options() }), Err(Error::Backend { .. })));
    let none = GpuBackend::with_options(GpuOptions { adapter_name: Some("no such adapter".into()), ..common::default_options() });
    assert!(matches!(&none, Err(Error::Backend { reason, .. }) if reason.contains("no usable GPU adapter")), "{none:?}");
    // A ring whose polynomial does not fit one chunk is refused at plan time, stating the cap.
    let split = gpu_split!();
    let big = test_ring(1 << 15);
    assert!(matches!(split.plan(big), Err(Error::BatchTooLarge { max, .. }) if max == (200 << 10) / 4));
}

#[test]
fn adapter_is_reported() {
    let be = gpu!();
    let listed = ringvault_backend_gpu::list_adapters();
    let me = listed.iter().find(|a| a.name == be.adapter_name()).expect("the backend's adapter is listed");
    assert!(me.usable);
    assert_eq!(me.software, be.is_software());
    assert!(be.name().starts_with("gpu-"));
    // Software adapters are refused unless allowed.
    if be.is_software() && listed.iter().all(|a| a.software) {
        assert!(GpuBackend::new().is_err());
    }
}

#[test]
fn batches_are_independent_of_the_plan_instance() {
    // Two plans of one ring: batches move between them (same chunking).
    let be = gpu!();
    let ring = test_ring(256);
    let p1 = be.plan(ring.clone()).unwrap();
    let p2 = be.plan(Arc::clone(&ring)).unwrap();
    let h = random_batch::<Coeff>(&ring, BatchShape::new(2, 256, vec![1, 2]), 3, true);
    let d = be.ntt_forward(&p1, be.upload(&p2, &h).unwrap()).unwrap();
    assert_eq!(be.download(&p2, &be.ntt_inverse(&p2, d).unwrap()).unwrap(), h);
    assert_eq!(h.shape().count, 2);
}
