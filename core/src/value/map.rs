//! `Map`: the entries of an object `Value`, in insertion order.
//!
//! The index map lives behind one pointer so that every `Value` stays small
//! (40 bytes instead of 80): a decoded array of a million numbers then costs
//! half as much, and objects are rarer than scalars in real payloads.

use super::Value;
use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::{Deref, DerefMut};

/// An object: string keys in insertion order, as JavaScript keeps them.
/// Dereferences to an [`IndexMap`], whose whole API it offers.
#[derive(Clone, Default, PartialEq)]
pub struct Map(Box<IndexMap<String, Value>>);

impl Map {
    /// An empty object.
    pub fn new() -> Self {
        Map::default()
    }

    /// An empty object with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        Map(Box::new(IndexMap::with_capacity(capacity)))
    }

    /// The underlying index map.
    pub fn into_inner(self) -> IndexMap<String, Value> {
        *self.0
    }
}

impl Deref for Map {
    type Target = IndexMap<String, Value>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Map {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl std::fmt::Debug for Map {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<IndexMap<String, Value>> for Map {
    fn from(map: IndexMap<String, Value>) -> Self {
        Map(Box::new(map))
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = indexmap::map::IntoIter<String, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a String, &'a Value);
    type IntoIter = indexmap::map::Iter<'a, String, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a mut Map {
    type Item = (&'a String, &'a mut Value);
    type IntoIter = indexmap::map::IterMut<'a, String, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter_mut()
    }
}

impl FromIterator<(String, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Map(Box::new(IndexMap::from_iter(iter)))
    }
}

impl Extend<(String, Value)> for Map {
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl Serialize for Map {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Map {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IndexMap::deserialize(d).map(|m| Map(Box::new(m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_stays_small() {
        assert!(
            std::mem::size_of::<Value>() <= 40,
            "{}",
            std::mem::size_of::<Value>()
        );
    }

    #[test]
    fn behaves_as_an_ordered_map() {
        let mut m: Map = [
            ("b".to_owned(), Value::from(1)),
            ("a".to_owned(), Value::from(2)),
        ]
        .into_iter()
        .collect();
        m.insert("c".into(), Value::Null);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["b", "a", "c"]);
        assert_eq!(m.swap_remove("b"), Some(Value::from(1)));
        let back: Map = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }
}
