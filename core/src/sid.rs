//! `Sid`: the id of an Engine.IO session or of a Socket.IO socket.
//!
//! Generated ids carry 128 random bits from the operating system, written
//! as 22 URL-safe base64 characters; ids from elsewhere (a Node.js node in a
//! mixed cluster) are kept as the strings they are.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use smol_str::SmolStr;
use std::fmt;

/// A session or socket id. Cheap to clone: short ids are stored inline.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Sid(SmolStr);

impl Sid {
    /// A new random id (128 bits of OS randomness).
    pub fn random() -> Sid {
        let mut bytes = [0u8; 16];
        if let Err(e) = getrandom::fill(&mut bytes) {
            // Without OS randomness ids would be guessable: refuse to go on.
            panic!("the operating system's random source failed: {e}");
        }
        let mut text = [0u8; 22];
        let len = URL_SAFE_NO_PAD.encode_slice(bytes, &mut text).unwrap_or(0);
        Sid(SmolStr::new(
            std::str::from_utf8(&text[..len]).unwrap_or_default(),
        ))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Sid {
    fn from(s: &str) -> Self {
        Sid(SmolStr::new(s))
    }
}

impl From<String> for Sid {
    fn from(s: String) -> Self {
        Sid(SmolStr::from(s))
    }
}

impl std::ops::Deref for Sid {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Sid {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn random_ids_are_url_safe_and_distinct() {
        let ids: HashSet<Sid> = (0..1000).map(|_| Sid::random()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.len(), 22);
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{id}"
            );
        }
    }
}
