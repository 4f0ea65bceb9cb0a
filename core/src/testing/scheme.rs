//! The scheme suite: every homomorphic operation checked against the same operation on
//! plaintexts, on any backend. Instantiated per backend with
//! [`scheme_tests!`](crate::scheme_tests).

use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::Error;
use crate::backend::Backend;
use crate::encoding::BatchEncoder;
use crate::ring::kernels::automorphism_coeff_row;
use crate::scheme::{Ciphertext, EvaluationKeys, GaloisElement, Parameters, Plaintext, Preset, Scheme, SecretKey};

/// A deterministic RNG for tests.
pub fn test_rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Keys and a scheme for tests.
pub struct Fixture<B: Backend> {
    /// The scheme.
    pub scheme: Scheme<B>,
    /// The secret key.
    pub sk: SecretKey,
    /// Evaluation keys with the power-of-two rotations and the column swap.
    pub keys: EvaluationKeys,
    /// The RNG.
    pub rng: std::cell::RefCell<ChaCha20Rng>,
}

impl<B: Backend> Fixture<B> {
    /// Builds a fixture for `params` on `backend`.
    pub fn new(backend: B, params: Arc<Parameters>, seed: u64) -> Self {
        Self::shared(Arc::new(backend), params, seed)
    }

    /// Builds a fixture for `params` on a shared backend.
    pub fn shared(backend: Arc<B>, params: Arc<Parameters>, seed: u64) -> Self {
        let scheme = Scheme::new(backend, params).expect("scheme");
        let mut rng = test_rng(seed);
        let sk = scheme.generate_secret_key(&mut rng).expect("sk");
        let galois = if scheme.params().supports_key_switching() { scheme.power_of_two_rotation_elements() } else { vec![] };
        let keys = scheme.generate_evaluation_keys(&sk, &galois, &mut rng).expect("keys");
        Self { scheme, sk, keys, rng: std::cell::RefCell::new(rng) }
    }

    /// A random plaintext with centered coefficients of magnitude below `bound`.
    pub fn random_plain(&self, bound: u32) -> Plaintext {
        let n = self.scheme.params().n();
        let coeffs: Vec<i64> = (0..n).map(|_| i64::from(self.next_u32() % (2 * bound - 1)) - i64::from(bound - 1)).collect();
        Plaintext::from_signed(self.scheme.params(), &coeffs).expect("plaintext")
    }

    /// Public-key encryption of one plaintext.
    pub fn encrypt(&self, pt: &Plaintext) -> Ciphertext<B> {
        let enc = self.scheme.encryptor(self.keys.public_key()).expect("encryptor");
        enc.encrypt(pt, &mut *self.rng.borrow_mut()).expect("encrypt")
    }

    /// A random `u32`.
    pub fn next_u32(&self) -> u32 {
        self.rng.borrow_mut().next_u32()
    }

    /// Decrypts the first ciphertext of a batch.
    pub fn decrypt(&self, ct: &Ciphertext<B>) -> Plaintext {
        self.scheme.decryptor(&self.sk).expect("decryptor").decrypt(ct).expect("decrypt")
    }
}

/// Negacyclic product of two plaintexts mod `t` (schoolbook).
pub fn plain_mul(a: &Plaintext, b: &Plaintext) -> Plaintext {
    let t = a.params().plaintext();
    let n = a.coeffs().len();
    let mut c = vec![0u32; n];
    for (i, &x) in a.coeffs().iter().enumerate() {
        if x == 0 {
            continue;
        }
        for (j, &y) in b.coeffs().iter().enumerate() {
            let p = t.mul(x, y);
            let k = i + j;
            if k < n { c[k] = t.add(c[k], p) } else { c[k - n] = t.sub(c[k - n], p) }
        }
    }
    Plaintext::new(a.params(), &c).expect("plaintext")
}

/// Coefficient-wise sum mod `t`.
pub fn plain_add(a: &Plaintext, b: &Plaintext) -> Plaintext {
    let t = a.params().plaintext();
    let c: Vec<u32> = a.coeffs().iter().zip(b.coeffs()).map(|(&x, &y)| t.add(x, y)).collect();
    Plaintext::new(a.params(), &c).expect("plaintext")
}

/// Public- and secret-key encryption decrypt to the plaintext, one and many at a time.
pub fn encrypt_decrypt<B: Backend>(backend: B, preset: Preset, t: u32) {
    let f = Fixture::new(backend, preset.parameters(t).expect("params"), 1);
    let pts: Vec<Plaintext> = (0..3).map(|_| f.random_plain(t / 2)).collect();
    let refs: Vec<&Plaintext> = pts.iter().collect();
    let enc = f.scheme.encryptor(f.keys.public_key()).expect("encryptor");
    let ct = enc.encrypt_many(&refs, &mut *f.rng.borrow_mut()).expect("encrypt");
    assert_eq!(ct.count(), 3);
    let dec = f.scheme.decryptor(&f.sk).expect("decryptor");
    assert_eq!(dec.decrypt_many(&ct).expect("decrypt"), pts, "{}: public-key round trip", preset.name());
    let sym = f.scheme.encrypt_symmetric(&f.sk, &refs, &mut *f.rng.borrow_mut()).expect("encrypt");
    assert!(sym.is_seeded());
    assert_eq!(dec.decrypt_many(&sym).expect("decrypt"), pts, "{}: secret-key round trip", preset.name());
    let budget = dec.noise_budget(&ct).expect("budget");
    assert!(budget.iter().all(|&b| b > 5.0), "{budget:?}");
    // Encryption directly at the level an additive circuit needs, and a sum there.
    let params = f.scheme.params().clone();
    let level = params.level_for_additions(99);
    assert!(level >= 1 && level <= params.max_level());
    let low = enc.encrypt_many_at_level(&refs, level, &mut *f.rng.borrow_mut()).expect("encrypt at level");
    assert_eq!(low.level(), level);
    assert_eq!(dec.decrypt_many(&low).expect("decrypt"), pts, "{}: encryption at level {level}", preset.name());
    let ev = f.scheme.evaluator(&f.keys).expect("evaluator");
    let mut sum = ev.duplicate(&low).expect("dup");
    for _ in 0..99 {
        ev.add_assign(&mut sum, &low).expect("add");
    }
    let hundred: Vec<Plaintext> = pts.iter().map(|p| plain_mul(p, &Plaintext::from_signed(&params, &[100]).expect("100"))).collect();
    assert_eq!(dec.decrypt_many(&sum).expect("decrypt sum"), hundred, "{}: 100-term sum at level {level}", preset.name());
    assert!(enc.encrypt_many_at_level(&refs, 0, &mut *f.rng.borrow_mut()).is_err());
    assert!(enc.encrypt_many_at_level(&refs, params.max_level() + 1, &mut *f.rng.borrow_mut()).is_err());
}

/// Coefficient-wise difference mod `t`.
pub fn plain_sub(a: &Plaintext, b: &Plaintext) -> Plaintext {
    let t = a.params().plaintext();
    let c: Vec<u32> = a.coeffs().iter().zip(b.coeffs()).map(|(&x, &y)| t.sub(x, y)).collect();
    Plaintext::new(a.params(), &c).expect("plaintext")
}

/// `x → x^k` on a plaintext.
pub fn plain_automorphism(a: &Plaintext, k: usize) -> Plaintext {
    let mut out = vec![0; a.coeffs().len()];
    automorphism_coeff_row(a.coeffs(), k, &mut out, a.params().plaintext());
    Plaintext::new(a.params(), &out).expect("plaintext")
}

/// Every evaluator operation against the same operation on plaintexts (n = 4096, t = 65537),
/// one ciphertext and batches of three.
pub fn operations_match_plaintext<B: Backend>(backend: B) {
    let f = Fixture::new(backend, Preset::N4096.parameters(65537).expect("params"), 2);
    let params = f.scheme.params().clone();
    let t = params.plaintext();
    let (a, b, c) = (f.random_plain(32768), f.random_plain(32768), f.random_plain(8));
    let (ca, cb) = (f.encrypt(&a), f.encrypt(&b));
    let ev = f.scheme.evaluator(&f.keys).expect("evaluator");
    assert_eq!(f.decrypt(&ev.add(&ca, &cb).expect("add")), plain_add(&a, &b), "add");
    assert_eq!(f.decrypt(&ev.sub(&ca, &cb).expect("sub")), plain_sub(&a, &b), "sub");
    let mut neg = ev.duplicate(&ca).expect("dup");
    ev.negate_assign(&mut neg).expect("negate");
    assert_eq!(f.decrypt(&neg), plain_sub(&Plaintext::zero(&params), &a), "negate");
    let mut x = ev.duplicate(&ca).expect("dup");
    ev.add_plain_assign(&mut x, &[&b]).expect("add_plain");
    assert_eq!(f.decrypt(&x), plain_add(&a, &b), "add_plain");
    let mut x = ev.duplicate(&ca).expect("dup");
    ev.mul_plain_assign(&mut x, &[&c]).expect("mul_plain");
    assert_eq!(f.decrypt(&x), plain_mul(&a, &c), "mul_plain");
    // A prepared plaintext gives the same ciphertext, at its level and (through the
    // plaintext) at another; a level outside the chain is refused.
    let prepared = ev.prepare_plaintext(&c, ca.level()).expect("prepare");
    let mut y = ev.duplicate(&ca).expect("dup");
    ev.mul_prepared_assign(&mut y, &prepared).expect("mul_prepared");
    assert!(y.to_bytes(&f.scheme).expect("bytes") == x.to_bytes(&f.scheme).expect("bytes"), "mul_prepared equals mul_plain bit for bit");
    let mut low = ev.duplicate(&ca).expect("dup");
    ev.mod_switch_assign(&mut low).expect("mod switch");
    ev.mul_prepared_assign(&mut low, &prepared).expect("mul_prepared at another level");
    assert_eq!(f.decrypt(&low), plain_mul(&a, &c), "mul_prepared at another level");
    assert!(matches!(ev.prepare_plaintext(&c, 0), Err(Error::InvalidInput { .. })));
    assert!(matches!(ev.prepare_plaintext(&c, params.max_level() + 1), Err(Error::InvalidInput { .. })));
    // A prepared addend: bit for bit add_plain at its level and factor; through the plaintext
    // at another level, or at the factor a modulus switch leaves.
    let mut x = ev.duplicate(&ca).expect("dup");
    ev.add_plain_assign(&mut x, &[&b]).expect("add_plain");
    let addend = ev.prepare_addend(&b, ca.level(), ca.factor()).expect("prepare addend");
    let mut y = ev.duplicate(&ca).expect("dup");
    ev.add_prepared_assign(&mut y, &addend).expect("add_prepared");
    assert!(y.to_bytes(&f.scheme).expect("bytes") == x.to_bytes(&f.scheme).expect("bytes"), "add_prepared equals add_plain bit for bit");
    let mut low = ev.duplicate(&ca).expect("dup");
    ev.mod_switch_assign(&mut low).expect("mod switch");
    assert_ne!(low.factor(), 1, "a modulus switch changes the factor (t = 65537)");
    let mut low_plain = ev.duplicate(&low).expect("dup");
    ev.add_plain_assign(&mut low_plain, &[&b]).expect("add_plain");
    let mut low_prep = ev.duplicate(&low).expect("dup");
    ev.add_prepared_assign(&mut low_prep, &addend).expect("add_prepared at another level");
    assert_eq!(f.decrypt(&low_prep), plain_add(&a, &b), "add_prepared at another level");
    let at_low = ev.prepare_addend(&b, low.level(), low.factor()).expect("prepare addend");
    ev.add_prepared_assign(&mut low, &at_low).expect("add_prepared at the switched factor");
    assert!(low.to_bytes(&f.scheme).expect("bytes") == low_plain.to_bytes(&f.scheme).expect("bytes"), "add_prepared at a switched factor equals add_plain");
    assert!(matches!(ev.prepare_addend(&b, 0, 1), Err(Error::InvalidInput { .. })));
    let mut x = ev.duplicate(&ca).expect("dup");
    ev.mul_constant_assign(&mut x, -12345).expect("mul_constant");
    let k = Plaintext::from_signed(&params, &[-12345]).expect("constant");
    assert_eq!(f.decrypt(&x), plain_mul(&a, &k), "mul_constant");
    for shift in [1usize, 4095, 4096, 8191] {
        let mut x = ev.duplicate(&ca).expect("dup");
        ev.mul_monomial_assign(&mut x, shift).expect("monomial");
        let mut mono = vec![0u32; params.n()];
        mono[shift % params.n()] = if shift < params.n() { 1 } else { t.value() - 1 };
        assert_eq!(f.decrypt(&x), plain_mul(&a, &Plaintext::new(&params, &mono).expect("mono")), "x^{shift}");
    }
    let prod = ev.mul_relin(&ca, &cb).expect("mul_relin");
    assert_eq!(prod.len(), 2);
    let expected = plain_mul(&a, &b);
    assert_eq!(f.decrypt(&prod), expected, "mul_relin");
    // A sum of products accumulated unrelinearized, relinearized once: a·b + b·a + a·a,
    // the last operand at a lower level (formed apart and added).
    let mut sum = ev.mul(&ca, &cb).expect("mul");
    ev.mul_add_assign(&mut sum, &cb, &ca).expect("mul_add");
    assert_eq!(sum.len(), 3, "accumulated without relinearizing");
    let mut low = ev.duplicate(&ca).expect("dup");
    ev.mod_switch_assign(&mut low).expect("mod switch");
    ev.mul_add_assign(&mut sum, &low, &ca).expect("mul_add across levels");
    ev.relinearize_assign(&mut sum).expect("relinearize");
    assert_eq!(f.decrypt(&sum), plain_add(&plain_add(&expected, &expected), &plain_mul(&a, &a)), "mul_add");
    let mut switched = prod;
    ev.mod_switch_assign(&mut switched).expect("mod switch");
    assert_eq!(switched.level(), params.max_level() - 1);
    assert_eq!(f.decrypt(&switched), expected, "mod switch keeps the message");
    // Operands at different levels and factors are reconciled.
    assert_eq!(f.decrypt(&ev.add(&switched, &ca).expect("add")), plain_add(&expected, &a), "add across levels");
    for k in [GaloisElement::row_rotation(params.n(), 1), GaloisElement::row_rotation(params.n(), 4), GaloisElement::column_swap(params.n())] {
        assert_eq!(f.decrypt(&ev.apply_galois(&ca, k).expect("galois")), plain_automorphism(&a, k), "galois {k}");
    }
    assert!(matches!(ev.apply_galois(&ca, 5), Err(Error::MissingGaloisKey { k: 5 })));
    // Batches: three ciphertexts in one call, plaintexts broadcast or one per ciphertext.
    let more: Vec<Plaintext> = (0..3).map(|_| f.random_plain(32768)).collect();
    let refs: Vec<&Plaintext> = more.iter().collect();
    let enc = f.scheme.encryptor(f.keys.public_key()).expect("encryptor");
    let batch = enc.encrypt_many(&refs, &mut *f.rng.borrow_mut()).expect("encrypt");
    let mut x = ev.duplicate(&batch).expect("dup");
    ev.add_plain_assign(&mut x, &refs).expect("add_plain");
    ev.mul_plain_assign(&mut x, &[&c]).expect("mul_plain");
    let squares = ev.mul_relin(&x, &batch).expect("mul_relin");
    let rotated = ev.rotate_rows(&squares, 1).expect("rotate");
    let dec = f.scheme.decryptor(&f.sk).expect("decryptor").decrypt_many(&rotated).expect("decrypt");
    for (i, m) in more.iter().enumerate() {
        let expect = plain_automorphism(&plain_mul(&plain_mul(&plain_add(m, m), &c), m), GaloisElement::row_rotation(params.n(), 1));
        assert_eq!(dec[i], expect, "batch element {i}");
    }
}

/// The paper's mode: products of 2-element ciphertexts give 3 and then 4 elements, all
/// decrypted with powers of `s` (n = 8192).
pub fn paper_mode_products<B: Backend>(backend: B) {
    let f = Fixture::new(backend, Preset::N8192.parameters(65537).expect("params"), 3);
    let (a, b, c) = (f.random_plain(100), f.random_plain(100), f.random_plain(100));
    let (ca, cb, cc) = (f.encrypt(&a), f.encrypt(&b), f.encrypt(&c));
    let ev = f.scheme.evaluator(&f.keys).expect("evaluator");
    let ab = ev.mul(&ca, &cb).expect("mul");
    assert_eq!(ab.len(), 3);
    let ab_plain = plain_mul(&a, &b);
    assert_eq!(f.decrypt(&ab), ab_plain, "3-element ciphertext");
    let abc = ev.mul(&ab, &cc).expect("mul");
    assert_eq!(abc.len(), 4);
    assert_eq!(f.decrypt(&abc), plain_mul(&ab_plain, &c), "4-element ciphertext");
    // Sums of different lengths, and a 3 × 3 product of length 5.
    assert_eq!(f.decrypt(&ev.add(&ab, &ca).expect("add")), plain_add(&ab_plain, &a));
    let sq = ev.mul(&ab, &ab).expect("mul");
    assert_eq!(sq.len(), 5);
    assert_eq!(f.decrypt(&sq), plain_mul(&ab_plain, &ab_plain), "5-element ciphertext");
    assert!(matches!(ev.relinearize_assign(&mut ev.duplicate(&abc).expect("dup")), Err(Error::CiphertextLength { .. })));
}

/// Slot-wise squaring chains in the leveled mode, as deep as the noise model says, and slot
/// sums with rotations (n = 8192).
pub fn leveled_depth_and_slot_sums<B: Backend>(backend: B) {
    let params = Preset::N8192.parameters(65537).expect("params");
    let depth = params.supported_depth();
    let f = Fixture::new(backend, params.clone(), 4);
    let enc = BatchEncoder::new(&params).expect("batching");
    let t = params.plaintext();
    let mut values: Vec<u32> = (0..params.n() as u32).map(|i| (i * 7919 + 13) % t.value()).collect();
    let mut ct = f.encrypt(&enc.encode(&values).expect("encode"));
    let ev = f.scheme.evaluator(&f.keys).expect("evaluator");
    let model = params.noise();
    let mut noise = model.fresh_bits();
    for d in 1..=depth {
        // The policy of `Parameters::supports_circuit`: switch down to the noise floor before
        // every product but the last.
        if d < depth {
            for _ in 0..model.switches_before_multiply(noise, ct.level()) {
                noise = model.after_mod_switch(noise, ct.level());
                ev.mod_switch_assign(&mut ct).expect("switch");
            }
        }
        ct = ev.mul_relin(&ct, &ct).expect("square");
        noise = model.after_key_switch(model.after_multiply(noise, noise), ct.level());
        values.iter_mut().for_each(|v| *v = t.mul(*v, *v));
        let budget = f.scheme.decryptor(&f.sk).expect("decryptor").noise_budget(&ct).expect("budget")[0];
        assert!(budget >= model.log_q(ct.level()) - 1.0 - noise, "depth {d}: measured budget {budget:.1} below the model's {:.1}", model.log_q(ct.level()) - 1.0 - noise);
        assert_eq!(enc.decode(&f.decrypt(&ct)), values, "depth {d} of {depth}");
    }
    let fresh: Vec<u32> = (0..params.n() as u32).map(|i| i % 1000).collect();
    let summed = ev.sum_slots(&f.encrypt(&enc.encode(&fresh).expect("encode"))).expect("sum");
    let total = fresh.iter().fold(0u32, |acc, &v| t.add(acc, v));
    assert!(enc.decode(&f.decrypt(&summed)).iter().all(|&v| v == total), "sum of slots");
}

/// Parameters for the key-switching suite at n = 4096, t = 17 (109 bits, the 128-bit
/// bound): four 19-bit ciphertext primes and special primes of 17 and 16 bits, in digits of
/// `digit_primes` primes (1 is the one-prime method; 2 the hybrid one with `P` about a digit;
/// 3 hybrid with a digit wider than `P`, and a last digit cut short).
pub fn key_switching_parameters(digit_primes: usize) -> Arc<Parameters> {
    let n = 4096;
    let literal = crate::scheme::ParametersLiteral {
        n,
        ciphertext_primes: crate::prime::ntt_primes(19, n, 4).expect("19-bit primes"),
        special_primes: [17, 16].iter().map(|&bits| crate::prime::ntt_primes(bits, n, 1).expect("special prime")[0]).collect(),
        digit_primes,
        plaintext_modulus: 17,
        security: crate::scheme::SecurityLevel::Bits128,
    };
    Parameters::new(literal).expect("key-switching parameters")
}

/// Key switching by every method (digits of 1, 2 and 3 primes) at every level, against the
/// plaintext: a rotation at each level and a relinearized product at each level the noise
/// model allows, both wherever the model says the result decrypts (it must then be exact).
/// Keys generated for fewer levels serve those levels and refuse higher ones with
/// [`Error::KeyLevelNotCovered`].
pub fn key_switching_at_every_level<B: Backend>(backend: B) {
    let backend = Arc::new(backend);
    for alpha in [1, 2, 3] {
        let params = key_switching_parameters(alpha);
        let f = Fixture::shared(backend.clone(), params.clone(), 40 + alpha as u64);
        let ev = f.scheme.evaluator(&f.keys).expect("evaluator");
        let model = params.noise();
        let k = GaloisElement::row_rotation(params.n(), 1);
        let (a, b) = (f.random_plain(8), f.random_plain(8));
        let (mut ca, mut cb) = (f.encrypt(&a), f.encrypt(&b));
        let mut noise = model.fresh_bits();
        let mut checked = (0, 0);
        for level in (1..=params.max_level()).rev() {
            if level < params.max_level() {
                ev.mod_switch_assign(&mut ca).expect("switch");
                ev.mod_switch_assign(&mut cb).expect("switch");
                noise = model.after_mod_switch(noise, level + 1);
            }
            assert_eq!(ca.level(), level);
            if model.decryptable(model.after_key_switch(noise, level), level) {
                let rotated = ev.apply_galois(&ca, k).expect("rotation");
                assert_eq!(f.decrypt(&rotated), plain_automorphism(&a, k), "rotation at level {level}, digits of {alpha}");
                checked.0 += 1;
            }
            if model.decryptable(model.after_key_switch(model.after_multiply(noise, noise), level), level) {
                let product = ev.mul_relin(&ca, &cb).expect("product");
                assert_eq!(f.decrypt(&product), plain_mul(&a, &b), "product at level {level}, digits of {alpha}");
                checked.1 += 1;
            }
        }
        assert!(checked.0 >= params.max_level() - 1 && checked.1 >= 2, "digits of {alpha}: the model allowed only {checked:?} (rotations, products)");
        // Keys for levels 1..=2 only: smaller, serve level 2, refuse level 3.
        let plan = crate::scheme::KeyPlan { relinearization: Some(2), galois: vec![k], galois_levels: 2 };
        let small = f.scheme.generate_evaluation_keys_for(&f.sk, &plan, &mut *f.rng.borrow_mut()).expect("level-2 keys");
        let full = f.keys.galois_key(k).expect("full key");
        let part = small.galois_key(k).expect("level-2 key");
        assert!(part.levels() == 2 && part.digits() == params.digit_count(2) && part.digits() <= full.digits());
        let low = f.scheme.evaluator(&small).expect("evaluator");
        let mut x = f.encrypt(&a);
        while x.level() > 3 {
            ev.mod_switch_assign(&mut x).expect("switch");
        }
        assert!(matches!(low.apply_galois(&x, k), Err(Error::KeyLevelNotCovered { level: 3, covered: 2 })), "digits of {alpha}");
        assert!(matches!(low.mul_relin(&x, &x), Err(Error::KeyLevelNotCovered { level: 3, covered: 2 })), "digits of {alpha}");
        ev.mod_switch_assign(&mut x).expect("switch");
        assert_eq!(f.decrypt(&low.apply_galois(&x, k).expect("rotation at level 2")), plain_automorphism(&a, k), "level-2 key, digits of {alpha}");
        let bytes = small.to_bytes().expect("bundle");
        let back = EvaluationKeys::from_bytes(&params, &bytes).expect("bundle loads");
        assert_eq!(back.to_bytes().expect("bundle"), bytes, "level-2 bundle round trip, digits of {alpha}");
        assert!(bytes.len() < f.keys.to_bytes().expect("bundle").len() / 2 + 1, "level-2 keys are smaller");
    }
    assert!(matches!(
        Parameters::new(crate::scheme::ParametersLiteral { digit_primes: 5, ..key_switching_parameters(1).literal().clone() }),
        Err(Error::ValueOutOfRange { what: "primes per key-switching digit", .. })
    ));
}

/// A ciphertext past its noise bound decrypts to an error, never to a value.
pub fn noise_exhaustion_is_an_error<B: Backend>(backend: B) {
    let f = Fixture::new(backend, Preset::N4096.parameters(65537).expect("params"), 5);
    let a = f.random_plain(1000);
    let ca = f.encrypt(&a);
    let ev = f.scheme.evaluator(&f.keys).expect("evaluator");
    let dec = f.scheme.decryptor(&f.sk).expect("decryptor");
    let mut x = ev.duplicate(&ca).expect("dup");
    let mut failed = false;
    for _ in 0..4 {
        x = ev.mul(&x, &x).expect("mul");
        match dec.decrypt(&x) {
            Err(Error::NoiseBudgetExhausted) => {
                failed = true;
                assert!(dec.noise_budget(&x).expect("budget")[0] < 1.0);
                break;
            }
            Err(e) => panic!("unexpected {e}"),
            Ok(_) => assert!(dec.noise_budget(&x).expect("budget")[0] >= 1.0),
        }
    }
    assert!(failed, "repeated squaring never exhausted the budget");
    // A tampered ciphertext (uniform garbage added to c₀) is refused as well.
    let garbage = f.random_plain(32768);
    let mut tampered = ev.duplicate(&ca).expect("dup");
    let noise = f.encrypt(&garbage);
    let mut big = ev.mul(&noise, &noise).expect("mul");
    ev.mul(&big, &big).expect("mul").parts.truncate(1);
    big.parts.truncate(2);
    ev.add_assign(&mut tampered, &big).expect("add");
    ev.add_assign(&mut tampered, &big).expect("add");
    assert!(matches!(dec.decrypt(&tampered), Err(Error::NoiseBudgetExhausted)), "tampered ciphertext decrypted");
}

/// Random operation sequences within the noise model's budget: zero mismatches (n = 8192,
/// batch slots).
pub fn random_sequences_match_plaintext<B: Backend>(backend: B) {
    let params = Preset::N8192.parameters(65537).expect("params");
    let f = Fixture::new(backend, params.clone(), 6);
    let enc = BatchEncoder::new(&params).expect("batching");
    let t = *params.plaintext();
    let n = params.n();
    let model = params.noise();
    let ev_keys = f.keys.clone();
    let ev = f.scheme.evaluator(&ev_keys).expect("evaluator");
    for round in 0..4 {
        let mut slots: Vec<u32> = (0..n).map(|_| f.next_u32() % t.value()).collect();
        let mut ct = f.encrypt(&enc.encode(&slots).expect("encode"));
        let mut noise = model.fresh_bits();
        for step in 0..12 {
            let op = f.next_u32() % 6;
            let other: Vec<u32> = (0..n).map(|_| f.next_u32() % t.value()).collect();
            match op {
                0 => {
                    let c = f.encrypt(&enc.encode(&other).expect("encode"));
                    ev.add_assign(&mut ct, &c).expect("add");
                    slots.iter_mut().zip(&other).for_each(|(s, &o)| *s = t.add(*s, o));
                    noise = model.after_additions(noise, 2);
                }
                1 => {
                    ev.mul_plain_assign(&mut ct, &[&enc.encode(&other).expect("encode")]).expect("mul_plain");
                    slots.iter_mut().zip(&other).for_each(|(s, &o)| *s = t.mul(*s, o));
                    noise += (t.value() as f64 * (n as f64).sqrt()).log2();
                }
                2 if model.decryptable(model.after_key_switch(model.after_multiply(noise, model.fresh_bits()), ct.level()) + 2.0, ct.level()) => {
                    let c = f.encrypt(&enc.encode(&other).expect("encode"));
                    ct = ev.mul_relin(&ct, &c).expect("mul");
                    slots.iter_mut().zip(&other).for_each(|(s, &o)| *s = t.mul(*s, o));
                    noise = model.after_key_switch(model.after_multiply(noise, model.fresh_bits()), ct.level());
                }
                3 => {
                    let steps = (f.next_u32() % 8) as isize - 4;
                    let k = GaloisElement::row_rotation(n, 1 << steps.unsigned_abs().min(3));
                    ct = ev.apply_galois(&ct, k).expect("rotate");
                    let half = n / 2;
                    let r = (1usize << steps.unsigned_abs().min(3)) % half;
                    let rotate = |row: &[u32]| -> Vec<u32> { (0..half).map(|j| row[(j + r) % half]).collect() };
                    let (r0, r1) = (rotate(&slots[..half]), rotate(&slots[half..]));
                    slots = [r0, r1].concat();
                    noise = model.after_key_switch(noise, ct.level());
                }
                4 if ct.level() > 1 => {
                    ev.mod_switch_assign(&mut ct).expect("switch");
                    noise = model.after_mod_switch(noise, ct.level() + 1);
                }
                _ => {
                    let c = (f.next_u32() % 1000) as i64 - 500;
                    ev.mul_constant_assign(&mut ct, c).expect("constant");
                    let cm = t.from_i64(c);
                    slots.iter_mut().for_each(|s| *s = t.mul(*s, cm));
                    noise += 9.0;
                }
            }
            if !model.decryptable(noise, ct.level()) {
                break;
            }
            assert_eq!(enc.decode(&f.decrypt(&ct)), slots, "round {round}, step {step}, op {op}");
        }
    }
}

/// Instantiates the scheme suite for one backend.
#[macro_export]
macro_rules! scheme_tests {
    ($name:ident, $backend:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::scheme::Preset;
            use $crate::testing::scheme as suite;

            #[test]
            fn scheme_encrypt_decrypt_n2048() {
                suite::encrypt_decrypt($backend, Preset::N2048Additive, 65537);
            }
            #[test]
            fn scheme_encrypt_decrypt_n4096() {
                suite::encrypt_decrypt($backend, Preset::N4096, 65537);
            }
            #[test]
            fn scheme_encrypt_decrypt_n4096_wide_plaintext() {
                // 21·t ≥ q: the noise term t·e takes the product mod q, not the small path.
                suite::encrypt_decrypt($backend, Preset::N4096, 67_239_937);
            }
            #[test]
            fn scheme_encrypt_decrypt_n16384() {
                suite::encrypt_decrypt($backend, Preset::N16384, 786433);
            }
            #[test]
            fn scheme_operations_match_plaintext() {
                suite::operations_match_plaintext($backend);
            }
            #[test]
            fn scheme_key_switching_at_every_level() {
                suite::key_switching_at_every_level($backend);
            }
            #[test]
            fn scheme_paper_mode_products() {
                suite::paper_mode_products($backend);
            }
            #[test]
            fn scheme_leveled_depth_and_slot_sums() {
                suite::leveled_depth_and_slot_sums($backend);
            }
            #[test]
            fn scheme_noise_exhaustion_is_an_error() {
                suite::noise_exhaustion_is_an_error($backend);
            }
            #[test]
            fn scheme_random_sequences_match_plaintext() {
                suite::random_sequences_match_plaintext($backend);
            }
        }
    };
}
