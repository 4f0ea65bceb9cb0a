//! The wire format with real keys and ciphertexts on the CPU backend: round trips at several
//! presets, levels, lengths and counts; hostile ciphertext headers; sizes; the fuzz corpus.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: a failed expectation is a failed test")]

use std::path::PathBuf;
use std::sync::Arc;

use rand_core::RngCore;
use ringvault_backend_cpu::CpuBackend;
use ringvault_core::Error;
use ringvault_core::Backend;
use ringvault_core::scheme::{Ciphertext, EvaluationKeys, Parameters, Plaintext, Preset, PublicKey, Scheme};
use ringvault_core::testing::scheme::{Fixture, test_rng};
use ringvault_core::testing::wire::{TARGETS, check_input, is_wire_error, load_and_encode, sample_objects, small_parameters};
use ringvault_core::wire::{self, MAX_BATCH_COUNT, ObjectKind};

fn fixture(params: Arc<Parameters>) -> Fixture<CpuBackend> {
    Fixture::new(CpuBackend::new(), params, 77)
}

/// Overwrites bytes at `at`.
fn patch(bytes: &[u8], at: usize, value: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at..at + value.len()].copy_from_slice(value);
    out
}

/// Byte offsets of the ciphertext descriptor fields.
const LEVEL: usize = 32;
const LEN: usize = 34;
const COUNT: usize = 36;
const FACTOR: usize = 40;
const SEEDED: usize = 44;

/// Loads, checks the bytes are canonical and the plaintexts survive.
fn round_trip(f: &Fixture<CpuBackend>, ct: &Ciphertext<CpuBackend>) -> Vec<u8> {
    let bytes = ct.to_bytes(&f.scheme).unwrap();
    assert_eq!(ct.wire_len(&f.scheme), bytes.len());
    // write_to appends exactly those bytes after whatever the buffer holds.
    let mut appended = b"prefix".to_vec();
    ct.write_to(&f.scheme, &mut appended).unwrap();
    assert!(appended[..6] == *b"prefix" && appended[6..] == bytes[..]);
    let back = Ciphertext::from_bytes(&f.scheme, &bytes).unwrap();
    assert_eq!((back.count(), back.len(), back.level(), back.factor(), back.is_seeded()), (ct.count(), ct.len(), ct.level(), ct.factor(), ct.is_seeded()));
    assert_eq!(back.to_bytes(&f.scheme).unwrap(), bytes);
    let be = f.scheme.backend();
    for (x, y) in back.parts().iter().zip(ct.parts()) {
        assert_eq!(be.download(f.scheme.plan(), x).unwrap(), be.download(f.scheme.plan(), y).unwrap());
    }
    // Where the noise allows (the small ring decrypts fresh ciphertexts only), the plaintexts.
    let dec = f.scheme.decryptor(&f.sk).unwrap();
    if let Ok(pts) = dec.decrypt_many(ct) {
        assert_eq!(dec.decrypt_many(&back).unwrap(), pts);
    }
    bytes
}

#[test]
fn ciphertexts_round_trip_at_every_level_length_and_count() {
    for params in [small_parameters(), Preset::N2048Additive.parameters(65537).unwrap(), Preset::N4096.parameters(65537).unwrap()] {
        let f = fixture(params.clone());
        let pts: Vec<Plaintext> = (0..3).map(|_| f.random_plain(100)).collect();
        let refs: Vec<&Plaintext> = pts.iter().collect();
        let enc = f.scheme.encryptor(f.keys.public_key()).unwrap();
        let ev = f.scheme.evaluator(&f.keys).unwrap();
        let mut rng = test_rng(5);
        for level in 1..=params.max_level() {
            let ct = enc.encrypt_many_at_level(&refs, level, &mut rng).unwrap();
            round_trip(&f, &ct);
            round_trip(&f, &enc.encrypt_many_at_level(&refs[..1], level, &mut rng).unwrap());
        }
        let seeded = f.scheme.encrypt_symmetric(&f.sk, &refs, &mut rng).unwrap();
        assert!(seeded.is_seeded());
        round_trip(&f, &seeded);
        round_trip(&f, &f.scheme.encrypt_symmetric(&f.sk, &refs[..1], &mut rng).unwrap());
        let one = enc.encrypt(&pts[0], &mut rng).unwrap();
        let product = ev.mul(&one, &one).unwrap();
        assert_eq!(product.len(), 3);
        round_trip(&f, &product);
        if params.max_level() > 1 {
            let mut low = ev.duplicate(&seeded).unwrap();
            ev.mod_switch_assign(&mut low).unwrap();
            assert_ne!(low.factor(), 1);
            round_trip(&f, &low);
        }
        // Keys made by key generation load and work.
        let keys = EvaluationKeys::from_bytes(&params, &f.keys.to_bytes().unwrap()).unwrap();
        assert_eq!(keys.to_bytes().unwrap(), f.keys.to_bytes().unwrap());
        let ev2 = f.scheme.evaluator(&keys).unwrap();
        let sum = ev2.add(&one, &one).unwrap();
        let dec = f.scheme.decryptor(&f.sk).unwrap();
        assert_eq!(dec.decrypt(&sum).unwrap(), dec.decrypt(&ev.add(&one, &one).unwrap()).unwrap());
        let pk = PublicKey::from_bytes(&params, &f.keys.public_key().to_bytes()).unwrap();
        let ct = f.scheme.encryptor(&pk).unwrap().encrypt(&pts[1], &mut rng).unwrap();
        assert_eq!(dec.decrypt(&ct).unwrap(), pts[1]);
        let sk = ringvault_core::scheme::SecretKey::import_secret_bytes(&params, &f.sk.export_secret_bytes()).unwrap();
        assert_eq!(f.scheme.decryptor(&sk).unwrap().decrypt(&ct).unwrap(), pts[1]);
    }
}

#[test]
fn relinearization_and_rotation_work_with_loaded_keys() {
    let params = Preset::N4096.parameters(65537).unwrap();
    let f = fixture(params.clone());
    let keys = EvaluationKeys::from_bytes(&params, &f.keys.to_bytes().unwrap()).unwrap();
    let ev = f.scheme.evaluator(&keys).unwrap();
    let pt = f.random_plain(5);
    let ct = f.encrypt(&pt);
    let sq = ev.mul_relin(&ct, &ct).unwrap();
    assert_eq!(f.decrypt(&sq), ringvault_core::testing::scheme::plain_mul(&pt, &pt));
    let rotated = ev.rotate_columns(&ct).unwrap();
    let reference = f.scheme.evaluator(&f.keys).unwrap().rotate_columns(&ct).unwrap();
    assert_eq!(f.decrypt(&rotated), f.decrypt(&reference));
}

/// Sizes at n = 4096 (three ciphertext primes of 28, 27, 27 bits): a public-key ciphertext is
/// its residues' information content plus the header; a seeded one about half.
#[test]
fn ciphertext_sizes_at_n4096() {
    let params = Preset::N4096.parameters(65537).unwrap();
    let f = fixture(params.clone());
    let pt = f.random_plain(100);
    let ct = f.encrypt(&pt).to_bytes(&f.scheme).unwrap();
    let seeded = f.scheme.encrypt_symmetric(&f.sk, &[&pt], &mut test_rng(3)).unwrap().to_bytes(&f.scheme).unwrap();
    let n = params.n() as f64;
    let poly_bits: f64 = params.literal().ciphertext_primes.iter().map(|&q| n * f64::from(q).log2()).sum();
    let info = 2.0 * poly_bits / 8.0;
    let header = 48.0;
    eprintln!("n = 4096: public-key ciphertext {} bytes (information content {:.0}), seeded {} bytes", ct.len(), info, seeded.len());
    assert!(ct.len() as f64 <= info.ceil() + header + 16.0, "{} > {info} + header", ct.len());
    assert!(seeded.len() as f64 <= (info / 2.0).ceil() + 32.0 + header + 16.0, "{}", seeded.len());
    assert!((seeded.len() as f64) < 0.51 * ct.len() as f64);
    // Keys: b packed, a as seeds.
    let pk = f.keys.public_key().to_bytes();
    assert!(pk.len() as f64 <= 32.0 + 32.0 + (poly_bits / 8.0).ceil() + 8.0, "{}", pk.len());
    let keys = f.keys.to_bytes().unwrap();
    let galois = f.keys.galois_elements().len();
    // The bundle is the public key, the relinearization key and the Galois keys, each whole.
    let switch_len = (keys.len() - 40 - pk.len()) / (galois + 1);
    let all_bits: f64 = params.ring().primes().iter().map(|&q| n * f64::from(q).log2()).sum();
    let digits = params.max_level() as f64;
    assert!(switch_len as f64 <= digits * (all_bits / 8.0 + 32.0) + 40.0 + 16.0, "{switch_len}");
    eprintln!("n = 4096: public key {} bytes, relinearization or galois key {switch_len} bytes, evaluation keys ({galois} galois) {} bytes", pk.len(), keys.len());
}

#[test]
fn truncation_and_bit_flips_of_a_ciphertext_are_rejected() {
    let params = small_parameters();
    let f = fixture(params.clone());
    let ct = f.encrypt(&f.random_plain(50)).to_bytes(&f.scheme).unwrap();
    let seeded = f.scheme.encrypt_symmetric(&f.sk, &[&f.random_plain(50)], &mut test_rng(9)).unwrap().to_bytes(&f.scheme).unwrap();
    for bytes in [&ct, &seeded] {
        for len in 0..bytes.len() {
            assert!(matches!(Ciphertext::from_bytes(&f.scheme, &bytes[..len]), Err(Error::WireLength { .. })), "length {len}");
        }
        let mut rng = test_rng(10);
        let mut loaded = 0;
        for _ in 0..1000 {
            let mut flipped = bytes.clone();
            let bit = (rng.next_u64() % (8 * bytes.len() as u64)) as usize;
            flipped[bit / 8] ^= 1 << (bit % 8);
            match Ciphertext::from_bytes(&f.scheme, &flipped) {
                Ok(_) => {
                    loaded += 1;
                    assert!(bit / 8 >= 48, "header bit {bit} flipped and accepted");
                }
                Err(e) => assert!(is_wire_error(&e), "bit {bit}: {e:?}"),
            }
        }
        assert!(loaded > 0);
    }
}

#[test]
fn hostile_ciphertext_headers_are_rejected() {
    let params = small_parameters();
    let f = fixture(params.clone());
    let ct = f.encrypt(&f.random_plain(50)).to_bytes(&f.scheme).unwrap();
    let load = |b: &[u8]| Ciphertext::from_bytes(&f.scheme, b).unwrap_err();
    for len in [0u16, 1, 17, u16::MAX] {
        assert_eq!(load(&patch(&ct, LEN, &len.to_le_bytes())), Error::WireFieldOutOfRange { field: "ciphertext length", value: len.into(), min: 2, max: 16 });
    }
    // Length 16 is in range: then the byte length is wrong.
    assert!(matches!(load(&patch(&ct, LEN, &16u16.to_le_bytes())), Error::WireLength { what: "body", .. }));
    for level in [0u16, 3, u16::MAX] {
        assert!(matches!(load(&patch(&ct, LEVEL, &level.to_le_bytes())), Error::WireFieldOutOfRange { field: "level", .. }));
    }
    for count in [0u32, MAX_BATCH_COUNT as u32 + 1, 1 << 31, u32::MAX] {
        assert!(matches!(load(&patch(&ct, COUNT, &count.to_le_bytes())), Error::WireFieldOutOfRange { field: "count", .. }), "{count}");
    }
    assert!(matches!(load(&patch(&ct, COUNT, &(MAX_BATCH_COUNT as u32).to_le_bytes())), Error::WireLength { .. }));
    for factor in [0u32, 257, u32::MAX] {
        assert!(matches!(load(&patch(&ct, FACTOR, &factor.to_le_bytes())), Error::WireFieldOutOfRange { field: "factor", .. }));
    }
    assert!(matches!(load(&patch(&ct, SEEDED, &[2])), Error::WireFieldOutOfRange { field: "seeded flag", .. }));
    // Seeded with length 3.
    let seeded3 = patch(&patch(&ct, SEEDED, &[1]), LEN, &3u16.to_le_bytes());
    assert!(matches!(load(&seeded3), Error::WireFieldOutOfRange { field: "length of a seeded ciphertext", .. }));
    for big in [1u64 << 63, u64::MAX] {
        assert!(matches!(load(&patch(&ct, 24, &big.to_le_bytes())), Error::WireLength { .. }));
    }
    // Another parameter set; another object type.
    let other = fixture(Preset::N2048Additive.parameters(65537).unwrap());
    assert!(matches!(Ciphertext::from_bytes(&other.scheme, &ct), Err(Error::WireParameterId { .. })));
    for kind in ObjectKind::ALL.into_iter().filter(|&k| k != ObjectKind::Ciphertext) {
        assert!(matches!(load(&patch(&ct, 6, &[kind.code()])), Error::WireObjectType { expected: "ciphertext", .. }));
    }
    assert!(matches!(PublicKey::from_bytes(&params, &ct), Err(Error::WireObjectType { .. })));
    // A residue equal to its prime: the first residue of c0 (20-bit prime, bits 0..20).
    let q = params.ring().modulus(0).value();
    let mut bad = ct.clone();
    let first = u32::from_le_bytes(bad[48..52].try_into().unwrap());
    let replaced = (first & !0xF_FFFF) | q;
    bad[48..52].copy_from_slice(&replaced.to_le_bytes());
    assert_eq!(load(&bad), Error::ResidueOutOfRange { value: q, q });
}

/// A compressed ciphertext claiming a huge batch is refused from its header, before inflating.
#[test]
fn compressed_ciphertext_bound() {
    let params = Preset::N4096.parameters(65537).unwrap();
    let f = fixture(params);
    let ct = f.encrypt(&f.random_plain(50)).to_bytes(&f.scheme).unwrap();
    let z = wire::compress(&ct, 3).unwrap();
    assert!(Ciphertext::from_bytes(&f.scheme, &z).is_ok());
    let huge = patch(&z, COUNT, &(MAX_BATCH_COUNT as u32).to_le_bytes());
    assert!(matches!(Ciphertext::from_bytes(&f.scheme, &huge), Err(Error::WireDecompressedTooLarge { .. })));
    let two = patch(&z, COUNT, &2u32.to_le_bytes());
    assert!(matches!(Ciphertext::from_bytes(&f.scheme, &two), Err(Error::WireLength { .. })));
    // Sixteen zero ciphertexts (valid residues, 1.3 MB) load uncompressed, but compressed to a
    // few hundred bytes they exceed the ratio bound.
    let body = ct.len() - 48;
    let mut zeros = patch(&ct[..48], COUNT, &16u32.to_le_bytes());
    zeros[24..32].copy_from_slice(&(16 * body as u64).to_le_bytes());
    zeros.resize(48 + 16 * body, 0);
    assert_eq!(Ciphertext::from_bytes(&f.scheme, &zeros).unwrap().count(), 16);
    let bomb = wire::compress(&zeros, 3).unwrap();
    assert!(bomb.len() < 1000, "{}", bomb.len());
    assert!(matches!(Ciphertext::from_bytes(&f.scheme, &bomb), Err(Error::WireDecompressedTooLarge { .. })));
}

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Every committed corpus seed loads and is canonical; every committed regression input (a
/// crash the fuzzer found, fixed since) is handled without a panic.
#[test]
fn fuzz_corpus_and_regressions() {
    let scheme = Scheme::new(Arc::new(CpuBackend::new()), small_parameters()).unwrap();
    let mut seeds = 0;
    for target in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let bytes = std::fs::read(&path).unwrap();
            if name.starts_with("seed-") {
                seeds += 1;
                load_and_encode(target, &scheme, &bytes).unwrap_or_else(|e| panic!("{target}/{name}: {e}"));
            }
            check_input(target, &scheme, &bytes);
        }
        let regressions = fuzz_dir().join("regressions").join(target);
        if let Ok(entries) = std::fs::read_dir(&regressions) {
            for entry in entries {
                check_input(target, &scheme, &std::fs::read(entry.unwrap().path()).unwrap());
            }
        }
    }
    assert!(seeds >= 16, "{seeds} seeds");
}

/// Every sample object (the corpus seeds' source) loads through its target's loader and
/// re-encodes to itself, and its target has committed seeds. With
/// `RINGVAULT_WRITE_FUZZ_CORPUS=1` the seeds are (re)written first, after a format change.
#[test]
fn sample_objects_are_valid_corpus_seeds() {
    let write = std::env::var("RINGVAULT_WRITE_FUZZ_CORPUS").is_ok_and(|v| v == "1");
    let scheme = Scheme::new(Arc::new(CpuBackend::new()), small_parameters()).unwrap();
    for (target, name, bytes) in sample_objects(CpuBackend::new()) {
        let dir = fuzz_dir().join("corpus").join(target);
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("seed-{name}")), &bytes).unwrap();
        }
        load_and_encode(target, &scheme, &bytes).unwrap_or_else(|e| panic!("{target}/{name}: {e}"));
        assert!(std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()), "{target}: no committed seeds in {}", dir.display());
    }
}
