//! Stacking ciphertexts into one batch and splitting a batch apart, so that operations on many
//! independent ciphertexts (many columns, many statistics) run as one backend call per step.

use super::{Ciphertext, Scheme};
use crate::backend::Backend;
use crate::ring::{BatchShape, HasShape, Ntt, PolyBatch};
use crate::Error;

impl<B: Backend> Scheme<B> {
    /// One batch holding every ciphertext of `parts`, in order. All must share parameters,
    /// level, length and plaintext factor (seeds are kept only when every part is seeded).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for no ciphertexts or differing levels, lengths or factors;
    /// [`Error::ParameterMismatch`]; backend failures.
    pub fn stack(&self, parts: &[&Ciphertext<B>]) -> Result<Ciphertext<B>, Error> {
        let first = parts.first().ok_or(Error::ShapeMismatch { what: "ciphertexts to stack", expected: 1, found: 0 })?;
        for c in parts {
            if c.params.literal() != self.params.literal() {
                return Err(Error::ParameterMismatch);
            }
            if c.level != first.level || c.parts.len() != first.parts.len() {
                return Err(Error::ShapeMismatch { what: "level and length of stacked ciphertexts", expected: first.level, found: c.level });
            }
            if c.factor != first.factor {
                return Err(Error::ShapeMismatch { what: "plaintext factor of stacked ciphertexts", expected: first.factor as usize, found: c.factor as usize });
            }
        }
        let count: usize = parts.iter().map(|c| c.count).sum();
        let mut out = Vec::with_capacity(first.parts.len());
        for j in 0..first.parts.len() {
            let shape = first.parts[j].shape().clone();
            let mut data = self.backend.host_buffer(count * shape.limbs.len() * shape.n);
            for c in parts {
                data.extend_from_slice(self.backend.download(&self.plan, &c.parts[j])?.data());
            }
            let host = PolyBatch::<Ntt>::from_reduced(self.params.ring(), BatchShape::new(count, shape.n, shape.limbs), data)?;
            out.push(self.backend.upload_owned(&self.plan, host)?);
        }
        let seeds = parts.iter().map(|c| c.seeds.clone()).collect::<Option<Vec<_>>>().map(|s| s.concat());
        Ok(Ciphertext { params: self.params.clone(), parts: out, level: first.level, factor: first.factor, count, seeds })
    }

    /// The ciphertexts of a batch, one batch of count 1 each. A batch of one is returned as
    /// it is; a larger one is copied apart and its memory recycled.
    ///
    /// # Errors
    /// [`Error::ParameterMismatch`]; backend failures.
    pub fn unstack(&self, ct: Ciphertext<B>) -> Result<Vec<Ciphertext<B>>, Error> {
        if ct.params.literal() != self.params.literal() {
            return Err(Error::ParameterMismatch);
        }
        if ct.count == 1 {
            return Ok(vec![ct]);
        }
        // Each part read where the backend holds it and copied apart, polynomial by polynomial.
        let mut parts: Vec<Vec<B::Batch<Ntt>>> = (0..ct.count).map(|_| Vec::with_capacity(ct.parts.len())).collect();
        for part in &ct.parts {
            let polys = self.backend.read_host(&self.plan, part, |h| {
                (0..ct.count).map(|i| PolyBatch::<Ntt>::from_reduced(self.params.ring(), BatchShape::new(1, h.shape().n, h.shape().limbs.clone()), h.poly(i).to_vec())).collect::<Result<Vec<_>, _>>()
            })??;
            for (single, poly) in parts.iter_mut().zip(polys) {
                single.push(self.backend.upload_owned(&self.plan, poly)?);
            }
        }
        let singles = parts
            .into_iter()
            .enumerate()
            .map(|(i, parts)| Ciphertext { params: self.params.clone(), parts, level: ct.level, factor: ct.factor, count: 1, seeds: ct.seeds.as_ref().map(|s| vec![s[i]]) })
            .collect();
        ct.recycle(&self.backend);
        Ok(singles)
    }
}
