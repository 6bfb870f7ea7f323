//! Cluster channels as AMQP names: a topic exchange per namespace
//! (`<prefix>#<namespace>`), and routing keys `all`, `room.<room>` and
//! `node.<uid>` on it (`requests`/`responses`/`switchyard` for formats that
//! keep those apart). Rooms and ids are escaped into one word each, so a
//! room named `*` or `a.b` is never a wildcard or two words; names longer
//! than AMQP's 255 bytes are replaced by a hash (receivers filter by the
//! message's own targeting, so a collision cannot misdeliver).

use lapin::types::ShortString;
use sha1::{Digest, Sha1};
use std::fmt::Write;
use switchyard_cluster::Channel;

/// The exchange of a namespace.
pub fn exchange(prefix: &str, ns: &str) -> ShortString {
    short(format!("{prefix}#{ns}"))
}

/// The routing key a channel's messages are published with (and bound by).
pub fn routing_key(channel: &Channel) -> ShortString {
    match channel {
        Channel::Namespace(_) => ShortString::from("all"),
        Channel::Room { room, .. } => short(format!("room.{}", word(room))),
        Channel::Node { node, .. } => short(format!("node.{}", word(node))),
        Channel::Requests(_) => ShortString::from("requests"),
        Channel::Responses(_) => ShortString::from("responses"),
        Channel::Switchyard(_) => ShortString::from("switchyard"),
    }
}

/// One topic word: letters, digits, `-` and `_` stay; other bytes become `%XX`.
fn word(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A name AMQP accepts: over 255 bytes, a SHA-1 of it instead.
fn short(name: String) -> ShortString {
    if let Ok(s) = ShortString::try_new(name.as_str()) {
        return s;
    }
    let mut hex = String::from("h.");
    for b in Sha1::digest(name.as_bytes()) {
        let _ = write!(hex, "{b:02x}");
    }
    ShortString::from(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_words_within_limits() {
        assert_eq!(exchange("socket.io", "/").as_str(), "socket.io#/");
        let room = |r: &str| Channel::Room {
            ns: "/".into(),
            room: r.into(),
        };
        assert_eq!(routing_key(&room("a.b")).as_str(), "room.a%2Eb");
        assert_eq!(routing_key(&room("*")).as_str(), "room.%2A");
        assert_eq!(routing_key(&room("#")).as_str(), "room.%23");
        let long = routing_key(&room(&"x".repeat(300)));
        assert!(long.as_str().starts_with("h.") && long.as_str().len() == 42);
        assert_eq!(routing_key(&Channel::Namespace("/".into())).as_str(), "all");
    }
}
