//! `Value`: one event argument, as both parsers see it (JSON with binary
//! placeholders, and MessagePack).
//!
//! Socket.IO arguments are JSON-like trees in which binary blobs may sit
//! anywhere. `Value` keeps them as first-class `Binary(Bytes)` nodes, so a
//! handler never deals with placeholders, and converts to and from any serde
//! type: `Binary` maps to serde bytes (`bytes::Bytes`, `serde_bytes`).

mod date;
mod de;
pub(crate) mod json;
mod map;
pub(crate) mod msgpack;
mod number;
mod ser;

use bytes::Bytes;

pub(crate) use date::civil_from_days;
pub use date::iso_string;
pub use de::from_value;
pub use map::Map;
pub use msgpack::DecodeError as MsgpackError;
pub use number::Number;
pub use ser::to_value;

/// Encodes a value as MessagePack, the way `notepack.io` lays it out.
pub fn to_msgpack(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    msgpack::write_value(&mut out, value);
    out
}

/// Most values a document decoded without an explicit budget may hold
/// (what [`from_msgpack`] allows).
pub const DEFAULT_MAX_ELEMENTS: usize = 1_000_000;

/// Decodes one MessagePack document spanning all of `bytes` (`None` for
/// notepack's `undefined`), of at most [`DEFAULT_MAX_ELEMENTS`] values.
/// Binary nodes share `bytes` without copying.
pub fn from_msgpack(bytes: &Bytes) -> Result<Option<Value>, MsgpackError> {
    msgpack::decode(bytes, DEFAULT_MAX_ELEMENTS)
}

/// Decodes one MessagePack document of at most `max_elements` values
/// (arrays, maps and scalars each count one). Length fields never reserve
/// more than the input left can hold.
pub fn from_msgpack_limited(
    bytes: &Bytes,
    max_elements: usize,
) -> Result<Option<Value>, MsgpackError> {
    msgpack::decode(bytes, max_elements)
}

/// A Socket.IO argument: JSON plus binary.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    /// `null` (also what `undefined` becomes).
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer or a float.
    Number(Number),
    /// A UTF-8 string.
    String(String),
    /// A binary blob (`Buffer`, `ArrayBuffer`, `Blob` on the client).
    Binary(Bytes),
    /// An array.
    Array(Vec<Value>),
    /// An object.
    Object(Map),
}

/// Why a `Value` could not be converted to or from a Rust type.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub(crate) String);

impl Value {
    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is a number that fits an `i64` exactly.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The integer, if this is a number that fits a `u64` exactly.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// The number as a float, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(n.as_f64()),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The bytes, if this is a binary blob.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The entries, if this is an object.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The entries, mutably, if this is an object.
    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Looks up a key of an object; `None` for a missing key or a non-object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|o| o.get(key))
    }

    /// Whether this is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether a binary blob sits anywhere in this tree.
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Binary(_) => true,
            Value::Array(a) => a.iter().any(Value::has_binary),
            Value::Object(o) => o.values().any(Value::has_binary),
            _ => false,
        }
    }

    /// About how many bytes this value keeps in memory: itself, and what it
    /// owns on the heap (for budgets, so an estimate on the high side).
    pub fn held_bytes(&self) -> usize {
        const VALUE: usize = std::mem::size_of::<Value>();
        // An index map entry: hash, key, value; plus its index slot.
        const ENTRY: usize = 8 + std::mem::size_of::<String>() + VALUE + 8;
        VALUE
            + match self {
                Value::String(s) => s.capacity(),
                Value::Binary(b) => b.len(),
                Value::Array(items) => {
                    (items.capacity() - items.len()) * VALUE
                        + items.iter().map(Value::held_bytes).sum::<usize>()
                }
                Value::Object(map) => {
                    64 + map.capacity() * ENTRY
                        + map
                            .iter()
                            .map(|(k, v)| k.capacity() + v.held_bytes() - VALUE)
                            .sum::<usize>()
                }
                _ => 0,
            }
    }

    /// Gives every binary blob its own buffer. A blob decoded from a
    /// MessagePack frame shares the whole frame; a value kept for long (an
    /// auth payload) should not keep the frame alive.
    pub fn own_binaries(&mut self) {
        match self {
            Value::Binary(b) => *b = Bytes::copy_from_slice(b),
            Value::Array(items) => items.iter_mut().for_each(Value::own_binaries),
            Value::Object(map) => map.values_mut().for_each(Value::own_binaries),
            _ => {}
        }
    }

    /// Converts this value into any deserializable type.
    pub fn deserialize_into<T: serde::de::DeserializeOwned>(self) -> Result<T, ValueError> {
        from_value(self)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Binary(b)
    }
}

impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Self {
        Value::Array(a)
    }
}

impl From<Map> for Value {
    fn from(o: Map) -> Self {
        Value::Object(o)
    }
}

macro_rules! from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Number(Number::from(n))
            }
        }
    )*};
}
from_number!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(Number::from_json(&n)),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::Object(o.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

/// Builds an object `Value` from `key => value` pairs.
///
/// ```
/// use switchyard_core::{object, Value};
/// let v = object! { "message" => "hello", "count" => 3 };
/// assert_eq!(v.get("count").and_then(Value::as_i64), Some(3));
/// ```
#[macro_export]
macro_rules! object {
    ($($key:expr => $value:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut map = $crate::value::Map::new();
        $( map.insert(::std::string::String::from($key), $crate::Value::from($value)); )*
        $crate::Value::Object(map)
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Upload {
        name: String,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        tags: Vec<String>,
        size: Option<u32>,
        kind: Kind,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Kind {
        Image,
        Other(String),
    }

    #[test]
    fn round_trips_a_struct_with_bytes_through_value() {
        let upload = Upload {
            name: "a.png".into(),
            data: vec![1, 2, 3],
            tags: vec!["x".into()],
            size: None,
            kind: Kind::Other("raw".into()),
        };
        let value = to_value(&upload).unwrap();
        assert_eq!(
            value.get("data"),
            Some(&Value::Binary(Bytes::from_static(&[1, 2, 3])))
        );
        assert_eq!(value.get("size"), Some(&Value::Null));
        let back: Upload = from_value(value).unwrap();
        assert_eq!(back, upload);
        let unit = to_value(&Kind::Image).unwrap();
        assert_eq!(unit, Value::from("Image"));
        assert_eq!(from_value::<Kind>(unit).unwrap(), Kind::Image);
    }

    #[test]
    fn has_binary_finds_nested_blobs() {
        let v = object! { "a" => Value::Array(vec![Value::Null, object! { "b" => Bytes::from_static(b"x") }]) };
        assert!(v.has_binary());
        assert!(!object! { "a" => 1 }.has_binary());
    }

    #[test]
    fn held_bytes_grow_with_what_a_value_owns() {
        let small = Value::from(1);
        assert_eq!(small.held_bytes(), std::mem::size_of::<Value>());
        let text = Value::from("x".repeat(1000));
        assert!(text.held_bytes() >= 1000);
        let array = Value::Array(vec![Value::from(0); 1000]);
        assert!(array.held_bytes() >= 1000 * std::mem::size_of::<Value>());
        let object = object! { "token" => "x".repeat(500), "n" => 1 };
        assert!(
            object.held_bytes() > 500 && object.held_bytes() < 2000,
            "{}",
            object.held_bytes()
        );
    }

    #[test]
    fn conversion_errors_are_reported_not_panicked() {
        let err = from_value::<u8>(Value::from(300)).unwrap_err();
        assert!(err.to_string().contains("300"), "{err}");
        assert!(from_value::<String>(Value::from(1)).is_err());
    }
}
