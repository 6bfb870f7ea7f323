//! Cluster channels as NATS subjects.
//!
//! `<prefix>.<namespace>.all` carries broadcasts and requests of a
//! namespace (room broadcasts included: one subscription keeps them in
//! publish order), `<prefix>.<namespace>.node.<uid>` one node's responses,
//! and `.requests`/`.responses`/`.switchyard` for formats that keep those
//! apart.
//! Prefixes, namespaces and ids are escaped into single tokens.

use std::fmt::Write;
use switchyard_cluster::Channel;

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
        Channel::Namespace(ns) | Channel::Room { ns, .. } => {
            format!("{}.{}.all", token(prefix), token(ns))
        }
        Channel::Node { ns, node } => {
            format!("{}.{}.node.{}", token(prefix), token(ns), token(node))
        }
        Channel::Requests(ns) => format!("{}.{}.requests", token(prefix), token(ns)),
        Channel::Responses(ns) => format!("{}.{}.responses", token(prefix), token(ns)),
        Channel::Switchyard(ns) => format!("{}.{}.switchyard", token(prefix), token(ns)),
    }
}

/// The subject to subscribe to for a channel; rooms need none of their own.
pub fn subscription(prefix: &str, channel: &Channel) -> Option<String> {
    match channel {
        Channel::Room { .. } => None,
        other => Some(subject(prefix, other)),
    }
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
        assert_eq!(subject("socket.io", &room), "socket_2Eio._2Fchat.all");
        assert_eq!(subscription("socket.io", &room), None);
        let node = Channel::Node {
            ns: "/".into(),
            node: "0a1b".into(),
        };
        assert_eq!(subject("p", &node), "p._2F.node.0a1b");
    }
}
