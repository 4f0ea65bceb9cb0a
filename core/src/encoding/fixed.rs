//! Fixed-point reals: a value `x` is carried as the integer `round(x · 10^decimals)`.

use crate::Error;

/// A decimal fixed-point scale. Products of encodings carry the sum of the decimals; the
/// scale travels beside the ciphertext as metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FixedPoint {
    decimals: u32,
}

impl FixedPoint {
    /// Largest supported number of decimals.
    pub const MAX_DECIMALS: u32 = 18;

    /// A scale of `10^decimals`.
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] above [`Self::MAX_DECIMALS`].
    pub fn new(decimals: u32) -> Result<Self, Error> {
        if decimals > Self::MAX_DECIMALS {
            return Err(Error::ValueOutOfRange { what: "decimals", value: decimals.to_string(), limit: Self::MAX_DECIMALS.to_string() });
        }
        Ok(Self { decimals })
    }

    /// The number of decimals.
    pub const fn decimals(self) -> u32 {
        self.decimals
    }

    /// `10^decimals`.
    pub fn factor(self) -> i128 {
        10i128.pow(self.decimals)
    }

    /// The scale of a product of values at `self` and `other`.
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] if the decimals add past [`Self::MAX_DECIMALS`]·2.
    pub fn product(self, other: Self) -> Result<Self, Error> {
        let d = self.decimals + other.decimals;
        if d > 2 * Self::MAX_DECIMALS {
            return Err(Error::ValueOutOfRange { what: "decimals", value: d.to_string(), limit: (2 * Self::MAX_DECIMALS).to_string() });
        }
        Ok(Self { decimals: d })
    }

    /// `round(x · 10^decimals)`.
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] for a non-finite `x` or one whose scaled value exceeds
    /// `2^100` in magnitude.
    pub fn encode(self, x: f64) -> Result<i128, Error> {
        let scaled = x * 10f64.powi(self.decimals as i32);
        if !scaled.is_finite() || scaled.abs() >= 2f64.powi(100) {
            return Err(Error::ValueOutOfRange { what: "fixed-point value", value: x.to_string(), limit: format!("2^100 / 10^{}", self.decimals) });
        }
        Ok(scaled.round() as i128)
    }

    /// Parses a decimal string exactly (no binary rounding): `"-12.345"` at 3 decimals is
    /// `-12345`. Extra digits beyond `decimals` are rounded half away from zero.
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] for text that is not a plain decimal number or overflows.
    pub fn parse(self, text: &str) -> Result<i128, Error> {
        let bad = || Error::ValueOutOfRange { what: "decimal number", value: text.to_string(), limit: "digits with an optional sign and point".into() };
        let s = text.trim();
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
        if (int_part.is_empty() && frac_part.is_empty()) || !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let d = self.decimals as usize;
        let mut digits: String = int_part.to_string();
        let kept: String = frac_part.chars().take(d).collect();
        digits.push_str(&kept);
        digits.push_str(&"0".repeat(d - kept.len()));
        let mut value: i128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| bad())? };
        if frac_part.as_bytes().get(d).is_some_and(|&b| b >= b'5') {
            value = value.checked_add(1).ok_or_else(bad)?;
        }
        Ok(if negative { -value } else { value })
    }

    /// `v / 10^decimals` as a float.
    pub fn decode(self, v: i128) -> f64 {
        v as f64 / 10f64.powi(self.decimals as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_text_exactly() {
        let f = FixedPoint::new(3).unwrap();
        assert_eq!(f.parse("12.345").unwrap(), 12345);
        assert_eq!(f.parse("-0.5").unwrap(), -500);
        assert_eq!(f.parse("7").unwrap(), 7000);
        assert_eq!(f.parse("+.25").unwrap(), 250);
        assert_eq!(f.parse("1.2345").unwrap(), 1235);
        assert_eq!(f.parse("1.2344").unwrap(), 1234);
        for bad in ["", "-", "1e5", "NaN", "1.2.3", "abc", " . "] {
            assert!(f.parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(FixedPoint::new(7).unwrap().parse("98.6000001").unwrap(), 986_000_001);
    }

    #[test]
    fn encodes_and_decodes_floats() {
        let f = FixedPoint::new(2).unwrap();
        assert_eq!(f.encode(98.61).unwrap(), 9861);
        assert_eq!(f.decode(9861), 98.61);
        assert!(f.encode(f64::NAN).is_err());
        assert!(f.encode(1e40).is_err());
        assert_eq!(f.product(FixedPoint::new(3).unwrap()).unwrap().decimals(), 5);
        assert!(FixedPoint::new(19).is_err());
    }
}
