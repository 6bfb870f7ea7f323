//! `Number`: an integer kept exact, or a float.

use std::fmt;

/// A JSON/MessagePack number. Integers stay exact up to 64 bits.
#[derive(Clone, Copy, Debug)]
pub struct Number(pub(crate) N);

#[derive(Clone, Copy, Debug)]
pub(crate) enum N {
    PosInt(u64),
    NegInt(i64),
    Float(f64),
}

/// Largest integer a JavaScript number holds exactly (2^53).
const MAX_SAFE: f64 = 9_007_199_254_740_992.0;

impl Number {
    /// The value as `i64`, if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            N::PosInt(u) => i64::try_from(u).ok(),
            N::NegInt(i) => Some(i),
            N::Float(f) => float_as_int(f).and_then(|i| i64::try_from(i).ok()),
        }
    }

    /// The value as `u64`, if it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            N::PosInt(u) => Some(u),
            N::NegInt(_) => None,
            N::Float(f) => float_as_int(f).and_then(|i| u64::try_from(i).ok()),
        }
    }

    /// The value as `f64` (large integers lose precision).
    pub fn as_f64(&self) -> f64 {
        match self.0 {
            N::PosInt(u) => u as f64,
            N::NegInt(i) => i as f64,
            N::Float(f) => f,
        }
    }

    /// Whether this number is stored as a float.
    pub fn is_f64(&self) -> bool {
        matches!(self.0, N::Float(_))
    }

    pub(crate) fn from_json(n: &serde_json::Number) -> Self {
        if let Some(u) = n.as_u64() {
            Number(N::PosInt(u))
        } else if let Some(i) = n.as_i64() {
            Number(N::NegInt(i))
        } else {
            Number(N::Float(n.as_f64().unwrap_or(f64::NAN)))
        }
    }

    /// The integer a float holds exactly, as JavaScript would print it
    /// without a fraction (`1.0` is `1`).
    pub(crate) fn integral(&self) -> Option<i128> {
        match self.0 {
            N::PosInt(u) => Some(u as i128),
            N::NegInt(i) => Some(i as i128),
            N::Float(f) => float_as_int(f),
        }
    }
}

fn float_as_int(f: f64) -> Option<i128> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() <= MAX_SAFE).then_some(f as i128)
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (self.integral(), other.integral()) {
            (Some(a), Some(b)) => a == b,
            _ => self.as_f64() == other.as_f64(),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            N::PosInt(u) => write!(f, "{u}"),
            N::NegInt(i) => write!(f, "{i}"),
            N::Float(x) => write!(f, "{x}"),
        }
    }
}

macro_rules! from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(n: $t) -> Self {
                Number(N::PosInt(n as u64))
            }
        }
    )*};
}
macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(n: $t) -> Self {
                if n >= 0 { Number(N::PosInt(n as u64)) } else { Number(N::NegInt(n as i64)) }
            }
        }
    )*};
}
from_unsigned!(u8, u16, u32, u64, usize);
from_signed!(i8, i16, i32, i64, isize);

impl From<f64> for Number {
    fn from(f: f64) -> Self {
        Number(N::Float(f))
    }
}

impl From<f32> for Number {
    fn from(f: f32) -> Self {
        Number(N::Float(f64::from(f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_floats_equal_integers() {
        assert_eq!(Number::from(1.0), Number::from(1u8));
        assert_eq!(Number::from(-3.0).as_i64(), Some(-3));
        assert_eq!(Number::from(1.5).as_i64(), None);
        assert_eq!(Number::from(f64::NAN).as_i64(), None);
        assert_eq!(Number::from(-1i32).as_u64(), None);
        assert_eq!(Number::from(u64::MAX).as_i64(), None);
    }
}
