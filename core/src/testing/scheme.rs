//! The scheme suite: every homomorphic operation checked against the same operation on
//! plaintexts, on any backend. Instantiated per backend with
//! [`scheme_tests!`](crate::scheme_tests).

use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::backend::Backend;
use crate::scheme::{Ciphertext, EvaluationKeys, Parameters, Plaintext, Preset, Scheme, SecretKey};

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
    pub rng: ChaCha20Rng,
}

impl<B: Backend> Fixture<B> {
    /// Builds a fixture for `params` on `backend`.
    pub fn new(backend: B, params: Arc<Parameters>, seed: u64) -> Self {
        let scheme = Scheme::new(Arc::new(backend), params).expect("scheme");
        let mut rng = test_rng(seed);
        let sk = scheme.generate_secret_key(&mut rng).expect("sk");
        let galois = if scheme.params().supports_key_switching() { scheme.power_of_two_rotation_elements() } else { vec![] };
        let keys = scheme.generate_evaluation_keys(&sk, &galois, &mut rng).expect("keys");
        Self { scheme, sk, keys, rng }
    }

    /// A random plaintext with centered coefficients of magnitude below `bound`.
    pub fn random_plain(&mut self, bound: u32) -> Plaintext {
        let n = self.scheme.params().n();
        let coeffs: Vec<i64> = (0..n).map(|_| i64::from(self.rng.next_u32() % (2 * bound - 1)) - i64::from(bound - 1)).collect();
        Plaintext::from_signed(self.scheme.params(), &coeffs).expect("plaintext")
    }

    /// Public-key encryption of one plaintext.
    pub fn encrypt(&mut self, pt: &Plaintext) -> Ciphertext<B> {
        let enc = self.scheme.encryptor(self.keys.public_key()).expect("encryptor");
        enc.encrypt(pt, &mut self.rng).expect("encrypt")
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
    let mut f = Fixture::new(backend, preset.parameters(t).expect("params"), 1);
    let pts: Vec<Plaintext> = (0..3).map(|_| f.random_plain(t / 2)).collect();
    let refs: Vec<&Plaintext> = pts.iter().collect();
    let enc = f.scheme.encryptor(f.keys.public_key()).expect("encryptor");
    let ct = enc.encrypt_many(&refs, &mut f.rng).expect("encrypt");
    assert_eq!(ct.count(), 3);
    let dec = f.scheme.decryptor(&f.sk).expect("decryptor");
    assert_eq!(dec.decrypt_many(&ct).expect("decrypt"), pts, "{}: public-key round trip", preset.name());
    let sym = f.scheme.encrypt_symmetric(&f.sk, &refs, &mut f.rng).expect("encrypt");
    assert!(sym.is_seeded());
    assert_eq!(dec.decrypt_many(&sym).expect("decrypt"), pts, "{}: secret-key round trip", preset.name());
    let budget = dec.noise_budget(&ct).expect("budget");
    assert!(budget.iter().all(|&b| b > 5.0), "{budget:?}");
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
        }
    };
}
