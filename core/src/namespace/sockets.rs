//! The namespace's sockets on this node: its room index holds their
//! handles; connecting and leaving sockets are registered there.

use super::{Namespace, NamespaceStats};
use crate::adapter::MemberHandle;
use crate::sid::Sid;
use crate::socket::Socket;
use std::any::Any;
use std::sync::Arc;

/// The socket a room index handle stands for (a namespace registers
/// nothing else there).
fn as_socket(member: MemberHandle) -> Option<Socket> {
    let any: Arc<dyn Any + Send + Sync> = member;
    any.downcast::<Socket>()
        .ok()
        .map(|socket| Socket::clone(&socket))
}

impl Namespace {
    /// A socket of this node, by id.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.0.local.member(id).and_then(as_socket)
    }

    /// The sockets of this node.
    pub fn sockets(&self) -> Vec<Socket> {
        self.0
            .local
            .members()
            .into_iter()
            .filter_map(as_socket)
            .collect()
    }

    /// How many sockets this node has in the namespace.
    pub fn socket_count(&self) -> usize {
        self.0.local.member_count()
    }

    /// What the namespace holds on this node (for metrics, and for soaks
    /// that check it all goes once every client is gone). Walks the
    /// sockets: for a scrape, not for a hot path.
    pub fn stats(&self) -> NamespaceStats {
        let sockets = self.sockets();
        let pending_acks = sockets.iter().map(Socket::pending_acks).sum();
        let keep = self
            .recovery()
            .map_or(std::time::Duration::ZERO, |r| r.max_disconnection_duration);
        let held = self.0.adapter.held(keep);
        NamespaceStats {
            sockets: sockets.len(),
            rooms: self.0.adapter.rooms().len(),
            pending_acks,
            recovery_entries: held.recovery_entries,
            pending_requests: held.pending_requests,
        }
    }

    /// A socket connected: broadcasts reach it through the room index.
    pub(crate) fn insert_socket(&self, socket: Socket) {
        if let Some(pid) = socket.pid() {
            self.0.by_pid.write().insert(pid.clone(), socket.clone());
        }
        let id = socket.id().clone();
        self.0.local.insert_member(&id, Arc::new(socket));
    }

    /// A socket left.
    pub(crate) fn remove_socket(&self, id: &Sid) {
        let Some(member) = self.0.local.member(id) else {
            return;
        };
        self.0.local.remove_member(id, &member);
        let removed = as_socket(member);
        if let Some(pid) = removed.as_ref().and_then(Socket::pid) {
            let mut by_pid = self.0.by_pid.write();
            if by_pid.get(pid) == removed.as_ref() {
                by_pid.remove(pid);
            }
        }
    }

    /// Removes a socket by id if it is this very socket (a recovered socket
    /// that failed must not remove one that took its id meanwhile).
    pub(crate) fn remove_socket_if(&self, id: &Sid, socket: &Socket) {
        if self.socket(id).as_ref() == Some(socket) {
            self.remove_socket(id);
        }
    }

    /// Connection state recovery: the client of the session `pid` came back
    /// while its socket here still looks connected (its old transport died
    /// silently, or was relayed by a node that left). Closes that socket's
    /// connection, which keeps its session for recovery; returns whether
    /// there was one.
    pub fn evict(&self, pid: &str) -> bool {
        let socket = self.0.by_pid.read().get(pid).cloned();
        match socket {
            Some(socket) if socket.connected() => {
                tracing::debug!(sid = %socket.id(), ns = %self.0.name, "the client came back: its old connection is closed");
                socket.close_connection();
                true
            }
            _ => false,
        }
    }
}
