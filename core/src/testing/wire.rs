//! Wire-format test support: a small parameter set with key switching and primes of three
//! widths, and a set of real objects of every type (the fuzz corpus seeds), made on any
//! backend from fixed seeds.

use std::sync::Arc;

use crate::Error;
use crate::backend::Backend;
use crate::prime::ntt_primes;
use crate::scheme::{Ciphertext, EvaluationKeys, KeySwitchKey, Parameters, ParametersLiteral, Plaintext, PublicKey, Scheme, SecretKey, SecurityLevel};
use crate::testing::scheme::test_rng;
use crate::wire;

/// `n = 2048` (the smallest secure degree with a special prime): ciphertext primes of 20 and
/// 17 bits, one 17-bit special prime (54 bits, the 128-bit bound), `t = 257`. Every packing
/// width differs from the next, and key-switching keys stay a few tens of kilobytes.
pub fn small_parameters() -> Arc<Parameters> {
    let n = 2048;
    let wide = ntt_primes(20, n, 1).expect("20-bit prime");
    let narrow = ntt_primes(17, n, 2).expect("17-bit primes");
    let literal = ParametersLiteral {
        n,
        ciphertext_primes: vec![wide[0], narrow[0]],
        special_primes: vec![narrow[1]],
        digit_primes: 1,
        plaintext_modulus: 257,
        security: SecurityLevel::Bits128,
    };
    Parameters::new(literal).expect("small parameters")
}

/// The loaders, by the name of their fuzz target and corpus directory.
pub const TARGETS: [&str; 8] = ["inspect", "parameters", "public_key", "key_switch_key", "evaluation_keys", "ciphertext", "plaintext", "secret_key"];

/// Real objects under [`small_parameters`] from fixed seeds: `(target, file name, bytes)`.
/// Ciphertexts: public-key, seeded, a batch of three, length 3 (a product), level 1 (modulus
/// switched), and compressed forms; keys of every kind, for every level and for level 1 only
/// (a level-aware bundle); a plaintext; the secret key.
pub fn sample_objects<B: Backend>(backend: B) -> Vec<(&'static str, String, Vec<u8>)> {
    let params = small_parameters();
    let scheme = Scheme::new(Arc::new(backend), params.clone()).expect("scheme");
    let mut rng = test_rng(2024);
    let sk = scheme.generate_secret_key(&mut rng).expect("sk");
    let galois = [crate::scheme::GaloisElement::row_rotation(params.n(), 1), crate::scheme::GaloisElement::column_swap(params.n())];
    let keys = scheme.generate_evaluation_keys(&sk, &galois, &mut rng).expect("keys");
    let t = params.plaintext().value();
    let pts: Vec<Plaintext> = (0..3u32).map(|i| Plaintext::new(&params, &(0..params.n() as u32).map(|j| (j * 7 + i) % t).collect::<Vec<_>>()).expect("pt")).collect();
    let refs: Vec<&Plaintext> = pts.iter().collect();
    let enc = scheme.encryptor(keys.public_key()).expect("encryptor");
    let ev = scheme.evaluator(&keys).expect("evaluator");
    let one = enc.encrypt(&pts[0], &mut rng).expect("encrypt");
    let batch = enc.encrypt_many(&refs, &mut rng).expect("encrypt");
    let seeded = scheme.encrypt_symmetric(&sk, &refs[..2], &mut rng).expect("encrypt");
    let product = ev.mul(&one, &one).expect("mul");
    let mut low = ev.duplicate(&one).expect("dup");
    ev.mod_switch_assign(&mut low).expect("switch");
    let relin = keys.relin.as_ref().expect("relin").to_bytes(&params).expect("relin bytes");
    let galois_key = keys.galois.values().next().expect("galois").to_bytes(&params).expect("galois bytes");
    let plan = crate::scheme::KeyPlan { relinearization: Some(2), galois: galois.to_vec(), galois_levels: 1 };
    let low_keys = scheme.generate_evaluation_keys_for(&sk, &plan, &mut rng).expect("level-aware keys");
    let low_galois = low_keys.galois.values().next().expect("galois").to_bytes(&params).expect("galois bytes");
    let ct = |c: &crate::scheme::Ciphertext<B>| c.to_bytes(&scheme).expect("ciphertext bytes");
    let mut out = vec![
        ("parameters", "small".to_string(), params.to_bytes()),
        ("parameters", "n4096".to_string(), crate::scheme::Preset::N4096.parameters(65537).expect("preset").to_bytes()),
        ("public_key", "public".to_string(), keys.public_key().to_bytes()),
        ("key_switch_key", "relinearization".to_string(), relin.clone()),
        ("key_switch_key", "galois".to_string(), galois_key),
        ("key_switch_key", "galois-level1".to_string(), low_galois),
        ("evaluation_keys", "bundle".to_string(), keys.to_bytes().expect("bundle")),
        ("evaluation_keys", "bundle-galois-level1".to_string(), low_keys.to_bytes().expect("bundle")),
        ("ciphertext", "public".to_string(), ct(&one)),
        ("ciphertext", "batch3".to_string(), ct(&batch)),
        ("ciphertext", "seeded2".to_string(), ct(&seeded)),
        ("ciphertext", "length3".to_string(), ct(&product)),
        ("ciphertext", "level1".to_string(), ct(&low)),
        ("plaintext", "plain".to_string(), pts[0].to_bytes()),
        ("secret_key", "secret".to_string(), sk.export_secret_bytes().to_vec()),
    ];
    #[cfg(feature = "compression")]
    {
        let compressed = |b: &[u8]| wire::compress(b, 3).expect("compress");
        out.push(("key_switch_key", "relinearization-zstd".to_string(), compressed(&relin)));
        out.push(("ciphertext", "level1-zstd".to_string(), compressed(&ct(&low))));
        out.push(("plaintext", "plain-zstd".to_string(), compressed(&pts[0].to_bytes())));
    }
    let inspect: Vec<_> = out.iter().filter(|(t, _, _)| *t != "key_switch_key" && *t != "evaluation_keys").map(|(t, name, b)| ("inspect", format!("{t}-{name}"), b.clone())).collect();
    out.extend(inspect);
    out
}

/// Runs the loader of `target` (one of [`TARGETS`]) on `bytes` with the scheme's parameters and
/// returns the loaded object encoded again (the input itself for `inspect`). The encoding is
/// canonical: for an uncompressed input that loads, the result equals the input.
///
/// # Errors
/// What the loader returns.
///
/// # Panics
/// For an unknown target name.
pub fn load_and_encode<B: Backend>(target: &str, scheme: &Scheme<B>, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let params = scheme.params();
    match target {
        "inspect" => wire::inspect(bytes).map(|_| bytes.to_vec()),
        "parameters" => Parameters::from_bytes(bytes).map(|p| p.to_bytes()),
        "public_key" => PublicKey::from_bytes(params, bytes).map(|k| k.to_bytes()),
        "key_switch_key" => KeySwitchKey::from_bytes(params, bytes)?.to_bytes(params),
        "evaluation_keys" => EvaluationKeys::from_bytes(params, bytes)?.to_bytes(),
        "ciphertext" => Ciphertext::from_bytes(scheme, bytes)?.to_bytes(scheme),
        "plaintext" => Plaintext::from_bytes(params, bytes).map(|p| p.to_bytes()),
        "secret_key" => SecretKey::import_secret_bytes(params, bytes).map(|k| k.export_secret_bytes().to_vec()),
        other => panic!("no loader named {other}"),
    }
}

/// The fuzz property for one input: the loader returns (no panic), and an uncompressed input
/// that loads is its own canonical encoding.
///
/// # Panics
/// When the property fails.
pub fn check_input<B: Backend>(target: &str, scheme: &Scheme<B>, bytes: &[u8]) {
    if let Ok(encoded) = load_and_encode(target, scheme, bytes) {
        let compressed = bytes.get(7).is_some_and(|f| f & 1 == 1);
        if !compressed {
            assert_eq!(encoded, bytes, "{target}: an accepted input is not its own canonical encoding");
        }
    }
}

/// Whether an error is one a loader may return for corrupt bytes (every typed rejection of the
/// wire format).
pub fn is_wire_error(e: &Error) -> bool {
    matches!(
        e,
        Error::WireMagic { .. }
            | Error::WireVersion { .. }
            | Error::WireObjectType { .. }
            | Error::WireLength { .. }
            | Error::WireParameterId { .. }
            | Error::WireFieldOutOfRange { .. }
            | Error::WireNonCanonical { .. }
            | Error::ResidueOutOfRange { .. }
            | Error::InvalidGaloisElement { .. }
            | Error::NotInvertible { .. }
            | Error::KeySwitchingUnavailable
    )
}
