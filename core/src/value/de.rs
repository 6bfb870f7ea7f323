//! A `Value` into any `Deserialize` type, and `Value` from any serde format.

use super::number::N;
use super::{Map, Number, Value, ValueError};
use bytes::Bytes;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use std::cell::Cell;
use std::fmt;

/// Converts a [`Value`] into any deserializable type.
pub fn from_value<T: de::DeserializeOwned>(value: Value) -> Result<T, ValueError> {
    T::deserialize(value)
}

impl de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

impl<'de> de::Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        ValueSeed {
            attachments: None,
            budget: None,
        }
        .deserialize(d)
    }
}

/// Builds a `Value` from any serde format. With `attachments`, objects of the
/// form `{"_placeholder":true,"num":N}` are replaced by the N-th attachment,
/// as Socket.IO's binary packets require. With a `budget`, each value built
/// takes one from it, and decoding fails once it is spent.
#[derive(Clone, Copy)]
pub(crate) struct ValueSeed<'a> {
    pub attachments: Option<&'a [Bytes]>,
    pub budget: Option<&'a Cell<usize>>,
}

/// The message of the error a spent budget raises.
pub(crate) const TOO_MANY_ELEMENTS: &str = "too many elements";

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if let Some(budget) = self.budget {
            match budget.get().checked_sub(1) {
                Some(left) => budget.set(left),
                None => return Err(de::Error::custom(TOO_MANY_ELEMENTS)),
            }
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Binary(Bytes::copy_from_slice(v)))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Binary(Bytes::from(v)))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::with_capacity(access.size_hint().unwrap_or(0).min(1024));
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(self)?;
            map.insert(key, value);
        }
        match self.attachments {
            Some(attachments) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
                let index = map
                    .get("num")
                    .and_then(Value::as_u64)
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n < attachments.len())
                    .ok_or_else(|| de::Error::custom("illegal attachments"))?;
                Ok(Value::Binary(attachments[index].clone()))
            }
            _ => Ok(Value::Object(map)),
        }
    }
}

fn visit_number<'de, V: Visitor<'de>>(n: Number, visitor: V) -> Result<V::Value, ValueError> {
    match n.0 {
        N::PosInt(u) => visitor.visit_u64(u),
        N::NegInt(i) => visitor.visit_i64(i),
        N::Float(f) => visitor.visit_f64(f),
    }
}

/// Integral floats (`1.0` from a JSON text) still deserialize into integers.
fn visit_integer<'de, V: Visitor<'de>>(value: Value, visitor: V) -> Result<V::Value, ValueError> {
    match value {
        Value::Number(n) => match n.integral() {
            Some(i) if i >= 0 => visitor.visit_u64(i as u64),
            Some(i) => visitor.visit_i64(i as i64),
            None => visit_number(n, visitor),
        },
        other => de::Deserializer::deserialize_any(other, visitor),
    }
}

macro_rules! integer_hints {
    ($($name:ident),*) => {$(
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            visit_integer(self, visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => visit_number(n, visitor),
            Value::String(s) => visitor.visit_string(s),
            Value::Binary(b) => visitor.visit_byte_buf(Vec::from(b)),
            Value::Array(a) => visit_array(a, visitor),
            Value::Object(o) => visit_object(o, visitor),
        }
    }

    integer_hints!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128
    );

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            // `Vec<u8>` without `serde_bytes` asks for a sequence of numbers.
            Value::Binary(b) => visitor.visit_seq(de::value::SeqDeserializer::new(b.into_iter())),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::String(variant) => visitor.visit_enum(variant.into_deserializer()),
            Value::Object(o) if o.len() == 1 => {
                let Some((variant, content)) = o.into_iter().next() else {
                    return Err(ValueError("an enum needs exactly one key".into()));
                };
                visitor.visit_enum(EnumAccess { variant, content })
            }
            other => Err(ValueError(format!("expected an enum, found {other:?}"))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool f32 f64 char str string unit unit_struct tuple
        tuple_struct map struct identifier ignored_any
    }
}

fn visit_array<'de, V: Visitor<'de>>(a: Vec<Value>, visitor: V) -> Result<V::Value, ValueError> {
    let len = a.len();
    let mut seq = de::value::SeqDeserializer::new(a.into_iter());
    let out = visitor.visit_seq(&mut seq)?;
    seq.end()
        .map_err(|_| ValueError(format!("too many elements: {len}")))?;
    Ok(out)
}

fn visit_object<'de, V: Visitor<'de>>(o: Map, visitor: V) -> Result<V::Value, ValueError> {
    let mut map = de::value::MapDeserializer::new(o.into_iter());
    let out = visitor.visit_map(&mut map)?;
    map.end()?;
    Ok(out)
}

impl IntoDeserializer<'_, ValueError> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}

struct EnumAccess {
    variant: String,
    content: Value,
}

impl<'de> de::EnumAccess<'de> for EnumAccess {
    type Error = ValueError;
    type Variant = Value;
    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Value), ValueError> {
        let variant = seed.deserialize(self.variant.into_deserializer())?;
        Ok((variant, self.content))
    }
}

impl<'de> de::VariantAccess<'de> for Value {
    type Error = ValueError;
    fn unit_variant(self) -> Result<(), ValueError> {
        match self {
            Value::Null => Ok(()),
            other => Err(ValueError(format!(
                "expected a unit variant, found {other:?}"
            ))),
        }
    }
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, ValueError> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, ValueError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}
