//! Wire-format tests on synthetic objects (no backend needed: keys are built from fixed-seed
//! residues; the format does not care whether `b` is a real RLWE sample). Real keys and
//! ciphertexts are tested in `backend-cpu/tests/wire.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use super::*;
use crate::ring::{BatchShape, Ntt, PolyBatch};
use crate::scheme::sampling::ternary;
use crate::scheme::{EvaluationKeys, GaloisElement, KeySwitchKey, KeyTarget, Parameters, Plaintext, Preset, PublicKey, SecretKey, expand_uniform};
use crate::testing::wire::{is_wire_error, small_parameters};

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn seed(rng: &mut ChaCha20Rng) -> [u8; 32] {
    let mut s = [0u8; 32];
    rng.fill_bytes(&mut s);
    s
}

/// Uniform residues (any valid batch serves the format).
fn random_batch(params: &Parameters, count: usize, limbs: Vec<usize>, rng: &mut ChaCha20Rng) -> PolyBatch<Ntt> {
    let seeds: Vec<[u8; 32]> = (0..count).map(|_| seed(rng)).collect();
    let batch = expand_uniform(params, &seeds, &limbs).unwrap();
    assert_eq!(batch.shape_ref(), &BatchShape::new(count, params.n(), limbs));
    batch
}

fn public_key(params: &Arc<Parameters>, rng: &mut ChaCha20Rng) -> PublicKey {
    let limbs: Vec<usize> = (0..params.max_level()).collect();
    let a_seed = seed(rng);
    let a = expand_uniform(params, &[a_seed], &limbs).unwrap();
    let b = random_batch(params, 1, limbs, rng);
    PublicKey { params: params.clone(), b, a, a_seed }
}

fn switch_key(params: &Arc<Parameters>, target: KeyTarget, rng: &mut ChaCha20Rng) -> KeySwitchKey {
    switch_key_at(params, target, params.max_level(), rng)
}

fn switch_key_at(params: &Arc<Parameters>, target: KeyTarget, levels: usize, rng: &mut ChaCha20Rng) -> KeySwitchKey {
    let limbs = params.key_limbs(levels);
    let digits = params.digit_count(levels);
    let seeds: Vec<[u8; 32]> = (0..digits).map(|_| seed(rng)).collect();
    let a = expand_uniform(params, &seeds, &limbs).unwrap();
    let b = random_batch(params, digits, limbs, rng);
    KeySwitchKey { target, levels, b, a, seeds }
}

fn evaluation_keys(params: &Arc<Parameters>, rng: &mut ChaCha20Rng) -> EvaluationKeys {
    let public = public_key(params, rng);
    let (relin, galois) = if params.supports_key_switching() {
        let n = params.n();
        let mut map = BTreeMap::new();
        for k in [GaloisElement::row_rotation(n, 1), GaloisElement::column_swap(n)] {
            map.insert(k, switch_key(params, KeyTarget::Galois(k), rng));
        }
        (Some(switch_key(params, KeyTarget::Relinearization, rng)), map)
    } else {
        (None, BTreeMap::new())
    };
    EvaluationKeys { params: params.clone(), public, relin, galois }
}

fn secret_key(params: &Arc<Parameters>, rng: &mut ChaCha20Rng) -> SecretKey {
    SecretKey::from_ternary(params, ternary(rng, params.n())).unwrap()
}

fn plaintext(params: &Arc<Parameters>, rng: &mut ChaCha20Rng) -> Plaintext {
    let t = params.plaintext().value();
    let coeffs: Vec<u32> = (0..params.n()).map(|_| rng.next_u32() % t).collect();
    Plaintext::new(params, &coeffs).unwrap()
}

fn same_switch_key(a: &KeySwitchKey, b: &KeySwitchKey) {
    assert_eq!(a.target, b.target);
    assert_eq!(a.seeds, b.seeds);
    assert_eq!(a.a, b.a);
    assert_eq!(a.b, b.b);
}

fn presets() -> Vec<Arc<Parameters>> {
    vec![small_parameters(), Preset::N2048Additive.parameters(65537).unwrap(), Preset::N4096.parameters(65537).unwrap()]
}

/// Every object type round-trips, bit for bit, at several parameter sets.
#[test]
fn every_object_round_trips() {
    for params in presets() {
        let mut r = rng(1);
        let p = Parameters::from_bytes(&params.to_bytes()).unwrap();
        assert_eq!(p.literal(), params.literal());
        assert_eq!(p.id(), params.id());

        let pk = public_key(&params, &mut r);
        let bytes = pk.to_bytes();
        let back = PublicKey::from_bytes(&params, &bytes).unwrap();
        assert_eq!((&back.a, &back.b, back.a_seed), (&pk.a, &pk.b, pk.a_seed));
        assert_eq!(back.to_bytes(), bytes);

        let keys = evaluation_keys(&params, &mut r);
        let bytes = keys.to_bytes().unwrap();
        let back = EvaluationKeys::from_bytes(&params, &bytes).unwrap();
        assert_eq!(back.to_bytes().unwrap(), bytes);
        assert_eq!(back.galois_elements(), keys.galois_elements());
        assert_eq!(back.public.b, keys.public.b);
        if let (Some(x), Some(y)) = (&back.relin, &keys.relin) {
            same_switch_key(x, y);
        }
        assert_eq!(back.relin.is_some(), keys.relin.is_some());
        for (k, key) in &keys.galois {
            same_switch_key(&back.galois[k], key);
            let single = key.to_bytes(&params).unwrap();
            same_switch_key(&KeySwitchKey::from_bytes(&params, &single).unwrap(), key);
        }

        let sk = secret_key(&params, &mut r);
        let bytes = sk.export_secret_bytes();
        let back = SecretKey::import_secret_bytes(&params, &bytes).unwrap();
        assert_eq!(back.export_coefficients(), sk.export_coefficients());
        assert_eq!(back.ntt(), sk.ntt());

        let pt = plaintext(&params, &mut r);
        assert_eq!(Plaintext::from_bytes(&params, &pt.to_bytes()).unwrap(), pt);
    }
}

/// The secret key's NTT form recomputed on load equals the one key generation makes (by the
/// reference transform of each prime).
#[test]
fn imported_secret_key_matches_the_reference_transform() {
    let params = small_parameters();
    let sk = secret_key(&params, &mut rng(3));
    let n = params.n();
    for l in 0..params.ring().len() {
        let m = params.ring().modulus(l);
        let mut row: Vec<u32> = sk.export_coefficients().iter().map(|&c| crate::scheme::sampling::small_to_residue(i32::from(c), m)).collect();
        params.ring().table(l).forward(&mut row);
        assert_eq!(&sk.ntt().data()[l * n..(l + 1) * n], &row[..]);
    }
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Golden hashes: the SHA-256 of fixed-seed objects. A change here is a format change: bump
/// [`FORMAT_VERSION`] (and keep reading the old version, or say why not) before updating.
#[test]
fn golden_hashes() {
    let params = small_parameters();
    let mut r = rng(42);
    let keys = evaluation_keys(&params, &mut r);
    let sk = secret_key(&params, &mut r);
    let pt = plaintext(&params, &mut r);
    let got = [
        ("parameter id", params.id().to_string()),
        ("parameters", hex(&sha256(&params.to_bytes()))),
        ("n4096 parameter id", Preset::N4096.parameters(65537).unwrap().id().to_string()),
        ("evaluation keys", hex(&sha256(&keys.to_bytes().unwrap()))),
        ("secret key", hex(&sha256(&sk.export_secret_bytes()))),
        ("plaintext", hex(&sha256(&pt.to_bytes()))),
    ];
    // The first two were also derived independently: a Python script packing the literal
    // ([1032193, 114689], [86017], t = 257, one prime per digit) with `struct` and hashing
    // with `hashlib` (format version 2).
    let expected = [
        ("parameter id", "7fea4613dc3b4d3f4ed32ce065d68fd3"),
        ("parameters", "66e3c12d7bc35f4c555ccabd147351c4c63f0ae0b844e873a400fbe75dff0259"),
        ("n4096 parameter id", "92a75b0a88745d3e033f3b85282c1a98"),
        ("evaluation keys", "8504d4673a0e0a34d952fa89c99e885ca59a830a7764e27c2abcca5ef12ddf4d"),
        ("secret key", "b88e06d2e599a8e00dca5fcedc5f9ab2fa42dea9356d133b15f0ea949d5590bb"),
        ("plaintext", "81144e33948ce6b769e7818ed3be25be4019bff7ea7f121ea1a52ea8210a57e2"),
    ];
    let all: Vec<String> = got.iter().map(|(what, got)| format!("{what}: {got}")).collect();
    for ((what, got), (_, want)) in got.iter().zip(expected) {
        assert_eq!(got, want, "{what} (every value: {all:#?})");
    }
}

/// Known layout of the header, byte by byte.
#[test]
fn header_layout() {
    let params = small_parameters();
    let pt = Plaintext::zero(&params);
    let bytes = pt.to_bytes();
    assert_eq!(&bytes[..4], b"RVLT");
    assert_eq!(u16::from_le_bytes([bytes[4], bytes[5]]), FORMAT_VERSION);
    assert_eq!(bytes[6], ObjectKind::Plaintext.code());
    assert_eq!(bytes[7], 0);
    assert_eq!(&bytes[8..24], params.id().as_bytes());
    // 2048 coefficients of 9 bits (t = 257).
    assert_eq!(u64::from_le_bytes(bytes[24..32].try_into().unwrap()), 2048 * 9 / 8);
    assert_eq!(bytes.len(), 32 + 2048 * 9 / 8);
    let info = inspect(&bytes).unwrap();
    assert_eq!(info.kind(), ObjectKind::Plaintext);
    assert_eq!(info.parameter_id, params.id());
}

/// Every loader refuses every truncation (and the empty input) with a typed error.
#[test]
fn truncation_at_every_offset_is_rejected() {
    let params = small_parameters();
    let mut r = rng(5);
    let galois = switch_key(&params, KeyTarget::Galois(GaloisElement::column_swap(params.n())), &mut r).to_bytes(&params).unwrap();
    for len in 0..galois.len() {
        let e = KeySwitchKey::from_bytes(&params, &galois[..len]).unwrap_err();
        assert!(matches!(e, Error::WireLength { .. }), "length {len}: {e}");
    }
    let pk = public_key(&params, &mut r).to_bytes();
    let sk = secret_key(&params, &mut r).export_secret_bytes();
    let pt = plaintext(&params, &mut r).to_bytes();
    let pb = params.to_bytes();
    for len in 0..pk.len() {
        assert!(PublicKey::from_bytes(&params, &pk[..len]).is_err());
        assert!(EvaluationKeys::from_bytes(&params, &pk[..len]).is_err());
    }
    for len in 0..sk.len() {
        assert!(SecretKey::import_secret_bytes(&params, &sk[..len]).is_err());
    }
    for len in 0..pt.len() {
        assert!(Plaintext::from_bytes(&params, &pt[..len]).is_err());
    }
    for len in 0..pb.len() {
        assert!(matches!(Parameters::from_bytes(&pb[..len]), Err(Error::WireLength { .. })));
    }
    // One byte too many is as wrong as one too few.
    let mut long = galois.clone();
    long.push(0);
    assert!(matches!(KeySwitchKey::from_bytes(&params, &long), Err(Error::WireLength { .. })));
}

/// A thousand random single-bit flips per object: each is rejected with a typed error or, in
/// a residue or seed, loaded (a flipped residue that stays below its prime is another valid
/// key). Never a panic.
#[test]
fn random_bit_flips_are_rejected_or_harmless() {
    let params = small_parameters();
    let mut r = rng(6);
    let keys = evaluation_keys(&params, &mut r);
    let objects: Vec<(&str, Vec<u8>)> = vec![
        ("public key", keys.public.to_bytes()),
        ("galois key", keys.galois.values().next().unwrap().to_bytes(&params).unwrap()),
        ("bundle", keys.to_bytes().unwrap()),
        ("secret key", secret_key(&params, &mut r).export_secret_bytes().to_vec()),
        ("plaintext", plaintext(&params, &mut r).to_bytes()),
        ("parameters", params.to_bytes()),
    ];
    for (what, bytes) in objects {
        let (mut rejected, mut loaded) = (0, 0);
        for _ in 0..1000 {
            let mut flipped = bytes.clone();
            let bit = (r.next_u64() % (8 * bytes.len() as u64)) as usize;
            flipped[bit / 8] ^= 1 << (bit % 8);
            let result = match what {
                "public key" => PublicKey::from_bytes(&params, &flipped).map(drop),
                "galois key" => KeySwitchKey::from_bytes(&params, &flipped).map(drop),
                "bundle" => EvaluationKeys::from_bytes(&params, &flipped).map(drop),
                "secret key" => SecretKey::import_secret_bytes(&params, &flipped).map(drop),
                "plaintext" => Plaintext::from_bytes(&params, &flipped).map(drop),
                _ => Parameters::from_bytes(&flipped).map(drop),
            };
            match result {
                Ok(()) => {
                    loaded += 1;
                    // Only body bits may be harmless.
                    assert!(bit / 8 >= 32, "{what}: header bit {bit} flipped and accepted");
                }
                Err(e) => {
                    rejected += 1;
                    assert!(is_wire_error(&e) || what == "parameters", "{what}: bit {bit}: unexpected error {e:?}");
                }
            }
        }
        assert_eq!(rejected + loaded, 1000);
        if what == "parameters" {
            // Every bit of parameters is covered by the identifier.
            assert_eq!(loaded, 0, "{what}");
        }
    }
}

/// Overwrites `len` bytes at `at`.
fn patch(bytes: &[u8], at: usize, value: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at..at + value.len()].copy_from_slice(value);
    out
}

/// Length fields and counts inflated up to 2^63 and beyond are refused before any allocation.
#[test]
fn inflated_length_fields_are_rejected() {
    let params = small_parameters();
    let mut r = rng(7);
    let keys = evaluation_keys(&params, &mut r);
    let bundle = keys.to_bytes().unwrap();
    let galois = keys.galois.values().next().unwrap().to_bytes(&params).unwrap();
    for big in [1u64 << 63, u64::MAX, (1 << 32) + 1, bundle.len() as u64] {
        let e = EvaluationKeys::from_bytes(&params, &patch(&bundle, 24, &big.to_le_bytes())).unwrap_err();
        assert!(matches!(e, Error::WireLength { .. }), "{e}");
    }
    for count in [u32::MAX, 1 << 31, 2049, 3] {
        let e = EvaluationKeys::from_bytes(&params, &patch(&bundle, 36, &count.to_le_bytes())).unwrap_err();
        assert!(matches!(e, Error::WireFieldOutOfRange { field: "galois key count", .. } | Error::WireLength { .. }), "{count}: {e}");
    }
    for digits in [u16::MAX, 1 << 15, 3, 0] {
        let e = KeySwitchKey::from_bytes(&params, &patch(&galois, 38, &digits.to_le_bytes())).unwrap_err();
        assert!(matches!(e, Error::WireFieldOutOfRange { field: "digits", .. }), "{digits}: {e}");
    }
    for levels in [u16::MAX, 3, 0] {
        let e = KeySwitchKey::from_bytes(&params, &patch(&galois, 36, &levels.to_le_bytes())).unwrap_err();
        assert!(matches!(e, Error::WireFieldOutOfRange { field: "key levels", .. }), "{levels}: {e}");
    }
    let pb = params.to_bytes();
    for (at, value) in [(32, u32::MAX.to_le_bytes().to_vec()), (36, vec![0xff, 0xff]), (38, vec![0xff, 0xff]), (36, vec![0, 0]), (45, vec![0]), (45, vec![3])] {
        let e = Parameters::from_bytes(&patch(&pb, at, &value)).unwrap_err();
        assert!(matches!(e, Error::InvalidDegree { .. } | Error::WireFieldOutOfRange { .. } | Error::EmptyBasis), "{at}: {e}");
    }
}

/// A loader refuses an object of other parameters, and a tampered identifier.
#[test]
fn wrong_parameter_identifier_is_rejected() {
    let params = small_parameters();
    let other = Preset::N2048Additive.parameters(65537).unwrap();
    let mut r = rng(8);
    let pk = public_key(&params, &mut r).to_bytes();
    assert_eq!(PublicKey::from_bytes(&other, &pk).unwrap_err(), Error::WireParameterId { expected: other.id(), found: params.id() });
    let mut tampered = pk.clone();
    tampered[8] ^= 1;
    assert!(matches!(PublicKey::from_bytes(&params, &tampered), Err(Error::WireParameterId { .. })));
    // Parameters whose primes changed but whose identifier did not.
    let pb = params.to_bytes();
    let mut changed = pb.clone();
    let last = changed.len() - 4;
    changed[last..].copy_from_slice(&ntt_prime_17(2).to_le_bytes());
    assert!(matches!(Parameters::from_bytes(&changed), Err(Error::WireParameterId { .. })));
    // A different t is a different parameter set.
    let mut lit = params.literal().clone();
    lit.plaintext_modulus = 17;
    let p17 = Parameters::new(lit).unwrap();
    assert_ne!(p17.id(), params.id());
    assert!(matches!(Plaintext::from_bytes(&p17, &Plaintext::zero(&params).to_bytes()), Err(Error::WireParameterId { .. })));
    assert!(matches!(SecretKey::import_secret_bytes(&p17, &secret_key(&params, &mut r).export_secret_bytes()), Err(Error::WireParameterId { .. })));
}

fn ntt_prime_17(index: usize) -> u32 {
    crate::prime::ntt_primes(17, 2048, index + 1).unwrap()[index]
}

/// A residue equal to its prime (the smallest out-of-range value) is refused, in every limb.
#[test]
fn residue_equal_to_its_prime_is_rejected() {
    let params = small_parameters();
    let mut r = rng(9);
    let mut pk = public_key(&params, &mut r);
    let n = params.n();
    for l in 0..params.max_level() {
        let q = params.ring().modulus(l).value();
        let saved = pk.b.data()[l * n + 5];
        pk.b.data_mut()[l * n + 5] = q;
        assert_eq!(PublicKey::from_bytes(&params, &pk.to_bytes()).unwrap_err(), Error::ResidueOutOfRange { value: q, q });
        pk.b.data_mut()[l * n + 5] = q - 1;
        assert!(PublicKey::from_bytes(&params, &pk.to_bytes()).is_ok());
        pk.b.data_mut()[l * n + 5] = saved;
    }
    let mut pt = plaintext(&params, &mut r);
    pt.coeffs[0] = 257;
    assert_eq!(Plaintext::from_bytes(&params, &pt.to_bytes()).unwrap_err(), Error::ResidueOutOfRange { value: 257, q: 257 });
    // The invalid ternary code 3.
    let mut sk = secret_key(&params, &mut r).export_secret_bytes().to_vec();
    sk[32] |= 0b11;
    assert_eq!(SecretKey::import_secret_bytes(&params, &sk).unwrap_err(), Error::ResidueOutOfRange { value: 3, q: 3 });
}

/// An object type swapped for every other one is refused by every loader.
#[test]
fn swapped_object_type_is_rejected() {
    let params = small_parameters();
    let mut r = rng(10);
    let keys = evaluation_keys(&params, &mut r);
    let relin = keys.relin.as_ref().unwrap().to_bytes(&params).unwrap();
    let objects = [keys.public.to_bytes(), relin.clone(), keys.to_bytes().unwrap(), plaintext(&params, &mut r).to_bytes(), secret_key(&params, &mut r).export_secret_bytes().to_vec(), params.to_bytes()];
    for bytes in &objects {
        let own = bytes[6];
        for code in (0..=255u8).filter(|&c| c != own) {
            let swapped = patch(bytes, 6, &[code]);
            let results = [
                PublicKey::from_bytes(&params, &swapped).map(drop),
                EvaluationKeys::from_bytes(&params, &swapped).map(drop),
                Plaintext::from_bytes(&params, &swapped).map(drop),
                SecretKey::import_secret_bytes(&params, &swapped).map(drop),
                Parameters::from_bytes(&swapped).map(drop),
                KeySwitchKey::from_bytes(&params, &swapped).map(drop),
            ];
            for result in results {
                let e = result.unwrap_err();
                assert!(is_wire_error(&e), "type {own} → {code}: {e:?}");
            }
        }
    }
    // A relinearization key relabelled as a Galois key has element 0: not a Galois element.
    assert!(matches!(KeySwitchKey::from_bytes(&params, &patch(&relin, 6, &[ObjectKind::GaloisKey.code()])), Err(Error::InvalidGaloisElement { k: 0, .. })));
    assert_eq!(
        PublicKey::from_bytes(&params, &relin).unwrap_err(),
        Error::WireObjectType { expected: "public key", found: ObjectKind::RelinearizationKey.code() }
    );
}

/// Magic, version, flags and reserved bytes.
#[test]
fn header_fields_are_checked() {
    let params = small_parameters();
    let pt = Plaintext::zero(&params).to_bytes();
    assert_eq!(Plaintext::from_bytes(&params, &patch(&pt, 0, b"RVLX")).unwrap_err(), Error::WireMagic { found: *b"RVLX" });
    assert_eq!(Plaintext::from_bytes(&params, b"PK\x03\x04").unwrap_err(), Error::WireMagic { found: *b"PK\x03\x04" });
    let newer = patch(&pt, 4, &3u16.to_le_bytes());
    let e = Plaintext::from_bytes(&params, &newer).unwrap_err();
    assert_eq!(e, Error::WireVersion { found: 3, supported: 2 });
    assert_eq!(e.to_string(), "wire format version 3 is not supported; this build reads version 2");
    let older = patch(&pt, 4, &1u16.to_le_bytes());
    assert_eq!(Plaintext::from_bytes(&params, &older).unwrap_err(), Error::WireVersion { found: 1, supported: 2 });
    assert!(matches!(Plaintext::from_bytes(&params, &patch(&pt, 7, &[2])), Err(Error::WireFieldOutOfRange { field: "flags", .. })));
    let keys = evaluation_keys(&params, &mut rng(11));
    let bundle = keys.to_bytes().unwrap();
    assert!(matches!(EvaluationKeys::from_bytes(&params, &patch(&bundle, 35, &[1])), Err(Error::WireFieldOutOfRange { field: "reserved byte", .. })));
    assert!(matches!(EvaluationKeys::from_bytes(&params, &patch(&bundle, 33, &[3])), Err(Error::WireFieldOutOfRange { field: "relinearization key levels", .. })));
    assert!(matches!(EvaluationKeys::from_bytes(&params, &patch(&bundle, 34, &[0])), Err(Error::WireFieldOutOfRange { field: "galois key levels", .. })));
    // Levels that fit the parameters but not the inner keys: the length no longer matches.
    assert!(matches!(EvaluationKeys::from_bytes(&params, &patch(&bundle, 34, &[1])), Err(Error::WireLength { .. })));
    assert!(matches!(EvaluationKeys::from_bytes(&params, &patch(&bundle, 32, &[2])), Err(Error::WireFieldOutOfRange { field: "relinearization key flag", .. })));
    assert_eq!(
        Plaintext::from_bytes(&params, &patch(&pt, 6, &[99])).unwrap_err().to_string(),
        "expected plaintext, found unknown type 99"
    );
}

/// The bundle's inner objects: Galois keys in strictly increasing order, no compression, the
/// same parameters.
#[test]
fn bundle_is_canonical() {
    let params = small_parameters();
    let keys = evaluation_keys(&params, &mut rng(12));
    let bundle = keys.to_bytes().unwrap();
    let pk_len = keys.public.to_bytes().len();
    let ks_len = keys.relin.as_ref().unwrap().to_bytes(&params).unwrap().len();
    let g0 = 40 + pk_len + ks_len;
    let g1 = g0 + ks_len;
    let mut swapped = bundle.clone();
    swapped[g0..g1].copy_from_slice(&bundle[g1..g1 + ks_len]);
    swapped[g1..g1 + ks_len].copy_from_slice(&bundle[g0..g1]);
    assert!(matches!(EvaluationKeys::from_bytes(&params, &swapped), Err(Error::WireNonCanonical { .. })));
    let mut inner_flag = bundle.clone();
    inner_flag[40 + 7] = 1;
    assert!(matches!(EvaluationKeys::from_bytes(&params, &inner_flag), Err(Error::WireFieldOutOfRange { .. })));
    // No key-switching key under parameters without special primes.
    let additive = Preset::N2048Additive.parameters(65537).unwrap();
    let mut r = rng(13);
    let foreign = switch_key(&params, KeyTarget::Relinearization, &mut r);
    let mut bytes = foreign.to_bytes(&params).unwrap();
    bytes[8..24].copy_from_slice(additive.id().as_bytes());
    assert_eq!(KeySwitchKey::from_bytes(&additive, &bytes).unwrap_err(), Error::KeySwitchingUnavailable);
}

/// Sizes: residues packed to their prime's width, seeds for uniform parts.
#[test]
fn public_key_size_is_packed_and_seeded() {
    let params = Preset::N4096.parameters(65537).unwrap();
    let pk = public_key(&params, &mut rng(14)).to_bytes();
    let n = params.n() as f64;
    let info_bits: f64 = params.literal().ciphertext_primes.iter().map(|&q| n * f64::from(q).log2()).sum();
    let header = 32 + 32;
    assert!(pk.len() as f64 <= (info_bits / 8.0).ceil() + header as f64 + 8.0, "{} bytes vs {} information-theoretic", pk.len(), info_bits / 8.0);
    let ks = switch_key(&params, KeyTarget::Relinearization, &mut rng(15)).to_bytes(&params).unwrap();
    let all_bits: f64 = params.ring().primes().iter().map(|&q| n * f64::from(q).log2()).sum();
    // One b per digit; a is a seed.
    let digits = params.max_level() as f64;
    assert!(ks.len() as f64 <= digits * (all_bits / 8.0 + 32.0) + 40.0 + 8.0 * digits, "{}", ks.len());
}

#[cfg(feature = "compression")]
mod compressed {
    use super::*;

    /// Compressed objects load; the compressor shrinks plaintexts of small values.
    #[test]
    fn compressed_objects_round_trip() {
        let params = small_parameters();
        let mut r = rng(16);
        let keys = evaluation_keys(&params, &mut r);
        let bundle = keys.to_bytes().unwrap();
        let z = compress(&bundle, 3).unwrap();
        assert!(inspect(&z).unwrap().compressed);
        assert_eq!(EvaluationKeys::from_bytes(&params, &z).unwrap().to_bytes().unwrap(), bundle);
        let pt = Plaintext::zero(&params);
        let z = compress(&pt.to_bytes(), 19).unwrap();
        assert!(z.len() < 100, "{}", z.len());
        assert_eq!(Plaintext::from_bytes(&params, &z).unwrap(), pt);
        let pz = compress(&params.to_bytes(), 3).unwrap();
        assert_eq!(Parameters::from_bytes(&pz).unwrap().id(), params.id());
        assert!(matches!(compress(&z, 3), Err(Error::WireFieldOutOfRange { .. })));
        // Secret keys never travel compressed.
        let sk = compress(&secret_key(&params, &mut r).export_secret_bytes(), 3).unwrap();
        assert!(matches!(SecretKey::import_secret_bytes(&params, &sk), Err(Error::WireFieldOutOfRange { .. })));
    }

    /// A compressed body that inflates to another size than the header implies, or is not
    /// zstd at all, is refused before (or while) inflating, never past the bound.
    #[test]
    fn compressed_bodies_are_bounded() {
        let params = small_parameters();
        let pt = plaintext(&params, &mut rng(17));
        let plain = pt.to_bytes();
        let z = compress(&plain, 3).unwrap();
        // A frame declaring a larger content size: the plaintext with one more byte.
        let mut longer = plain.clone();
        longer.push(0);
        longer[24..32].copy_from_slice(&((plain.len() - 32 + 1) as u64).to_le_bytes());
        let mut lie = compress(&longer, 3).unwrap();
        assert!(matches!(Plaintext::from_bytes(&params, &lie), Err(Error::WireLength { what: "declared decompressed body", .. })));
        // Garbage instead of a frame.
        let n = lie.len();
        lie[32..n].iter_mut().for_each(|b| *b = 0xA5);
        assert!(matches!(Plaintext::from_bytes(&params, &lie), Err(Error::WireCompression { .. } | Error::WireLength { .. } | Error::WireNonCanonical { .. })));
        // Truncations and bit flips of the compressed form.
        for len in 0..z.len() {
            assert!(Plaintext::from_bytes(&params, &z[..len]).is_err());
        }
        let mut r = rng(18);
        for _ in 0..1000 {
            let mut f = z.clone();
            let bit = (r.next_u64() % (8 * z.len() as u64)) as usize;
            f[bit / 8] ^= 1 << (bit % 8);
            if let Err(e) = Plaintext::from_bytes(&params, &f) {
                assert!(is_wire_error(&e) || matches!(e, Error::WireCompression { .. }), "{e:?}");
            }
        }
        // Trailing bytes after the frame.
        let mut trailing = z.clone();
        trailing.push(0);
        let body = (trailing.len() - 32) as u64;
        trailing[24..32].copy_from_slice(&body.to_le_bytes());
        assert!(Plaintext::from_bytes(&params, &trailing).is_err());
    }
}

/// Parameters, literals and object headers as JSON.
#[test]
fn json_for_parameters_and_metadata() {
    let params = small_parameters();
    let json = serde_json::to_string(&*params).unwrap();
    assert!(json.contains("\"security\":\"bits128\""), "{json}");
    let lit: crate::scheme::ParametersLiteral = serde_json::from_str(&json).unwrap();
    assert_eq!(&lit, params.literal());
    let p: Parameters = serde_json::from_str(&json).unwrap();
    assert_eq!(p.id(), params.id());
    // Deserializing validates.
    let bad = json.replace("\"plaintext_modulus\":257", "\"plaintext_modulus\":1");
    assert!(serde_json::from_str::<Parameters>(&bad).is_err());
    let info = inspect(&params.to_bytes()).unwrap();
    let info_json = serde_json::to_string(&info).unwrap();
    assert!(info_json.contains(&params.id().to_string()), "{info_json}");
    assert!(info_json.contains("\"type\":\"parameters\""), "{info_json}");
    assert_eq!(serde_json::from_str::<ObjectInfo>(&info_json).unwrap(), info);
    assert_eq!(serde_json::to_string(&Preset::N2048Additive).unwrap(), "\"n2048-add\"");
}

/// Hostile parameter literals are bounded before any table is built.
#[test]
fn hostile_parameters_are_bounded() {
    let params = small_parameters();
    let mut lit = params.literal().clone();
    lit.special_primes = vec![lit.special_primes[0]; 100];
    assert_eq!(Parameters::new(lit.clone()).unwrap_err(), Error::TooManyPrimes { found: 102, max: MAX_PRIMES });
    lit.special_primes.truncate(3);
    assert!(matches!(Parameters::new(lit.clone()), Err(Error::DuplicatePrime { .. })));
    lit.special_primes = crate::prime::ntt_primes(18, 2048, 3).unwrap();
    assert!(matches!(Parameters::new(lit), Err(Error::InsecureParameters { bits: 91, max: 54, .. })));
}
