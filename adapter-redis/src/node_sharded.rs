//! The wire format of Node's sharded Redis adapter (`createShardedAdapter`
//! of `@socket.io/redis-adapter` 8.2+, `subscriptionMode: "dynamic"`), so
//! that Switchyard and Node.js servers on sharded pub/sub are members of
//! one cluster.
//!
//! - Messages are socket.io-adapter's `ClusterAdapter` messages (`{uid,
//!   nsp, type, data}`), JSON when they hold no binary and MessagePack
//!   otherwise; Node reads both, so Switchyard always writes MessagePack.
//! - A broadcast without acknowledgements to exactly one room goes to the
//!   room's channel, unless the room looks like a socket id (20
//!   characters: Node's servers do not subscribe to private rooms);
//!   everything else goes to the namespace's channel, and responses to the
//!   requester's own channel.
//! - A `socketsJoin` goes to every server on the namespace's channel, and
//!   Node's servers never confirm it: they subscribe to the room's channel
//!   when they get it. So for [`switchyard_cluster::JOIN_SETTLE`] after this node asked every
//!   server to join a room, its broadcasts to that room go on the namespace
//!   channel too, where they arrive after the request (Node's own sharded
//!   adapter has no such window and loses them).
//! - No heartbeats: servers are counted with `PUBSUB SHARDNUMSUB` on the
//!   namespace's channel. Switchyard nodes still send each other
//!   heartbeats, presence and recovery messages on `<key>-switchyard#<ns>#`,
//!   which Node's servers never hear.

use crate::channels::{RedisFormat, name};
use bytes::Bytes;
use smol_str::SmolStr;
use switchyard_cluster::message::{Body, ClusterMessage, MessageError};
use switchyard_cluster::{
    Channel, Delivery, Destination, Membership, NodeId, RecentJoins, WireFormat,
};
use switchyard_core::Value;
use switchyard_core::value::to_msgpack;

/// The length of a Node.js socket id: rooms this long are private.
const SOCKET_ID_LEN: usize = 20;

/// Node's sharded Redis adapter format, for one key (prefix).
#[derive(Debug)]
pub struct NodeShardedFormat {
    prefix: String,
    /// Rooms this node just asked every server to join.
    recent_joins: RecentJoins,
}

impl NodeShardedFormat {
    /// The format for channels under `prefix` (Node's `channelPrefix`).
    pub fn new(prefix: String) -> NodeShardedFormat {
        NodeShardedFormat {
            prefix,
            recent_joins: RecentJoins::default(),
        }
    }

    fn is_switchyards(&self, channel: &str) -> bool {
        channel
            .strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.starts_with("-switchyard#"))
    }
}

/// Whether Node's servers would publish a broadcast to `room` on the
/// room's channel (and subscribe to it).
pub fn has_room_channel(room: &str) -> bool {
    room.chars().count() != SOCKET_ID_LEN
}

impl WireFormat for NodeShardedFormat {
    fn name(&self) -> &'static str {
        "node-redis-sharded-adapter"
    }

    fn membership(&self) -> Membership {
        Membership::RequestSubscribers
    }

    fn channels(&self, ns: &SmolStr, node: &NodeId) -> Vec<Channel> {
        vec![
            Channel::Namespace(ns.clone()),
            Channel::Node {
                ns: ns.clone(),
                node: node.clone(),
            },
            Channel::Switchyard(ns.clone()),
        ]
    }

    fn room_has_channel(&self, room: &str) -> bool {
        has_room_channel(room)
    }

    fn encode(&self, message: &ClusterMessage, to: Destination<'_>) -> Option<(Channel, Bytes)> {
        let ns = message.nsp.clone();
        let channel = match &message.body {
            // Only Switchyard nodes say these, on a channel of their own.
            Body::InitialHeartbeat
            | Body::Heartbeat
            | Body::AdapterClose
            | Body::PresenceUpdate { .. }
            | Body::PresenceSnapshot { .. }
            | Body::NodeAddress { .. }
            | Body::RestoreSession { .. }
            | Body::RestoreSessionResponse { .. }
            | Body::TakeSession { .. }
            | Body::MissedSince { .. }
            | Body::EvictSession { .. } => Channel::Switchyard(ns),
            // Node's servers never answer a join: it is sent unconfirmed.
            Body::SocketsJoinConfirmed { .. } | Body::JoinConfirmation { .. } => return None,
            Body::Broadcast {
                request_id: None, ..
            }
            | Body::RecoverableBroadcast { .. } => match to {
                Destination::Room(room) if has_room_channel(room) => {
                    match self.recent_joins.destination(std::slice::from_ref(room)) {
                        Destination::Room(room) => Channel::Room {
                            ns,
                            room: room.clone(),
                        },
                        _ => Channel::Namespace(ns),
                    }
                }
                _ => Channel::Namespace(ns),
            },
            Body::SocketsJoin { rooms, .. } => {
                self.recent_joins.joined(rooms);
                Channel::Namespace(ns)
            }
            _ => match to {
                Destination::Node(node) => Channel::Node {
                    ns,
                    node: node.clone(),
                },
                _ => Channel::Namespace(ns),
            },
        };
        Some((channel, message.encode()))
    }

    fn decode(&self, delivery: &Delivery) -> Result<ClusterMessage, MessageError> {
        if !delivery.channel.starts_with(self.prefix.as_str()) {
            return Err(MessageError::Invalid(format!(
                "channel {} is not the sharded adapter's (key {})",
                delivery.channel, self.prefix
            )));
        }
        if self.is_switchyards(&delivery.channel) || delivery.payload.first() != Some(&b'{') {
            return ClusterMessage::decode(&delivery.payload);
        }
        // Node writes JSON when the message holds no binary: the same
        // message, read through MessagePack.
        let value: Value = serde_json::from_slice(&delivery.payload)
            .map_err(|e| MessageError::Invalid(format!("JSON: {e}")))?;
        ClusterMessage::decode(&Bytes::from(to_msgpack(&value)))
    }
}

/// For tests: the broker channel of a cluster channel.
pub fn channel_name(prefix: &str, channel: &Channel) -> String {
    name(prefix, RedisFormat::NodeSharded, channel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::Room;

    fn message(body: Body) -> ClusterMessage {
        ClusterMessage {
            uid: "0123456789abcdef".into(),
            nsp: "/".into(),
            body,
        }
    }

    #[test]
    fn names_match_the_sharded_adapter() {
        let n = |c: &Channel| channel_name("socket.io", c);
        assert_eq!(n(&Channel::Namespace("/".into())), "socket.io#/#");
        assert_eq!(n(&Channel::Requests("/".into())), "socket.io#/#");
        let room = Channel::Room {
            ns: "/chat".into(),
            room: "r1".into(),
        };
        assert_eq!(n(&room), "socket.io#/chat#r1#");
        let node = Channel::Node {
            ns: "/".into(),
            node: "ab12".into(),
        };
        assert_eq!(n(&node), "socket.io#/#ab12#");
        assert_eq!(
            n(&Channel::Switchyard("/".into())),
            "socket.io-switchyard#/#"
        );
    }

    #[test]
    fn only_public_single_room_broadcasts_use_the_room_channel() {
        let format = NodeShardedFormat::new("socket.io".into());
        let broadcast = message(Body::Broadcast {
            packet: switchyard_core::protocol::Packet::event("/", "e", vec![]),
            opts: Default::default(),
            request_id: None,
        });
        let public = Room::from("lobby");
        let private = Room::from("AAAAAAAAAAAAAAAAAAAA");
        let (to, _) = format
            .encode(&broadcast, Destination::Room(&public))
            .unwrap();
        assert!(matches!(to, Channel::Room { .. }));
        let (to, _) = format
            .encode(&broadcast, Destination::Room(&private))
            .unwrap();
        assert!(matches!(to, Channel::Namespace(_)));
        let (to, _) = format
            .encode(&message(Body::Heartbeat), Destination::Everyone)
            .unwrap();
        assert!(matches!(to, Channel::Switchyard(_)));
    }

    #[test]
    fn reads_node_json_and_msgpack_and_skips_foreign_channels() {
        let format = NodeShardedFormat::new("socket.io".into());
        let json = br#"{"uid":"abc","nsp":"/","type":3,"data":{"packet":{"type":2,"data":["hi",1],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{}}}}"#;
        let delivery = |channel: &str, payload: &[u8]| Delivery {
            channel: channel.into(),
            payload: Bytes::copy_from_slice(payload),
        };
        let m = format.decode(&delivery("socket.io#/#r#", json)).unwrap();
        assert_eq!(m.uid, "abc");
        assert_eq!(m.body.kind(), "broadcast");
        let again = format
            .decode(&delivery("socket.io#/#", &m.encode()))
            .unwrap();
        assert_eq!(again.body.kind(), "broadcast");
        assert!(format.decode(&delivery("other#/#", json)).is_err());
        assert!(
            format
                .decode(&delivery("socket.io#/#", b"{not json"))
                .is_err()
        );
    }
}
