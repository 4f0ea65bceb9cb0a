//! Encodings of application values into plaintexts:
//!
//! - [`IntegerEncoder`]: the paper's encoding of an integer of any size (128-bit and beyond,
//!   signed) as its base-`2^k` digits in the coefficients, decoded by evaluating at `2^k` with
//!   big integers;
//! - [`BatchEncoder`]: `n` values modulo `t` in slots when `t ≡ 1 (mod 2n)` is prime (SIMD);
//!   additions and multiplications act slot by slot, rotations move slots;
//! - [`FixedPoint`]: real readings as integers at `10^decimals`, the scale carried beside;
//! - [`CrtPlaintextSpace`]: exact results larger than one `t` allows, by CRT over several
//!   plaintext moduli recombined at decoding.
//!
//! Decoders detect a wrap modulo `t` wherever the caller can state a bound on the true result
//! (`*_checked` functions): a value outside the bound means it wrapped.

mod batch;
mod crt;
mod fixed;
mod integer;

pub use batch::BatchEncoder;
pub use crt::CrtPlaintextSpace;
pub use fixed::FixedPoint;
pub use integer::IntegerEncoder;
