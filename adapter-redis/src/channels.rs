//! Cluster channels as Redis pub/sub channels — the one place that names
//! them, for both formats.
//!
//! Node's `@socket.io/redis-adapter` (the default):
//! - `<key>#<namespace>#` broadcasts, `<key>#<namespace>#<room>#` broadcasts
//!   to one room (a node subscribes only to rooms it has members in);
//! - `<key>-request#<namespace>#` requests, `<key>-response#<namespace>#`
//!   responses, `<key>-response#<namespace>#<uid>#` one node's responses;
//! - `<key>-switchyard#<namespace>#`: what only Switchyard nodes say to
//!   each other (heartbeats, presence), which Node's servers never hear.
//!
//! Node's sharded adapter (`createShardedAdapter`, `subscriptionMode`
//! "dynamic"; SPUBLISH/SSUBSCRIBE):
//! - `<key>#<namespace>#` broadcasts and requests, `<key>#<namespace>#<room>#`
//!   broadcasts to one public room, `<key>#<namespace>#<uid>#` one node's
//!   responses; `<key>-switchyard#<namespace>#` as above.
//!
//! Switchyard's own format keeps apart from those names, so both can share
//! a server and a prefix: `<key>-cluster#<namespace>#`,
//! `<key>-cluster#<namespace>#<room>#`, `<key>-cluster-node#<namespace>#<uid>#`.

use switchyard_cluster::Channel;

/// Which wire format the channels carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RedisFormat {
    /// `@socket.io/redis-adapter` 8.x (classic pub/sub) and
    /// `@socket.io/redis-emitter` 5.x: Node.js servers share the cluster.
    #[default]
    Node,
    /// Switchyard's own format (heartbeat membership, one encoding).
    Switchyard,
    /// `@socket.io/redis-adapter` 8.2+ `createShardedAdapter` with
    /// `subscriptionMode: "dynamic"` (sharded pub/sub, Redis 7+ or a
    /// Redis Cluster): Node.js servers on sharded pub/sub share the cluster.
    NodeSharded,
}

/// The Redis channel of a cluster channel.
pub fn name(prefix: &str, format: RedisFormat, channel: &Channel) -> String {
    match (format, channel) {
        (RedisFormat::Node, Channel::Namespace(ns)) => format!("{prefix}#{ns}#"),
        (RedisFormat::Node, Channel::Room { ns, room }) => format!("{prefix}#{ns}#{room}#"),
        (RedisFormat::Node, Channel::Requests(ns)) => format!("{prefix}-request#{ns}#"),
        (RedisFormat::Node, Channel::Responses(ns)) => format!("{prefix}-response#{ns}#"),
        (RedisFormat::Node, Channel::Node { ns, node }) => {
            format!("{prefix}-response#{ns}#{node}#")
        }
        (RedisFormat::Node, Channel::Switchyard(ns)) => format!("{prefix}-switchyard#{ns}#"),
        (RedisFormat::Switchyard, Channel::Namespace(ns)) => format!("{prefix}-cluster#{ns}#"),
        (RedisFormat::Switchyard, Channel::Room { ns, room }) => {
            format!("{prefix}-cluster#{ns}#{room}#")
        }
        (RedisFormat::Switchyard, Channel::Requests(ns)) => {
            format!("{prefix}-cluster-request#{ns}#")
        }
        (RedisFormat::Switchyard, Channel::Responses(ns)) => {
            format!("{prefix}-cluster-response#{ns}#")
        }
        (RedisFormat::Switchyard, Channel::Node { ns, node }) => {
            format!("{prefix}-cluster-node#{ns}#{node}#")
        }
        (RedisFormat::Switchyard, Channel::Switchyard(ns)) => {
            format!("{prefix}-cluster-switchyard#{ns}#")
        }
        // Requests share the broadcast channel, whose subscribers are the
        // servers (Node's `serverCount()`, SHARDNUMSUB).
        (
            RedisFormat::NodeSharded,
            Channel::Namespace(ns) | Channel::Requests(ns) | Channel::Responses(ns),
        ) => format!("{prefix}#{ns}#"),
        (RedisFormat::NodeSharded, Channel::Room { ns, room }) => format!("{prefix}#{ns}#{room}#"),
        (RedisFormat::NodeSharded, Channel::Node { ns, node }) => format!("{prefix}#{ns}#{node}#"),
        (RedisFormat::NodeSharded, Channel::Switchyard(ns)) => format!("{prefix}-switchyard#{ns}#"),
    }
}

/// The stream of a namespace's recoverable packets (connection state recovery).
pub fn packets_key(prefix: &str, ns: &str) -> String {
    format!("{prefix}-packets#{ns}")
}

/// The key of a session kept for recovery.
pub fn session_key(prefix: &str, ns: &str, pid: &str) -> String {
    format!("{prefix}-session#{ns}#{pid}")
}

/// How a node listens to a cluster channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscription {
    /// SUBSCRIBE (or SSUBSCRIBE) to this channel.
    Channel(String),
    /// PSUBSCRIBE to this glob pattern.
    Pattern(String),
}

/// How to listen to a channel: in Node's format a namespace's broadcasts
/// are heard through the pattern `<key>#<namespace>#*`, which covers the
/// namespace's room channels too, as Node's servers listen.
pub fn subscription(prefix: &str, format: RedisFormat, channel: &Channel) -> Subscription {
    match (format, channel) {
        (RedisFormat::Node, Channel::Namespace(ns)) => {
            Subscription::Pattern(format!("{}*", glob_escape(&format!("{prefix}#{ns}#"))))
        }
        _ => Subscription::Channel(name(prefix, format, channel)),
    }
}

/// Escapes Redis glob characters, so a prefix or namespace matches itself only.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_match_the_node_adapter() {
        let n = |c: &Channel| name("socket.io", RedisFormat::Node, c);
        assert_eq!(n(&Channel::Namespace("/".into())), "socket.io#/#");
        assert_eq!(
            n(&Channel::Room {
                ns: "/chat".into(),
                room: "r1".into()
            }),
            "socket.io#/chat#r1#"
        );
        assert_eq!(n(&Channel::Requests("/".into())), "socket.io-request#/#");
        assert_eq!(n(&Channel::Responses("/".into())), "socket.io-response#/#");
        assert_eq!(
            n(&Channel::Node {
                ns: "/".into(),
                node: "ab12".into()
            }),
            "socket.io-response#/#ab12#"
        );
    }

    #[test]
    fn node_format_listens_to_broadcasts_by_pattern() {
        let sub = |p: &str, c: &Channel| subscription(p, RedisFormat::Node, c);
        let ns = Channel::Namespace("/".into());
        assert_eq!(
            sub("socket.io", &ns),
            Subscription::Pattern("socket.io#/#*".into())
        );
        assert_eq!(
            sub("a*b", &Channel::Namespace("/[x]".into())),
            Subscription::Pattern("a\\*b#/\\[x\\]#*".into())
        );
        let requests = Channel::Requests("/".into());
        assert_eq!(
            sub("socket.io", &requests),
            Subscription::Channel("socket.io-request#/#".into())
        );
        let native = subscription("socket.io", RedisFormat::Switchyard, &ns);
        assert_eq!(native, Subscription::Channel("socket.io-cluster#/#".into()));
    }

    #[test]
    fn switchyard_names_keep_away_from_node_names() {
        let s = |c: &Channel| name("socket.io", RedisFormat::Switchyard, c);
        assert_eq!(s(&Channel::Namespace("/".into())), "socket.io-cluster#/#");
        assert_eq!(
            s(&Channel::Node {
                ns: "/".into(),
                node: "ab".into()
            }),
            "socket.io-cluster-node#/#ab#"
        );
        assert!(!s(&Channel::Namespace("/".into())).starts_with("socket.io#"));
    }
}
