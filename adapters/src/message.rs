//! The messages nodes exchange: the set of Node's
//! `ClusterAdapterWithHeartbeat` (same type numbers, same field names),
//! encoded as a MessagePack map `{uid, nsp, type, data?}`.

use crate::broker::channel::NodeId;
use smol_str::SmolStr;
use switchyard_core::protocol::Packet;
use switchyard_core::{BroadcastOptions, Room, SocketInfo, Value};

mod broadcast;
mod data;
mod decode;
mod encode;
mod error;
mod packet;

pub use broadcast::{
    BroadcastKind, BroadcastRef, write_opts, write_packet, write_packet_with_args,
};
pub use error::MessageError;
pub use packet::{packet_from_value, packet_to_value};

/// The id of a request, unique per requesting node.
pub type RequestId = SmolStr;

/// The uid emitters (`@socket.io/redis-emitter` and ports) use; never a node.
pub const EMITTER_UID: &str = "emitter";

/// One message between nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterMessage {
    /// The sending node.
    pub uid: NodeId,
    /// The namespace.
    pub nsp: SmolStr,
    /// What it says.
    pub body: Body,
}

/// The message types, with Node's numbering.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// 1: a node starts and asks the others to make themselves known.
    InitialHeartbeat,
    /// 2: a node is alive.
    Heartbeat,
    /// 3: deliver a packet to sockets; with a request id, acknowledgements are collected.
    Broadcast {
        /// The EVENT packet.
        packet: Packet,
        /// Targeting.
        opts: BroadcastOptions,
        /// Present when the emitter waits for acknowledgements.
        request_id: Option<RequestId>,
    },
    /// 4: make sockets join rooms.
    SocketsJoin {
        /// Targeting.
        opts: BroadcastOptions,
        /// Rooms to join.
        rooms: Vec<Room>,
    },
    /// 5: make sockets leave rooms.
    SocketsLeave {
        /// Targeting.
        opts: BroadcastOptions,
        /// Rooms to leave.
        rooms: Vec<Room>,
    },
    /// 6: disconnect sockets.
    DisconnectSockets {
        /// Targeting.
        opts: BroadcastOptions,
        /// Close the underlying connections too.
        close: bool,
    },
    /// 7: describe sockets.
    FetchSockets {
        /// Targeting.
        opts: BroadcastOptions,
        /// The request.
        request_id: RequestId,
    },
    /// 8: the sockets of one node.
    FetchSocketsResponse {
        /// The request answered.
        request_id: RequestId,
        /// The node's matching sockets.
        sockets: Vec<SocketInfo>,
    },
    /// 9: an event for the other servers' namespace handlers.
    ServerSideEmit {
        /// Event name.
        event: String,
        /// Arguments.
        args: Vec<Value>,
        /// Present when the emitter waits for answers.
        request_id: Option<RequestId>,
    },
    /// 10: one server's answer.
    ServerSideEmitResponse {
        /// The request answered.
        request_id: RequestId,
        /// The answer.
        value: Value,
    },
    /// 11: how many clients a node sent an acknowledged broadcast to.
    BroadcastClientCount {
        /// The request answered.
        request_id: RequestId,
        /// Clients reached.
        count: u64,
    },
    /// 12: one client's acknowledgement of a broadcast.
    BroadcastAck {
        /// The request answered.
        request_id: RequestId,
        /// The client's answer (its first argument).
        value: Value,
    },
    /// 13: a node leaves the cluster.
    AdapterClose,
    /// The ids of the sockets in rooms (Node's `allSockets()`; type 14 here,
    /// 0 in Node's Redis adapter).
    Sockets {
        /// Rooms; empty for all.
        rooms: Vec<Room>,
        /// The request.
        request_id: RequestId,
    },
    /// One node's socket ids (type 15).
    SocketsResponse {
        /// The request answered.
        request_id: RequestId,
        /// Socket ids.
        ids: Vec<String>,
    },
    /// The rooms with members (Node's `allRooms()`; type 16 here, 1 in
    /// Node's Redis adapter).
    AllRooms {
        /// The request.
        request_id: RequestId,
    },
    /// One node's rooms (type 17).
    AllRoomsResponse {
        /// The request answered.
        request_id: RequestId,
        /// Rooms with local members.
        rooms: Vec<Room>,
    },
    /// A broadcast kept for connection state recovery (type 3 with an
    /// `offset`); the packet's last argument is the offset.
    RecoverableBroadcast {
        /// The EVENT packet, ending with its offset.
        packet: Packet,
        /// Targeting.
        opts: BroadcastOptions,
        /// The offset.
        offset: SmolStr,
    },
    /// Asks the other nodes for a kept session (type 18; recovery without
    /// a shared session store).
    RestoreSession {
        /// The private session id.
        pid: SmolStr,
        /// The client's last offset.
        offset: SmolStr,
        /// The request.
        request_id: RequestId,
    },
    /// A node's answer (type 19): the session with its missed packets, or null.
    RestoreSessionResponse {
        /// The request answered.
        request_id: RequestId,
        /// The recovered session, or null.
        session: Value,
    },
    /// Presence (type 20): the sending node now has `count` sessions of `user`.
    PresenceUpdate {
        /// The user.
        user: SmolStr,
        /// Its sessions on the sending node (0: none left).
        count: u64,
    },
    /// Presence (type 21): every user of the sending node, replacing what
    /// the others knew of it.
    PresenceSnapshot {
        /// Users with their sessions on the sending node.
        users: Vec<(SmolStr, u64)>,
    },
    /// Where the sending node listens (type 22), for forwarding requests
    /// for its sessions.
    NodeAddress {
        /// The suffix of its session ids.
        tag: SmolStr,
        /// `host:port`.
        address: String,
    },
    /// Make sockets join rooms and confirm once the broker confirmed the
    /// subscriptions it needed (type 4 with a request id).
    SocketsJoinConfirmed {
        /// Targeting.
        opts: BroadcastOptions,
        /// Rooms to join.
        rooms: Vec<Room>,
        /// The request.
        request_id: RequestId,
    },
    /// A node's answer to [`Body::SocketsJoinConfirmed`] (type 23).
    JoinConfirmation {
        /// The request answered.
        request_id: RequestId,
        /// Why the node could not confirm, if it could not.
        error: Option<String>,
    },
    /// Asks the node that keeps a session for it (type 24; recovery without
    /// a shared session store). Answered with a `RestoreSessionResponse`
    /// holding the session, or null.
    TakeSession {
        /// The private session id.
        pid: SmolStr,
        /// The request.
        request_id: RequestId,
    },
    /// Asks every node to close the connection of the socket with this
    /// private session id, if it has it (type 26; its client came back
    /// elsewhere). Answered with a `RestoreSessionResponse` holding `true`
    /// when it did (the session is then kept), `false` otherwise.
    EvictSession {
        /// The private session id.
        pid: SmolStr,
        /// The request.
        request_id: RequestId,
    },
    /// Asks the node that kept a session for the packets its socket missed
    /// (type 25). Answered with a `RestoreSessionResponse` holding the
    /// packets, or null when they cannot be given back.
    MissedSince {
        /// The private session id (the keeper stops keeping its rooms).
        pid: SmolStr,
        /// The client's last offset.
        offset: SmolStr,
        /// The socket's rooms.
        rooms: Vec<Room>,
        /// The request.
        request_id: RequestId,
    },
}

impl Body {
    /// Node's type number.
    pub fn type_code(&self) -> u8 {
        match self {
            Body::InitialHeartbeat => 1,
            Body::Heartbeat => 2,
            Body::Broadcast { .. } => 3,
            Body::SocketsJoin { .. } => 4,
            Body::SocketsLeave { .. } => 5,
            Body::DisconnectSockets { .. } => 6,
            Body::FetchSockets { .. } => 7,
            Body::FetchSocketsResponse { .. } => 8,
            Body::ServerSideEmit { .. } => 9,
            Body::ServerSideEmitResponse { .. } => 10,
            Body::BroadcastClientCount { .. } => 11,
            Body::BroadcastAck { .. } => 12,
            Body::AdapterClose => 13,
            Body::Sockets { .. } => 14,
            Body::SocketsResponse { .. } => 15,
            Body::AllRooms { .. } => 16,
            Body::AllRoomsResponse { .. } => 17,
            Body::RecoverableBroadcast { .. } => 3,
            Body::RestoreSession { .. } => 18,
            Body::RestoreSessionResponse { .. } => 19,
            Body::PresenceUpdate { .. } => 20,
            Body::PresenceSnapshot { .. } => 21,
            Body::NodeAddress { .. } => 22,
            Body::SocketsJoinConfirmed { .. } => 4,
            Body::JoinConfirmation { .. } => 23,
            Body::TakeSession { .. } => 24,
            Body::MissedSince { .. } => 25,
            Body::EvictSession { .. } => 26,
        }
    }

    /// The message's kind, as metrics label it.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::InitialHeartbeat => "initial_heartbeat",
            Body::Heartbeat => "heartbeat",
            Body::Broadcast { .. } => "broadcast",
            Body::RecoverableBroadcast { .. } => "recoverable_broadcast",
            Body::SocketsJoin { .. } => "sockets_join",
            Body::SocketsLeave { .. } => "sockets_leave",
            Body::DisconnectSockets { .. } => "disconnect_sockets",
            Body::FetchSockets { .. } => "fetch_sockets",
            Body::FetchSocketsResponse { .. } => "fetch_sockets_response",
            Body::ServerSideEmit { .. } => "server_side_emit",
            Body::ServerSideEmitResponse { .. } => "server_side_emit_response",
            Body::BroadcastClientCount { .. } => "broadcast_client_count",
            Body::BroadcastAck { .. } => "broadcast_ack",
            Body::AdapterClose => "adapter_close",
            Body::Sockets { .. } => "sockets",
            Body::SocketsResponse { .. } => "sockets_response",
            Body::AllRooms { .. } => "all_rooms",
            Body::AllRoomsResponse { .. } => "all_rooms_response",
            Body::RestoreSession { .. } => "restore_session",
            Body::RestoreSessionResponse { .. } => "restore_session_response",
            Body::PresenceUpdate { .. } => "presence_update",
            Body::PresenceSnapshot { .. } => "presence_snapshot",
            Body::NodeAddress { .. } => "node_address",
            Body::SocketsJoinConfirmed { .. } => "sockets_join",
            Body::JoinConfirmation { .. } => "join_confirmation",
            Body::TakeSession { .. } => "take_session",
            Body::MissedSince { .. } => "missed_since",
            Body::EvictSession { .. } => "evict_session",
        }
    }

    /// The request a response answers.
    pub fn response_to(&self) -> Option<&RequestId> {
        match self {
            Body::FetchSocketsResponse { request_id, .. }
            | Body::ServerSideEmitResponse { request_id, .. }
            | Body::BroadcastClientCount { request_id, .. }
            | Body::BroadcastAck { request_id, .. }
            | Body::SocketsResponse { request_id, .. }
            | Body::AllRoomsResponse { request_id, .. }
            | Body::JoinConfirmation { request_id, .. }
            | Body::RestoreSessionResponse { request_id, .. } => Some(request_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod broadcast_tests;
#[cfg(test)]
mod tests;
