//! `Value` as JSON text with Socket.IO binary placeholders.
//!
//! Encoding replaces each `Binary` node by `{"_placeholder":true,"num":N}` and
//! collects the blobs in order; decoding puts the attachments back.

use super::de::{TOO_MANY_ELEMENTS, ValueSeed};
use super::number::N;
use super::{Number, Value};
use bytes::Bytes;
use serde::de::DeserializeSeed;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::cell::{Cell, RefCell};

/// Why a JSON document was not decoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JsonError {
    /// The text is not JSON (or a placeholder is illegal).
    #[error("{0}")]
    Syntax(#[from] serde_json::Error),
    /// The document holds more values than the budget allows.
    #[error("more than {0} values")]
    TooManyElements(usize),
}

/// Parses one JSON document into at most `max_elements` values. With
/// `attachments`, placeholders are resolved and a placeholder pointing
/// outside the list is an error.
pub(crate) fn decode(
    text: &str,
    attachments: Option<&[Bytes]>,
    max_elements: usize,
) -> Result<Value, JsonError> {
    let budget = Cell::new(max_elements);
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = ValueSeed {
        attachments,
        budget: Some(&budget),
    };
    let spent = |e: serde_json::Error| {
        if budget.get() == 0 && e.to_string().starts_with(TOO_MANY_ELEMENTS) {
            JsonError::TooManyElements(max_elements)
        } else {
            JsonError::Syntax(e)
        }
    };
    let value = seed.deserialize(&mut de).map_err(spent)?;
    de.end()?;
    Ok(value)
}

/// Appends `[head, items...]` as JSON to `out` (`head` is the event name of an
/// EVENT packet), moving binary blobs to `attachments`.
pub(crate) fn encode_array(
    out: &mut Vec<u8>,
    head: Option<&str>,
    items: &[Value],
    attachments: &mut Vec<Bytes>,
) -> Result<(), serde_json::Error> {
    let collected = RefCell::new(std::mem::take(attachments));
    let array = ArrayOut {
        head,
        items,
        attachments: &collected,
    };
    let result = serde_json::to_writer(&mut *out, &array);
    *attachments = collected.into_inner();
    result
}

/// Appends one value as JSON to `out`, moving binary blobs to `attachments`.
pub(crate) fn encode_value(
    out: &mut Vec<u8>,
    value: &Value,
    attachments: &mut Vec<Bytes>,
) -> Result<(), serde_json::Error> {
    let collected = RefCell::new(std::mem::take(attachments));
    let result = serde_json::to_writer(
        &mut *out,
        &Out {
            value,
            attachments: &collected,
        },
    );
    *attachments = collected.into_inner();
    result
}

struct ArrayOut<'a> {
    head: Option<&'a str>,
    items: &'a [Value],
    attachments: &'a RefCell<Vec<Bytes>>,
}

impl Serialize for ArrayOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = self.items.len() + usize::from(self.head.is_some());
        let mut seq = s.serialize_seq(Some(len))?;
        if let Some(head) = self.head {
            seq.serialize_element(head)?;
        }
        for value in self.items {
            seq.serialize_element(&Out {
                value,
                attachments: self.attachments,
            })?;
        }
        seq.end()
    }
}

struct Out<'a> {
    value: &'a Value,
    attachments: &'a RefCell<Vec<Bytes>>,
}

impl Serialize for Out<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::Binary(b) => {
                let num = {
                    let mut attachments = self.attachments.borrow_mut();
                    attachments.push(b.clone());
                    attachments.len() - 1
                };
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("_placeholder", &true)?;
                map.serialize_entry("num", &num)?;
                map.end()
            }
            // JavaScript prints integral numbers without a fraction.
            Value::Number(n @ Number(N::Float(_))) => match n.integral() {
                Some(i) => s.serialize_i64(i as i64),
                None => s.serialize_f64(n.as_f64()),
            },
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for value in items {
                    seq.serialize_element(&Out {
                        value,
                        attachments: self.attachments,
                    })?;
                }
                seq.end()
            }
            Value::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(
                        key,
                        &Out {
                            value,
                            attachments: self.attachments,
                        },
                    )?;
                }
                map.end()
            }
            scalar => scalar.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object;

    fn encode(head: Option<&str>, items: &[Value]) -> (String, Vec<Bytes>) {
        let mut out = Vec::new();
        let mut attachments = Vec::new();
        encode_array(&mut out, head, items, &mut attachments).unwrap();
        (String::from_utf8(out).unwrap(), attachments)
    }

    #[test]
    fn writes_placeholders_in_order_and_reads_them_back() {
        let items = vec![
            Value::Binary(Bytes::from_static(&[1, 2, 3])),
            object! { "nested" => Value::Array(vec![Value::Binary(Bytes::from_static(&[4]))]) },
        ];
        let (text, attachments) = encode(Some("message"), &items);
        assert_eq!(
            text,
            r#"["message",{"_placeholder":true,"num":0},{"nested":[{"_placeholder":true,"num":1}]}]"#
        );
        assert_eq!(attachments.len(), 2);
        let back = decode(&text, Some(&attachments), 100).unwrap();
        let Value::Array(back) = back else {
            panic!("not an array")
        };
        assert_eq!(&back[1..], &items[..]);
    }

    #[test]
    fn placeholders_outside_the_attachment_list_are_errors() {
        let one = [Bytes::from_static(b"x")];
        for text in [
            r#"[{"_placeholder":true,"num":1}]"#,
            r#"[{"_placeholder":true,"num":-1}]"#,
            r#"[{"_placeholder":true,"num":"0"}]"#,
            r#"[{"_placeholder":true}]"#,
        ] {
            assert!(decode(text, Some(&one), 100).is_err(), "{text}");
        }
        // Without attachments (a plain EVENT), a placeholder-like object is data.
        let v = decode(r#"{"_placeholder":true,"num":0}"#, None, 100).unwrap();
        assert_eq!(v.get("num").and_then(Value::as_u64), Some(0));
    }

    #[test]
    fn numbers_print_as_javascript_does() {
        let (text, _) = encode(
            None,
            &[
                Value::from(1.0),
                Value::from(1.5),
                Value::from(-0.0),
                Value::from(f64::NAN),
            ],
        );
        assert_eq!(text, "[1,1.5,0,null]");
        let (text, _) = encode(None, &[Value::from(u64::MAX), Value::from(i64::MIN)]);
        assert_eq!(text, "[18446744073709551615,-9223372036854775808]");
    }

    #[test]
    fn rejects_trailing_garbage_and_deep_nesting() {
        assert!(decode("[1] x", None, 100).is_err());
        assert!(decode(&"[".repeat(10_000), None, 100_000).is_err());
        // Rust strings cannot hold an unpaired surrogate: such a packet is malformed.
        assert!(decode("\"\\ud800\"", None, 100).is_err());
    }

    #[test]
    fn stops_at_the_element_budget() {
        // The array and its three numbers are four values.
        assert!(decode("[1,2,3]", None, 4).is_ok());
        assert!(matches!(
            decode("[1,2,3]", None, 3),
            Err(JsonError::TooManyElements(3))
        ));
        let dense = format!("[{}0]", "0,".repeat(99_999));
        assert!(matches!(
            decode(&dense, None, 50_000),
            Err(JsonError::TooManyElements(50_000))
        ));
        // A syntax error after the budget is still a syntax error.
        assert!(matches!(decode("[1,", None, 10), Err(JsonError::Syntax(_))));
    }

    #[test]
    fn keeps_object_key_order() {
        let v = decode(r#"{"b":1,"a":2}"#, None, 100).unwrap();
        let (text, _) = encode(None, &[v]);
        assert_eq!(text, r#"[{"b":1,"a":2}]"#);
    }
}
