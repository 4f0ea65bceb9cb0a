//! Keys: the secret key (owner only), the public key, and key-switching keys for
//! relinearization and Galois automorphisms (the evaluation keys a server receives).
//!
//! Key switching splits a polynomial into digits `Dⱼ` of `α` consecutive ciphertext primes
//! (RNS digits; `α` is [`Parameters::digit_primes`]: `α = 1` is Gentry–Halevi–Smart 2012,
//! `α > 1` the hybrid method of Han–Ki 2020) and works modulo `Q·P` with the special primes
//! `P`. The key for a target `s'` has, for each digit `j`,
//! `bⱼ = −aⱼ·s + t·eⱼ + P·Eⱼ·s'`, with `aⱼ` uniform (stored as a 32-byte seed) and `Eⱼ` the CRT
//! unit of the digit (1 modulo its primes, 0 modulo every other prime).
//!
//! **Levels.** A key serves the levels `1..=levels` it was generated for, and lives only on
//! their primes and the special primes: a lower level uses the rows it still has (a digit cut
//! by the level keeps its remaining primes; `Eⱼ` restricted is still the unit). A server that
//! rotates only at a low level (a slot sum after switching down) needs keys of that level
//! only, a fraction of the size. Using a key above its levels is
//! [`Error::KeyLevelNotCovered`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

use super::params::Parameters;
use super::sampling::{centered_binomial, seeded_rng, small_to_residue, ternary, uniform};
use super::{Scheme, zeroize_host};
use crate::backend::Backend;
use crate::ring::{BatchShape, Ntt, PolyBatch};
use crate::Error;

/// The secret key: a ternary polynomial `s`, kept in coefficients and in NTT form over every
/// prime. Zeroized on drop; its `Debug` shows no coefficient. Owner side only.
pub struct SecretKey {
    params: Arc<Parameters>,
    coeffs: Vec<i8>,
    ntt: PolyBatch<Ntt>,
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.coeffs.zeroize();
        self.ntt.data_mut().zeroize();
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey {{ n: {}, .. }}", self.params.n())
    }
}

impl SecretKey {
    /// The parameters.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }
    /// `s` in the NTT domain over every prime (one polynomial).
    pub(crate) fn ntt(&self) -> &PolyBatch<Ntt> {
        &self.ntt
    }
    /// The ternary coefficients, exported only through this explicitly named function
    /// (for the wire format's secret-key export).
    pub fn export_coefficients(&self) -> Vec<i8> {
        self.coeffs.clone()
    }

    /// The key with ternary coefficients `coeffs` (`n` of them, each in `{−1, 0, 1}`), its NTT
    /// form computed on the host with the reference transform (every backend's transform
    /// gives the same residues).
    pub(crate) fn from_ternary(params: &Arc<Parameters>, coeffs: Vec<i8>) -> Result<Self, Error> {
        let n = params.n();
        if coeffs.len() != n {
            return Err(Error::ShapeMismatch { what: "ternary secret coefficients", expected: n, found: coeffs.len() });
        }
        if let Some(&c) = coeffs.iter().find(|c| !(-1..=1).contains(*c)) {
            return Err(Error::ValueOutOfRange { what: "secret coefficient", value: c.to_string(), limit: "{-1, 0, 1}".into() });
        }
        let ring = params.ring();
        let mut data = vec![0u32; ring.len() * n];
        for (l, row) in data.chunks_exact_mut(n).enumerate() {
            let m = ring.modulus(l);
            for (o, &c) in row.iter_mut().zip(&coeffs) {
                *o = small_to_residue(i32::from(c), m);
            }
            ring.table(l).forward(row);
        }
        let ntt = PolyBatch::from_parts_unchecked(BatchShape::new(1, n, (0..ring.len()).collect()), data);
        Ok(Self { params: params.clone(), coeffs, ntt })
    }
}

/// The public key `(b, a) = (−(a·s + t·e), a)` over the ciphertext primes, NTT domain.
#[derive(Clone, Debug)]
pub struct PublicKey {
    pub(crate) params: Arc<Parameters>,
    pub(crate) b: PolyBatch<Ntt>,
    pub(crate) a: PolyBatch<Ntt>,
    pub(crate) a_seed: [u8; 32],
}

impl PublicKey {
    /// The parameters.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }
    /// The seed that expands to `a`.
    pub fn seed(&self) -> [u8; 32] {
        self.a_seed
    }
}

/// What a key-switching key switches to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyTarget {
    /// `s²` (relinearization).
    Relinearization,
    /// `σ_k(s)` for the Galois element `k`.
    Galois(usize),
}

/// A key-switching key serving levels `1..=levels`: one `(bⱼ, aⱼ)` per digit of the top
/// level (`⌈levels/α⌉`), over [`Parameters::key_limbs`]`(levels)`, NTT domain.
#[derive(Clone, Debug)]
pub struct KeySwitchKey {
    pub(crate) target: KeyTarget,
    /// The highest level served.
    pub(crate) levels: usize,
    /// Digit `j` is polynomial `j`.
    pub(crate) b: PolyBatch<Ntt>,
    pub(crate) a: PolyBatch<Ntt>,
    pub(crate) seeds: Vec<[u8; 32]>,
}

impl KeySwitchKey {
    /// What the key switches to.
    pub fn target(&self) -> KeyTarget {
        self.target
    }
    /// The highest level the key serves (it serves every level below too).
    pub fn levels(&self) -> usize {
        self.levels
    }
    /// The number of digits.
    pub fn digits(&self) -> usize {
        self.seeds.len()
    }
    /// The seeds that expand to the digits' `aᵢ`.
    pub fn seeds(&self) -> &[[u8; 32]] {
        &self.seeds
    }
}

/// Galois elements for slot rotations of the batch encoding.
pub struct GaloisElement;

impl GaloisElement {
    /// The element rotating both slot rows left by `steps` (right for negative steps):
    /// `3^steps mod 2n`.
    pub fn row_rotation(n: usize, steps: isize) -> usize {
        let half = (n / 2) as isize;
        let e = steps.rem_euclid(half) as u64;
        let two_n = 2 * n as u64;
        let mut acc = 1u64;
        for _ in 0..e {
            acc = acc * 3 % two_n;
        }
        acc as usize
    }

    /// The element swapping the two slot rows: `2n − 1`.
    pub fn column_swap(n: usize) -> usize {
        2 * n - 1
    }
}

/// What a server needs: the public key, the relinearization key and Galois keys. Holds no
/// secret.
#[derive(Clone, Debug)]
pub struct EvaluationKeys {
    pub(crate) params: Arc<Parameters>,
    pub(crate) public: PublicKey,
    pub(crate) relin: Option<KeySwitchKey>,
    pub(crate) galois: BTreeMap<usize, KeySwitchKey>,
}

impl EvaluationKeys {
    /// The parameters.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }
    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }
    /// Whether a relinearization key is present.
    pub fn has_relinearization(&self) -> bool {
        self.relin.is_some()
    }
    /// The relinearization key, if any.
    pub fn relinearization_key(&self) -> Option<&KeySwitchKey> {
        self.relin.as_ref()
    }
    /// The Galois key for `k`, if any.
    pub fn galois_key(&self, k: usize) -> Option<&KeySwitchKey> {
        self.galois.get(&k)
    }
    /// The Galois elements with keys.
    pub fn galois_elements(&self) -> Vec<usize> {
        self.galois.keys().copied().collect()
    }
}

/// Which key-switching keys to generate, and the levels each serves (the highest level at
/// which the circuit uses it: a key serves every level below too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPlan {
    /// The relinearization key's levels, or `None` for no relinearization key.
    pub relinearization: Option<usize>,
    /// The Galois elements (1 and repeats are skipped).
    pub galois: Vec<usize>,
    /// The levels every Galois key serves.
    pub galois_levels: usize,
}

/// Fresh random 32-byte seed.
fn fresh_seed<R: RngCore + CryptoRng>(rng: &mut R) -> [u8; 32] {
    let mut s = [0u8; 32];
    rng.fill_bytes(&mut s);
    s
}

/// `count` polynomials, polynomial `p` uniform over `limbs` from `seeds[p]` (limb by limb, in
/// order): the expansion every seeded object uses.
pub(crate) fn expand_uniform(params: &Parameters, seeds: &[[u8; 32]], limbs: &[usize]) -> Result<PolyBatch<Ntt>, Error> {
    let n = params.n();
    let ring = params.ring();
    let mut data = Vec::with_capacity(seeds.len() * limbs.len() * n);
    for seed in seeds {
        let mut rng = seeded_rng(*seed);
        for &l in limbs {
            data.extend(uniform(&mut rng, n, ring.modulus(l)));
        }
    }
    PolyBatch::from_residues(ring, BatchShape::new(seeds.len(), n, limbs.to_vec()), data)
}

impl<B: Backend> Scheme<B> {
    /// Samples a ternary secret key.
    ///
    /// # Errors
    /// Backend failures.
    pub fn generate_secret_key<R: RngCore + CryptoRng>(&self, rng: &mut R) -> Result<SecretKey, Error> {
        let n = self.params.n();
        let coeffs = ternary(rng, n);
        let mut wide: Vec<i32> = coeffs.iter().map(|&x| i32::from(x)).collect();
        let all: Vec<usize> = (0..self.params.ring().len()).collect();
        let device = self.small_to_ntt(&wide, 1, &all)?;
        wide.zeroize();
        let ntt = self.backend.download(&self.plan, &device)?;
        self.backend.wipe(device);
        Ok(SecretKey { params: self.params.clone(), coeffs, ntt })
    }

    /// `−(a·s) + t·e` on the device for `count` polynomials `a` (broadcasting `s`) over `limbs`.
    fn rlwe_samples<R: RngCore + CryptoRng>(&self, sk: &SecretKey, a: &PolyBatch<Ntt>, rng: &mut R) -> Result<B::Batch<Ntt>, Error> {
        let shape = a.shape_ref().clone();
        let n = self.params.n();
        let s_host = select_limbs(sk.ntt(), &shape.limbs)?;
        let s = self.upload_ntt(&s_host)?;
        zeroize_host(s_host);
        let mut b = self.upload_ntt(a)?;
        self.backend.mul_pointwise_assign(&self.plan, &mut b, &s)?;
        self.backend.negate_assign(&self.plan, &mut b)?;
        self.backend.wipe(s);
        let mut e: Vec<i32> = centered_binomial(rng, shape.count * n).iter().map(|&x| i32::from(x)).collect();
        let mut te = self.small_to_ntt(&e, shape.count, &shape.limbs)?;
        e.zeroize();
        let t_mod: Vec<u32> = shape.limbs.iter().map(|&l| self.params.ring().modulus(l).reduce(self.params.plaintext().value())).collect();
        self.backend.mul_limb_constants_assign(&self.plan, &mut te, &t_mod)?;
        self.backend.add_assign(&self.plan, &mut b, &te)?;
        self.backend.wipe(te);
        Ok(b)
    }

    /// Generates the public key.
    ///
    /// # Errors
    /// Backend failures.
    pub fn generate_public_key<R: RngCore + CryptoRng>(&self, sk: &SecretKey, rng: &mut R) -> Result<PublicKey, Error> {
        let a_seed = fresh_seed(rng);
        let limbs = self.level_limbs(self.params.max_level());
        let a = expand_uniform(&self.params, &[a_seed], &limbs)?;
        let b = self.rlwe_samples(sk, &a, rng)?;
        let b = self.backend.download(&self.plan, &b)?;
        Ok(PublicKey { params: self.params.clone(), b, a, a_seed })
    }

    /// A key-switching key from `target` (NTT form over every prime) to `s`, serving levels
    /// `1..=levels`.
    fn generate_key_switch_key<R: RngCore + CryptoRng>(&self, sk: &SecretKey, target_ntt: &PolyBatch<Ntt>, target: KeyTarget, levels: usize, rng: &mut R) -> Result<KeySwitchKey, Error> {
        if !self.params.supports_key_switching() {
            return Err(Error::KeySwitchingUnavailable);
        }
        if !(1..=self.params.max_level()).contains(&levels) {
            return Err(Error::KeyLevelNotCovered { level: levels, covered: self.params.max_level() });
        }
        let n = self.params.n();
        let limbs = self.params.key_limbs(levels);
        let digits = self.params.digit_count(levels);
        let seeds: Vec<[u8; 32]> = (0..digits).map(|_| fresh_seed(rng)).collect();
        let a = expand_uniform(&self.params, &seeds, &limbs)?;
        let b = self.rlwe_samples(sk, &a, rng)?;
        // The gadget term P·Eⱼ·s' sits in digit j's own primes only (P ≡ 0 on the special
        // primes); row i of the key is ring index i for i < levels.
        let mut gadget = PolyBatch::<Ntt>::zeros(self.params.ring(), BatchShape::new(digits, n, limbs.clone()))?;
        let width = limbs.len();
        for j in 0..digits {
            for i in self.params.digit_limbs(levels, j) {
                let m = self.params.ring().modulus(i);
                let p_mod = self.params.special_mod_q()[i];
                let src = target_ntt.row(i);
                let row = &mut gadget.data_mut()[(j * width + i) * n..(j * width + i + 1) * n];
                for (o, &x) in row.iter_mut().zip(src) {
                    *o = m.mul(x, p_mod);
                }
            }
        }
        let mut b = b;
        let g = self.upload_ntt(&gadget)?;
        zeroize_host(gadget);
        self.backend.add_assign(&self.plan, &mut b, &g)?;
        self.backend.wipe(g);
        let device_b = b;
        let b = self.backend.download(&self.plan, &device_b)?;
        self.backend.recycle(device_b);
        Ok(KeySwitchKey { target, levels, b, a, seeds })
    }

    /// Generates the relinearization key (switches `s²` to `s`) for every level.
    ///
    /// # Errors
    /// [`Error::KeySwitchingUnavailable`] without special primes; backend failures.
    pub fn generate_relinearization_key<R: RngCore + CryptoRng>(&self, sk: &SecretKey, rng: &mut R) -> Result<KeySwitchKey, Error> {
        self.generate_relinearization_key_at(sk, self.params.max_level(), rng)
    }

    /// Generates the relinearization key serving levels `1..=levels` only.
    ///
    /// # Errors
    /// [`Error::KeySwitchingUnavailable`] without special primes; [`Error::KeyLevelNotCovered`]
    /// for `levels` outside `1..=L`; backend failures.
    pub fn generate_relinearization_key_at<R: RngCore + CryptoRng>(&self, sk: &SecretKey, levels: usize, rng: &mut R) -> Result<KeySwitchKey, Error> {
        let mut s2 = sk.ntt().clone();
        let ring = self.params.ring();
        let n = self.params.n();
        for l in 0..ring.len() {
            let m = ring.modulus(l);
            for x in &mut s2.data_mut()[l * n..(l + 1) * n] {
                *x = m.mul(*x, *x);
            }
        }
        let key = self.generate_key_switch_key(sk, &s2, KeyTarget::Relinearization, levels, rng);
        zeroize_host(s2);
        key
    }

    /// Generates the Galois key for `x → x^k` (switches `σ_k(s)` to `s`) for every level.
    ///
    /// # Errors
    /// [`Error::InvalidGaloisElement`]; [`Error::KeySwitchingUnavailable`]; backend failures.
    pub fn generate_galois_key<R: RngCore + CryptoRng>(&self, sk: &SecretKey, k: usize, rng: &mut R) -> Result<KeySwitchKey, Error> {
        self.generate_galois_key_at(sk, k, self.params.max_level(), rng)
    }

    /// Generates the Galois key for `x → x^k` serving levels `1..=levels` only.
    ///
    /// # Errors
    /// As [`Self::generate_galois_key`]; [`Error::KeyLevelNotCovered`] for `levels` outside
    /// `1..=L`.
    pub fn generate_galois_key_at<R: RngCore + CryptoRng>(&self, sk: &SecretKey, k: usize, levels: usize, rng: &mut R) -> Result<KeySwitchKey, Error> {
        let n = self.params.n();
        crate::backend::checks::galois_element(n, k)?;
        let s = self.upload_ntt(sk.ntt())?;
        let mut out = self.backend.zeros::<Ntt>(&self.plan, sk.ntt().shape_ref().clone())?;
        self.backend.automorphism_into(&self.plan, &s, k, &mut out)?;
        let target = self.backend.download(&self.plan, &out)?;
        self.backend.wipe(s);
        self.backend.wipe(out);
        let key = self.generate_key_switch_key(sk, &target, KeyTarget::Galois(k), levels, rng);
        zeroize_host(target);
        key
    }

    /// The evaluation keys for a server: public key, relinearization key (when the parameters
    /// have special primes) and Galois keys for the given elements, all serving every level.
    ///
    /// # Errors
    /// As the individual generators.
    pub fn generate_evaluation_keys<R: RngCore + CryptoRng>(&self, sk: &SecretKey, galois: &[usize], rng: &mut R) -> Result<EvaluationKeys, Error> {
        let all = self.params.max_level();
        let relinearization = self.params.supports_key_switching().then_some(all);
        self.generate_evaluation_keys_for(sk, &KeyPlan { relinearization, galois: galois.to_vec(), galois_levels: all }, rng)
    }

    /// The evaluation keys a circuit needs, as small as its levels allow ([`KeyPlan`]).
    ///
    /// # Errors
    /// As the individual generators; [`Error::KeySwitchingUnavailable`] for a plan with
    /// key-switching keys under parameters without special primes.
    pub fn generate_evaluation_keys_for<R: RngCore + CryptoRng>(&self, sk: &SecretKey, plan: &KeyPlan, rng: &mut R) -> Result<EvaluationKeys, Error> {
        let public = self.generate_public_key(sk, rng)?;
        let relin = plan.relinearization.map(|levels| self.generate_relinearization_key_at(sk, levels, rng)).transpose()?;
        let mut map = BTreeMap::new();
        for &k in &plan.galois {
            if k != 1 && !map.contains_key(&k) {
                map.insert(k, self.generate_galois_key_at(sk, k, plan.galois_levels, rng)?);
            }
        }
        Ok(EvaluationKeys { params: self.params.clone(), public, relin, galois: map })
    }

    /// The Galois elements [`Evaluator::sum_slots`](super::Evaluator::sum_slots) and rotations by
    /// powers of two need: `3^(2^j)` for `2^j < n/2`, and the column swap.
    pub fn power_of_two_rotation_elements(&self) -> Vec<usize> {
        power_of_two_rotation_elements(self.params.n())
    }
}

/// [`Scheme::power_of_two_rotation_elements`] for ring degree `n`.
pub fn power_of_two_rotation_elements(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..).map(|j| 1isize << j).take_while(|&s| (s as usize) < n / 2).map(|s| GaloisElement::row_rotation(n, s)).collect();
    v.push(GaloisElement::column_swap(n));
    v
}

/// The rows of `limbs` (ring indices) of every polynomial of a batch over all primes.
pub(crate) fn select_limbs(full: &PolyBatch<Ntt>, limbs: &[usize]) -> Result<PolyBatch<Ntt>, Error> {
    let shape = full.shape_ref();
    let mut data = Vec::with_capacity(shape.count * limbs.len() * shape.n);
    for p in 0..shape.count {
        append_limbs(full, p, limbs, &mut data)?;
    }
    Ok(PolyBatch::from_parts_unchecked(BatchShape::new(shape.count, shape.n, limbs.to_vec()), data))
}

/// Appends the rows of `limbs` (prime indices) of polynomial `poly` of `full` to `out`.
///
/// # Errors
/// [`Error::LimbOutOfRange`] for a limb `full` lacks.
pub(crate) fn append_limbs(full: &PolyBatch<Ntt>, poly: usize, limbs: &[usize], out: &mut Vec<u32>) -> Result<(), Error> {
    let shape = full.shape_ref();
    for &l in limbs {
        let pos = shape.limbs.iter().position(|&x| x == l).ok_or(Error::LimbOutOfRange { limb: l, primes: shape.limbs.len() })?;
        out.extend_from_slice(full.row(poly * shape.limbs.len() + pos));
    }
    Ok(())
}
