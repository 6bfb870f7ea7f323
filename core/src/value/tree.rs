//! `Value`, the tree of one argument: its kinds, what reads it, and the
//! conversions into it.

use super::map::Map;
use super::number::Number;
use bytes::Bytes;

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
        T::deserialize(self)
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
