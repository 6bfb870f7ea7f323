//! Cluster channels as NATS subjects.
//!
//! `<prefix>.<namespace>.all` carries broadcasts and requests of a
//! namespace, `<prefix>.<namespace>.room.<room>` broadcasts to one room
//! (only nodes with members in it subscribe: interest routing),
//! `<prefix>.<namespace>.node.<uid>` one node's responses, and
//! `.requests`/`.responses`/`.switchyard` for formats that keep those
//! apart.
//! Prefixes, namespaces, rooms and ids are escaped into single tokens; a
//! room whose token would pass [`MAX_ROOM_TOKEN`] bytes is named by a
//! SHA-1 of it instead (receivers filter by the message's own rooms, so a
//! collision cannot misdeliver).
//!
//! Each subject is its own subscription; the ordered reader (`reader`)
//! keeps each publisher's order across them.

use sha1::{Digest, Sha1};
use std::fmt::Write;
use switchyard_cluster::Channel;

/// The longest room token used as is; NATS control lines are 4 KiB by default.
pub const MAX_ROOM_TOKEN: usize = 200;

/// Escapes a name into one subject token: ASCII letters, digits and `-`
/// stay, every other byte becomes `_XX` (so `_` itself is escaped and the
/// mapping is reversible).
pub fn token(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            let _ = write!(out, "_{b:02X}");
        }
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// The subject a channel's messages are published on.
pub fn subject(prefix: &str, channel: &Channel) -> String {
    match channel {
        Channel::Namespace(ns) => format!("{}.{}.all", token(prefix), token(ns)),
        Channel::Room { ns, room } => {
            format!("{}.{}.room.{}", token(prefix), token(ns), room_token(room))
        }
        Channel::Node { ns, node } => {
            format!("{}.{}.node.{}", token(prefix), token(ns), token(node))
        }
        Channel::Requests(ns) => format!("{}.{}.requests", token(prefix), token(ns)),
        Channel::Responses(ns) => format!("{}.{}.responses", token(prefix), token(ns)),
        Channel::Switchyard(ns) => format!("{}.{}.switchyard", token(prefix), token(ns)),
    }
}

/// A room as one token: escaped, or `h<sha1>` when that is too long.
fn room_token(room: &str) -> String {
    let escaped = token(room);
    if escaped.len() <= MAX_ROOM_TOKEN {
        return escaped;
    }
    let mut hex = String::from("h");
    for b in Sha1::digest(room.as_bytes()) {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_single_safe_tokens() {
        assert_eq!(token("/"), "_2F");
        assert_eq!(token("a.b c*>_ü"), "a_2Eb_20c_2A_3E_5F_C3_BC");
        assert_eq!(token(""), "_");
        let room = Channel::Room {
            ns: "/chat".into(),
            room: "a.b".into(),
        };
        assert_eq!(
            subject("socket.io", &room),
            "socket_2Eio._2Fchat.room.a_2Eb"
        );
        let long = Channel::Room {
            ns: "/".into(),
            room: "é".repeat(100).into(),
        };
        let long = subject("p", &long);
        assert!(long.starts_with("p._2F.room.h") && long.len() == "p._2F.room.h".len() + 40);
        let node = Channel::Node {
            ns: "/".into(),
            node: "0a1b".into(),
        };
        assert_eq!(subject("p", &node), "p._2F.node.0a1b");
    }
}
