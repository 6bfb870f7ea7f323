//! The `Adapter` trait: rooms and cross-node operations of a namespace.
//!
//! It mirrors Node's `socket.io-adapter`: membership of local sockets
//! (`add_all`, `del`, `del_all`) and operations that target sockets by
//! [`BroadcastOptions`] on every node of a cluster. [`LocalAdapter`] is the
//! single-node implementation and the building block of cluster adapters,
//! which deliver locally through it and forward to other nodes.

mod ack;
mod index;
mod join;
mod local;
mod member;

pub use ack::{AckCollector, AckEvent, BroadcastAckError, BroadcastAckFuture};
pub use join::{JoinError, JoinFuture};
pub use local::LocalAdapter;
pub use member::{Member, MemberHandle, NamespaceHooks};

pub use crate::vocab::{
    AdapterError, AdapterHeld, BoxFuture, BroadcastFlags, BroadcastOptions, Partial, Room,
    ServerSideAck, SocketInfo,
};

use crate::presence::PresenceTable;
use crate::protocol::Packet;
use crate::recovery::{RecoveryConfig, SessionState, Unrecoverable, Unsent};
use crate::sid::Sid;
use crate::value::Value;
use smol_str::SmolStr;
use std::sync::Arc;
use std::time::Duration;

/// Rooms and cross-node operations of one namespace.
pub trait Adapter: Send + Sync + 'static {
    /// Adds a local socket to rooms, at once; the future resolves once the
    /// join takes effect cluster-wide (see [`JoinFuture`]).
    fn add_all(&self, sid: &Sid, rooms: &[Room]) -> JoinFuture;
    /// Removes a local socket from a room.
    fn del(&self, sid: &Sid, room: &Room);
    /// Removes a local socket from every room.
    fn del_all(&self, sid: &Sid);
    /// The rooms of a local socket.
    fn socket_rooms(&self, sid: &Sid) -> Vec<Room>;
    /// The rooms with local members.
    fn rooms(&self) -> Vec<Room>;

    /// Delivers a packet to the targeted sockets on every node. The packet
    /// is encoded once per node and its bytes shared by all recipients.
    fn broadcast(&self, packet: Packet, opts: &BroadcastOptions);

    /// Delivers a packet and collects one answer per targeted client, on
    /// every node, until all have answered or `timeout` passes. Sending
    /// happens before this returns; the future only collects.
    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BroadcastAckFuture;

    /// Describes the targeted sockets on every node.
    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<Result<Partial<Vec<SocketInfo>>, AdapterError>>;

    /// Makes the targeted sockets join rooms, on every node; the future
    /// resolves once every node confirmed its part (or the request timed out).
    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> JoinFuture;
    /// Makes the targeted sockets leave rooms, on every node.
    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);
    /// Disconnects the targeted sockets, on every node; `close` also closes
    /// their underlying connections.
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool);

    /// Emits an event to the other nodes' namespace handlers; with a
    /// timeout, collects their acknowledgements.
    fn server_side_emit(
        &self,
        event: &str,
        args: Vec<Value>,
        ack_timeout: Option<Duration>,
    ) -> BoxFuture<Result<Partial<Vec<ServerSideAck>>, AdapterError>>;

    /// How many nodes serve this namespace, this one included.
    fn server_count(&self) -> BoxFuture<usize>;

    /// Presence: a connected socket of this node named `user` opened
    /// (`joined`) or closed. The default counts nothing.
    fn presence_change(&self, user: &SmolStr, joined: bool) {
        let _ = (user, joined);
    }

    /// Presence: the table of users online, on every node, when the
    /// adapter keeps one.
    fn presence(&self) -> Option<&PresenceTable> {
        None
    }

    /// Connection state recovery: delivers an event whose last argument is
    /// `offset`, as [`Adapter::broadcast`] does, and keeps it for sockets
    /// that lose their connection and come back. The default only delivers
    /// (sessions are then never recovered).
    fn broadcast_recoverable(&self, packet: Packet, opts: &BroadcastOptions, offset: SmolStr) {
        let _ = offset;
        self.broadcast(packet, opts);
    }

    /// Connection state recovery: keeps the session of a socket that lost
    /// its connection, for `keep`. The default keeps nothing.
    fn persist_session(&self, session: SessionState, keep: Duration) {
        let _ = (session, keep);
    }

    /// Connection state recovery: a session taken for a client that left
    /// again before its socket was connected is kept again, for `keep`, so
    /// that the client can come back from the same offset. `unsent` is the
    /// replay it never got: an adapter whose own packets do not reach back
    /// to that offset (it learnt the replay from another node) keeps it.
    /// The default keeps the session as [`Adapter::persist_session`] does.
    fn return_session(&self, session: SessionState, unsent: Unsent, keep: Duration) {
        let _ = unsent;
        self.persist_session(session, keep);
    }

    /// Connection state recovery: a new private session id. An adapter
    /// that keeps sessions on the node a socket was on names that node in
    /// it (`<random>.<tag>`), so that a restore asks that node only.
    fn new_pid(&self) -> Sid {
        Sid::random()
    }

    /// Connection state recovery: takes a kept session (it can be taken
    /// once); `None` if it is unknown or expired. An unknown pid costs at
    /// most one broker round trip (or one request to the node it names).
    fn take_session(&self, pid: Sid, recovery: RecoveryConfig) -> BoxFuture<Option<SessionState>> {
        let _ = (pid, recovery);
        Box::pin(async { None })
    }

    /// Connection state recovery: the client of session `pid` came back
    /// while its socket may still look connected somewhere (its old
    /// transport died silently, or a node relaying it left): closes that
    /// socket's connection, wherever it is, so that its session is kept;
    /// resolves to whether taking the session again may find it (a socket
    /// was found, or a shared store was flushed). The default looks on
    /// this node.
    fn evict_session(&self, pid: Sid) -> BoxFuture<bool> {
        let _ = pid;
        Box::pin(async { false })
    }

    /// Connection state recovery: the packets a socket in `rooms` missed
    /// since `offset` (at most `recovery.max_replay_bytes`), read after the
    /// socket rejoined its rooms, so that nothing published meanwhile falls
    /// between this list and live delivery. `pid` names the node that kept
    /// the session. An unknown offset costs a bounded number of round trips
    /// and bounded memory.
    fn missed_packets(
        &self,
        pid: Sid,
        offset: SmolStr,
        rooms: Vec<Room>,
        recovery: RecoveryConfig,
    ) -> BoxFuture<Result<Vec<Packet>, Unrecoverable>> {
        let _ = (pid, offset, rooms, recovery);
        Box::pin(async { Err(Unrecoverable::UnknownOffset) })
    }

    /// Connection state recovery: sessions kept in this node's memory for
    /// other nodes to take (a cluster without a session store). A draining
    /// node waits for them. The default keeps none that others could take.
    fn kept_sessions(&self) -> usize {
        0
    }

    /// What the adapter holds in memory beyond its rooms; `keep` is how
    /// long recovery data lives (what is older is dropped here).
    fn held(&self, keep: Duration) -> AdapterHeld {
        let _ = keep;
        AdapterHeld::default()
    }

    /// Leaves the cluster.
    fn close(&self) -> BoxFuture<()>;
}

/// Builds the adapter of each namespace.
pub trait AdapterFactory: Send + Sync + 'static {
    /// The adapter of a new namespace, given the namespace's room index on
    /// this node (`local.name()` is the namespace's name). A cluster adapter
    /// delivers locally through `local` and forwards to other nodes.
    fn create(&self, local: Arc<LocalAdapter>) -> Arc<dyn Adapter>;
}

impl<F> AdapterFactory for F
where
    F: Fn(Arc<LocalAdapter>) -> Arc<dyn Adapter> + Send + Sync + 'static,
{
    fn create(&self, local: Arc<LocalAdapter>) -> Arc<dyn Adapter> {
        self(local)
    }
}

/// The default factory: the namespace's [`LocalAdapter`] alone.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalAdapterFactory;

impl AdapterFactory for LocalAdapterFactory {
    fn create(&self, local: Arc<LocalAdapter>) -> Arc<dyn Adapter> {
        local
    }
}
