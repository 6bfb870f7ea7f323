//! A socket's life: connecting, the packets its client sends, and leaving
//! (by either side).

use super::handlers::Handlers;
use super::hold;
use super::reason::DisconnectReason;
use super::{CLOSED, CONNECTED, Socket};
use crate::handler::{Ack, Event};
use crate::limits::Refused;
use crate::protocol::{Packet, PacketKind};
use crate::recovery::{SessionState, Unsent};
use crate::sid::Sid;
use crate::value::Value;
use crate::vocab::Room;
use std::sync::atomic::Ordering;

impl Socket {
    /// Disconnects from the namespace (the client hears a DISCONNECT). With
    /// `close`, the whole connection closes and every namespace of the
    /// client disconnects.
    pub fn disconnect(&self, close: bool) {
        if close {
            self.0.session.disconnect_all();
        } else if self.connected() {
            let packet = Packet {
                ns: self.0.ns.name().clone(),
                kind: PacketKind::Disconnect,
            };
            if let Some(encoded) = self.0.ns.encode(&packet)
                && let hold::Kept::Deliver = self.keep(&encoded, false, &packet)
            {
                self.push(&encoded, false);
            }
            self.close(DisconnectReason::ServerNamespaceDisconnect);
        }
    }

    /// What its session leaves behind when its connection is lost.
    fn session_state(&self, pid: &Sid) -> SessionState {
        SessionState {
            sid: self.0.id.clone(),
            pid: pid.clone(),
            rooms: self.rooms(),
            data: self.data_value(),
            user: self.user(),
        }
    }

    /// A restored socket whose client left again before it was connected:
    /// its session is kept again, with the replay it never got (`unsent`),
    /// so that the client can come back from the same offset; then the
    /// socket is forgotten.
    pub(crate) fn give_back(&self, unsent: Unsent) {
        if let (Some(recovery), Some(pid)) = (self.0.ns.recovery(), &self.0.pid) {
            self.0.ns.adapter().return_session(
                self.session_state(pid),
                unsent,
                recovery.max_disconnection_duration,
            );
        }
        self.abandon();
    }

    /// Forgets a socket that never connected (refused, or its client left).
    pub(crate) fn abandon(&self) {
        self.0.state.store(CLOSED, Ordering::Release);
        self.0.hold.abandon();
        self.0.ns.adapter().del_all(&self.0.id);
        self.0.ns.remove_socket_if(&self.0.id, self);
    }

    pub(crate) fn set_connected(&self) {
        self.0.state.store(CONNECTED, Ordering::Release);
        let adapter = self.0.ns.adapter();
        // Its own room: other nodes reach it by broadcast; no need to wait.
        drop(adapter.add_all(&self.0.id, &[Room::new(self.0.id.as_str())]));
        if let Some(user) = self.user() {
            adapter.presence_change(&user, true);
        }
    }

    /// Handles a packet for this namespace (not CONNECT).
    pub(crate) fn on_packet(&self, packet: Packet) {
        match packet.kind {
            PacketKind::Event { name, args, ack } => self.dispatch(name, args, ack),
            PacketKind::Ack { id, args } => match self.0.acks.lock().remove(&id) {
                Some(sink) => sink.resolve(args),
                None => tracing::trace!(sid = %self.0.id, id, "ack for an unknown or expired id"),
            },
            PacketKind::Disconnect => self.close(DisconnectReason::ClientNamespaceDisconnect),
            PacketKind::Connect(_) | PacketKind::ConnectError(_) => {}
        }
    }

    fn dispatch(&self, name: String, args: Vec<Value>, ack: Option<u64>) {
        if !self.connected() {
            return;
        }
        if let Some((rate, bucket)) = self.0.event_rate.as_deref()
            && !bucket.lock().take(*rate)
        {
            crate::refused!(Refused::EventRate, sid = %self.0.id, ns = %self.0.ns.name(), "events too fast: socket disconnected");
            self.disconnect(false);
            return;
        }
        if let Some(observer) = self.0.ns.observer() {
            observer.event_received(self, &name, &args);
        }
        let called = self.0.handlers.read().for_event(&name);
        if called.is_empty() {
            tracing::trace!(sid = %self.0.id, event = %name, "no handler for event");
            return;
        }
        let mut event = Some(Event {
            name,
            args,
            ack: ack.map(|id| Ack::new(self.clone(), id)),
        });
        let mut handlers = called.iter().peekable();
        while let Some(h) = handlers.next() {
            // The last handler takes the event; earlier ones get copies.
            let event = if handlers.peek().is_some() {
                event.clone()
            } else {
                event.take()
            };
            if let Some(event) = event {
                crate::inline::run(h.call(self.clone(), event));
            }
        }
    }

    /// Leaves the namespace: handlers hear `reason`, rooms are left, pending
    /// acks fail. Runs once.
    pub(crate) fn close(&self, reason: DisconnectReason) {
        if self
            .0
            .state
            .compare_exchange(CONNECTED, CLOSED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let (disconnecting, disconnect) = self.0.handlers.read().for_disconnect();
        for h in disconnecting {
            crate::inline::run(h.call(self.clone(), reason));
        }
        if let (Some(recovery), Some(pid)) = (self.0.ns.recovery(), &self.0.pid)
            && reason.is_recoverable()
            && self.0.offered.load(Ordering::Relaxed)
        {
            self.0
                .ns
                .adapter()
                .persist_session(self.session_state(pid), recovery.max_disconnection_duration);
        }
        self.0.ns.adapter().del_all(&self.0.id);
        if let Some(user) = self.user() {
            self.0.ns.adapter().presence_change(&user, false);
        }
        self.0.ns.remove_socket(&self.0.id);
        self.0.session.forget_socket(self.0.ns.name());
        self.0.acks.lock().clear();
        if let Some(observer) = self.0.ns.observer() {
            observer.socket_disconnected(self, reason);
        }
        for h in disconnect {
            crate::inline::run(h.call(self.clone(), reason));
        }
        // Handlers often capture the socket: drop them to free it.
        *self.0.handlers.write() = Handlers::default();
        tracing::debug!(sid = %self.0.id, ns = %self.0.ns.name(), %reason, "socket disconnected");
    }
}
