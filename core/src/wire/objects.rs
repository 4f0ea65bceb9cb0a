//! Ciphertexts and plaintexts on the wire, and the row helpers every residue-carrying object
//! uses.

use super::header::{Descriptor, Expect, open, write_header};
use super::pack::{Reader, pack_row, row_bytes, width};
use super::{COMMON_HEADER_LEN, MAX_BATCH_COUNT, MAX_CIPHERTEXT_LEN, ObjectKind};
use crate::Error;
use crate::backend::Backend;
use crate::ring::{BatchShape, Ntt, PolyBatch};
use crate::scheme::{Ciphertext, Parameters, Plaintext, Scheme, expand_uniform};

/// Bytes of one polynomial over `limbs` (ring indices), packed row by row.
pub(super) fn poly_len(params: &Parameters, limbs: &[usize]) -> u64 {
    let n = params.n();
    limbs.iter().map(|&l| row_bytes(n, width(params.ring().modulus(l).value())) as u64).sum()
}

/// Appends one polynomial (`limbs.len()` rows of `n` residues) packed row by row.
pub(super) fn write_poly(params: &Parameters, rows: &[u32], limbs: &[usize], out: &mut Vec<u8>) {
    let n = params.n();
    for (row, &l) in rows.chunks_exact(n).zip(limbs) {
        pack_row(row, width(params.ring().modulus(l).value()), out);
    }
}

/// Reads one polynomial over `limbs` into `rows`, checking every residue against its prime.
pub(super) fn read_poly(params: &Parameters, reader: &mut Reader<'_>, limbs: &[usize], rows: &mut [u32]) -> Result<(), Error> {
    let n = params.n();
    for (row, &l) in rows.chunks_exact_mut(n).zip(limbs) {
        let q = params.ring().modulus(l).value();
        reader.row(width(q), q, row)?;
    }
    Ok(())
}

/// `value` within `min..=max`, or the typed error naming `field`.
pub(super) fn in_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), Error> {
    if (min..=max).contains(&value) { Ok(()) } else { Err(Error::WireFieldOutOfRange { field, value, min, max }) }
}

impl<B: Backend> Ciphertext<B> {
    /// The wire encoding of the batch (downloads it from the backend). Ciphertext by
    /// ciphertext: its seed when seeded, then each stored part (`c₁` is omitted when seeded),
    /// each over the level's primes, packed.
    ///
    /// # Errors
    /// [`Error::ParameterMismatch`] for a scheme of other parameters;
    /// [`Error::WireFieldOutOfRange`] for a batch longer than [`MAX_CIPHERTEXT_LEN`] parts or
    /// of more than [`MAX_BATCH_COUNT`] ciphertexts (which no loader would accept); backend
    /// failures.
    pub fn to_bytes(&self, scheme: &Scheme<B>) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.write_to(scheme, &mut out)?;
        Ok(out)
    }

    /// Appends what [`Self::to_bytes`] returns to `out`, reading the parts where the backend
    /// holds them ([`Backend::read_host`]: no copy on the CPU). On an error `out` may hold
    /// part of the object.
    ///
    /// # Errors
    /// As [`Self::to_bytes`].
    pub fn write_to(&self, scheme: &Scheme<B>, out: &mut Vec<u8>) -> Result<(), Error> {
        let params = scheme.params();
        if self.params.literal() != params.literal() {
            return Err(Error::ParameterMismatch);
        }
        in_range("ciphertext length", self.parts.len() as u64, 2, MAX_CIPHERTEXT_LEN as u64)?;
        in_range("count", self.count as u64, 1, MAX_BATCH_COUNT as u64)?;
        let seeds = self.wire_seeds();
        let seeded = seeds.is_some();
        let stored: Vec<&B::Batch<Ntt>> = self.parts.iter().enumerate().filter(|&(j, _)| !(seeded && j == 1)).map(|(_, p)| p).collect();
        let limbs = scheme.level_limbs(self.level);
        let body_len = self.body_len(scheme, seeded);
        let descriptor = Descriptor::Ciphertext { level: self.level as u16, len: self.parts.len() as u16, count: self.count as u32, factor: self.factor, seeded };
        out.reserve(COMMON_HEADER_LEN + Descriptor::len_of(ObjectKind::Ciphertext) + body_len);
        write_header(out, &descriptor, params.id(), body_len);
        if self.count == 1 {
            // A single ciphertext (the common case): its seed, then each part in turn, lent.
            if let Some(seeds) = seeds {
                out.extend_from_slice(&seeds[0]);
            }
            for part in stored {
                scheme.backend().read_host(scheme.plan(), part, |host| write_poly(params, host.poly(0), &limbs, out))?;
            }
            return Ok(());
        }
        // A batch interleaves the parts ciphertext by ciphertext: download them all first.
        let hosts = stored.iter().map(|p| scheme.backend().download(scheme.plan(), p)).collect::<Result<Vec<PolyBatch<Ntt>>, Error>>()?;
        for p in 0..self.count {
            if let Some(seeds) = seeds {
                out.extend_from_slice(&seeds[p]);
            }
            for host in &hosts {
                write_poly(params, host.poly(p), &limbs, out);
            }
        }
        Ok(())
    }

    /// The length of [`Self::to_bytes`]'s output (for sizing a buffer of many), without
    /// serializing. Precondition: `scheme` holds the ciphertext's parameters.
    pub fn wire_len(&self, scheme: &Scheme<B>) -> usize {
        COMMON_HEADER_LEN + Descriptor::len_of(ObjectKind::Ciphertext) + self.body_len(scheme, self.wire_seeds().is_some())
    }

    /// The seeds the wire form carries instead of `c₁`: a fresh two-part ciphertext's, one per
    /// ciphertext of the batch; none otherwise.
    fn wire_seeds(&self) -> Option<&Vec<[u8; 32]>> {
        self.seeds.as_ref().filter(|s| self.parts.len() == 2 && s.len() == self.count)
    }

    /// Body bytes: per ciphertext its seed when `seeded`, then each stored part.
    fn body_len(&self, scheme: &Scheme<B>, seeded: bool) -> usize {
        let stored = self.parts.len() - usize::from(seeded);
        (usize::from(seeded) * 32 + stored * poly_len(scheme.params(), &scheme.level_limbs(self.level)) as usize) * self.count
    }

    /// Loads a batch written by [`Self::to_bytes`] (plain or [compressed](super::compress))
    /// and uploads it to the scheme's backend. A seeded ciphertext's `c₁` is expanded from its
    /// seed over the level's primes, as [`Scheme::encrypt_symmetric`] does.
    ///
    /// # Errors
    /// The header errors ([`Error::WireMagic`], [`Error::WireVersion`],
    /// [`Error::WireObjectType`], [`Error::WireLength`]); [`Error::WireParameterId`] for
    /// another parameter set; [`Error::WireFieldOutOfRange`] for a level outside `1..=L`, a
    /// length outside `2..=16` (2 when seeded), a count outside `1..=2^20` or a factor outside
    /// `1..t`; [`Error::NotInvertible`] for a factor sharing a divisor with `t`;
    /// [`Error::ResidueOutOfRange`]; backend failures.
    pub fn from_bytes(scheme: &Scheme<B>, bytes: &[u8]) -> Result<Self, Error> {
        let params = scheme.params();
        let expect = Expect { kinds: &[ObjectKind::Ciphertext], what: "ciphertext", id: Some(params.id()), allow_compressed: true };
        let t = params.plaintext();
        let opened = open(bytes, &expect, |d| {
            let Descriptor::Ciphertext { level, len, count, factor, seeded } = *d else {
                return Err(Error::WireObjectType { expected: "ciphertext", found: d.kind().code() });
            };
            in_range("level", level.into(), 1, params.max_level() as u64)?;
            if seeded {
                in_range("length of a seeded ciphertext", len.into(), 2, 2)?;
            }
            in_range("ciphertext length", len.into(), 2, MAX_CIPHERTEXT_LEN as u64)?;
            in_range("count", count.into(), 1, MAX_BATCH_COUNT as u64)?;
            in_range("factor", factor.into(), 1, u64::from(t.value()) - 1)?;
            t.inv(factor)?;
            let stored = u64::from(len) - u64::from(seeded);
            let per_ct = u64::from(seeded) * 32 + stored * poly_len(params, &scheme.level_limbs(level.into()));
            Ok(per_ct * u64::from(count))
        })?;
        let Descriptor::Ciphertext { level, len, count, factor, seeded } = opened.info.descriptor else {
            return Err(Error::WireObjectType { expected: "ciphertext", found: opened.info.kind().code() });
        };
        let (level, len, count) = (usize::from(level), usize::from(len), count as usize);
        let n = params.n();
        let limbs = scheme.level_limbs(level);
        let width_ct = level * n;
        let stored: Vec<usize> = (0..len).filter(|&j| !(seeded && j == 1)).collect();
        let mut data: Vec<Vec<u32>> = stored.iter().map(|_| vec![0u32; count * width_ct]).collect();
        let mut seeds = Vec::with_capacity(if seeded { count } else { 0 });
        let mut reader = Reader::new(&opened.body);
        for p in 0..count {
            if seeded {
                seeds.push(reader.seed()?);
            }
            for rows in &mut data {
                read_poly(params, &mut reader, &limbs, &mut rows[p * width_ct..(p + 1) * width_ct])?;
            }
        }
        let shape = BatchShape::new(count, n, limbs.clone());
        let mut uploaded = data
            .into_iter()
            .map(|d| scheme.backend().upload_owned(scheme.plan(), PolyBatch::<Ntt>::from_parts_unchecked(shape.clone(), d)))
            .collect::<Result<Vec<_>, Error>>()?;
        if seeded {
            let c1 = expand_uniform(params, &seeds, &limbs)?;
            uploaded.insert(1, scheme.backend().upload_owned(scheme.plan(), c1)?);
        }
        Ok(Ciphertext { params: params.clone(), parts: uploaded, level, factor, count, seeds: seeded.then_some(seeds) })
    }
}

impl Plaintext {
    /// The wire encoding: `n` coefficients packed to `⌈log₂ t⌉` bits. A decrypted plaintext
    /// is secret: handle the bytes accordingly.
    pub fn to_bytes(&self) -> Vec<u8> {
        let w = width(self.params.plaintext().value());
        let body_len = row_bytes(self.coeffs.len(), w);
        let mut out = Vec::with_capacity(32 + body_len);
        write_header(&mut out, &Descriptor::Plaintext, self.params.id(), body_len);
        pack_row(&self.coeffs, w, &mut out);
        out
    }

    /// Loads a plaintext for `params`.
    ///
    /// # Errors
    /// The header errors; [`Error::WireParameterId`]; [`Error::ResidueOutOfRange`] for a
    /// coefficient `≥ t`; [`Error::WireNonCanonical`] for nonzero padding bits.
    pub fn from_bytes(params: &std::sync::Arc<Parameters>, bytes: &[u8]) -> Result<Self, Error> {
        let t = params.plaintext().value();
        let expect = Expect { kinds: &[ObjectKind::Plaintext], what: "plaintext", id: Some(params.id()), allow_compressed: true };
        let opened = open(bytes, &expect, |_| Ok(row_bytes(params.n(), width(t)) as u64))?;
        let mut coeffs = vec![0u32; params.n()];
        Reader::new(&opened.body).row(width(t), t, &mut coeffs)?;
        Ok(Plaintext { params: params.clone(), coeffs })
    }
}
