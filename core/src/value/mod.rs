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
pub mod msgpack;
mod number;
mod ser;
mod tree;

use bytes::Bytes;

pub(crate) use date::civil_from_days;
pub use date::iso_string;
pub use de::from_value;
pub use map::Map;
pub use msgpack::DecodeError as MsgpackError;
pub use msgpack::{DEFAULT_MAX_ELEMENTS, Reader as MsgpackReader};
pub use number::Number;
pub use ser::to_value;
pub use tree::{Value, ValueError};

/// Encodes a value as MessagePack, the way `notepack.io` lays it out.
pub fn to_msgpack(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    msgpack::write_value(&mut out, value);
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object;
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
