//! What the Admin UI hears about: the server's [`Observer`], turned into
//! the UI's events (`socket_connected`, `room_joined`, `event_received`…)
//! emitted on the admin namespace, which the adapter carries to every
//! node's UI clients.
//!
//! Hooks run on the server's hot paths, so they only count, or hand a
//! small notice to a bounded queue that one task turns into emits; and
//! nothing is built or sent while no UI is connected anywhere in the
//! cluster (`watching`, kept by the admin namespace's presence). Events
//! received and sent by sockets — one notice per packet per socket — go
//! to the UI at most `events_per_second` per node; the rest are counted as
//! refused (`admin_events`), as are notices that find the queue full.

use super::serialize;
use parking_lot::Mutex;
use smol_str::SmolStr;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use switchyard_core::engine::{CloseReason, TransportKind};
use switchyard_core::limits::{Rate, Refused, TokenBucket};
use switchyard_core::protocol::{Packet, PacketKind};
use switchyard_core::{DisconnectReason, Observer, Room, Sid, Socket, Value, WeakNamespace};
use tokio::sync::mpsc;

/// Notices waiting to be emitted, at most.
const QUEUE: usize = 4096;

/// Engine.IO sessions opened and closed (by reason) since the last sample.
#[derive(Default)]
pub(crate) struct Counts {
    pub opened: AtomicU64,
    pub closed: Mutex<HashMap<&'static str, u64>>,
}

/// Something the UI is told about.
enum Notice {
    Connected(Socket, u64),
    Upgraded(Socket),
    Disconnected {
        nsp: SmolStr,
        id: Sid,
        reason: &'static str,
        at: u64,
    },
    Room {
        event: &'static str,
        nsp: SmolStr,
        room: Room,
        id: Sid,
        at: u64,
    },
    Event {
        event: &'static str,
        nsp: SmolStr,
        id: Sid,
        args: Vec<Value>,
        at: u64,
    },
}

/// The observer the admin installs.
pub(crate) struct Watch {
    /// Whether a UI is connected to any node.
    pub watching: Arc<AtomicBool>,
    pub counts: Arc<Counts>,
    /// Socket events (not only counts) are sent: development mode.
    all_events: bool,
    admin_ns: SmolStr,
    queue: mpsc::Sender<Notice>,
    events: Mutex<TokenBucket>,
    events_rate: Rate,
}

impl Watch {
    /// The observer, and the task emitting its notices on `admin`.
    pub(crate) fn start(
        admin: WeakNamespace,
        admin_ns: SmolStr,
        all_events: bool,
        events_per_second: u32,
    ) -> Watch {
        let (queue, notices) = mpsc::channel(QUEUE);
        tokio::spawn(emit_notices(admin, notices));
        let events_rate = Rate::new(f64::from(events_per_second), events_per_second.max(1));
        Watch {
            watching: Arc::new(AtomicBool::new(false)),
            counts: Arc::new(Counts::default()),
            all_events,
            admin_ns,
            queue,
            events: Mutex::new(TokenBucket::new(events_rate)),
            events_rate,
        }
    }

    fn wants(&self) -> bool {
        self.all_events && self.watching.load(Ordering::Relaxed)
    }

    fn send(&self, notice: Notice) {
        if self.queue.try_send(notice).is_err() {
            switchyard_core::refused!(
                Refused::AdminEvents,
                "Admin UI events queue full: events not shown"
            );
        }
    }

    fn room(&self, event: &'static str, ns: &SmolStr, room: &Room, sid: &Sid) {
        if self.wants() {
            self.send(Notice::Room {
                event,
                nsp: ns.clone(),
                room: room.clone(),
                id: sid.clone(),
                at: now_ms(),
            });
        }
    }

    fn event(&self, event: &'static str, socket: &Socket, args: Vec<Value>) {
        if socket.ns().name() == &self.admin_ns {
            return;
        }
        if !self.events.lock().take(self.events_rate) {
            switchyard_core::refused!(
                Refused::AdminEvents,
                "socket events faster than the Admin UI is sent: not shown"
            );
            return;
        }
        self.send(Notice::Event {
            event,
            nsp: socket.ns().name().clone(),
            id: socket.id().clone(),
            args,
            at: now_ms(),
        });
    }
}

impl Observer for Watch {
    fn session_opened(&self, _transport: TransportKind) {
        self.counts.opened.fetch_add(1, Ordering::Relaxed);
    }

    fn session_closed(&self, reason: CloseReason) {
        *self
            .counts
            .closed
            .lock()
            .entry(reason.as_str())
            .or_default() += 1;
    }

    fn socket_connected(&self, socket: &Socket) {
        if self.wants() {
            self.send(Notice::Connected(socket.clone(), now_ms()));
        }
    }

    fn socket_upgraded(&self, socket: &Socket) {
        if self.wants() {
            self.send(Notice::Upgraded(socket.clone()));
        }
    }

    fn socket_disconnected(&self, socket: &Socket, reason: DisconnectReason) {
        if self.wants() {
            self.send(Notice::Disconnected {
                nsp: socket.ns().name().clone(),
                id: socket.id().clone(),
                reason: reason.as_str(),
                at: now_ms(),
            });
        }
    }

    fn room_joined(&self, ns: &SmolStr, room: &Room, sid: &Sid) {
        self.room("room_joined", ns, room, sid);
    }

    fn room_left(&self, ns: &SmolStr, room: &Room, sid: &Sid) {
        self.room("room_left", ns, room, sid);
    }

    fn event_received(&self, socket: &Socket, event: &str, args: &[Value]) {
        if self.wants() {
            let mut all = Vec::with_capacity(args.len() + 1);
            all.push(Value::from(event));
            all.extend(args.iter().cloned());
            self.event("event_received", socket, all);
        }
    }

    fn event_sent(&self, socket: &Socket, packet: &Packet) {
        if !self.wants() {
            return;
        }
        if let PacketKind::Event { name, args, .. } = &packet.kind {
            let mut all = Vec::with_capacity(args.len() + 1);
            all.push(Value::from(name.as_str()));
            all.extend(args.iter().cloned());
            self.event("event_sent", socket, all);
        }
    }
}

/// Turns notices into emits on the admin namespace, until it is gone.
async fn emit_notices(admin: WeakNamespace, mut notices: mpsc::Receiver<Notice>) {
    while let Some(notice) = notices.recv().await {
        let Some(ns) = admin.upgrade() else { return };
        let (event, args) = match notice {
            Notice::Connected(socket, at) => (
                "socket_connected",
                vec![serialize::local_socket(&socket), date(at)],
            ),
            Notice::Upgraded(socket) => (
                "socket_updated",
                vec![switchyard_core::object! {
                    "id" => socket.id().as_str(),
                    "nsp" => socket.ns().name().as_str(),
                    "transport" => socket.transport().as_str(),
                }],
            ),
            Notice::Disconnected {
                nsp,
                id,
                reason,
                at,
            } => (
                "socket_disconnected",
                vec![
                    Value::from(nsp.as_str()),
                    Value::from(id.as_str()),
                    Value::from(reason),
                    date(at),
                ],
            ),
            Notice::Room {
                event,
                nsp,
                room,
                id,
                at,
            } => (
                event,
                vec![
                    Value::from(nsp.as_str()),
                    Value::from(room.as_str()),
                    Value::from(id.as_str()),
                    date(at),
                ],
            ),
            Notice::Event {
                event,
                nsp,
                id,
                args,
                at,
            } => (
                event,
                vec![
                    Value::from(nsp.as_str()),
                    Value::from(id.as_str()),
                    Value::Array(args),
                    date(at),
                ],
            ),
        };
        if let Err(e) = ns.emit_args(event, args) {
            tracing::debug!(event, error = %e, "Admin UI event not sent");
        }
    }
}

/// A time as the UI reads it (a JavaScript `Date` through JSON).
pub(crate) fn date(unix_ms: u64) -> Value {
    Value::from(switchyard_core::value::iso_string(
        i64::try_from(unix_ms).unwrap_or(i64::MAX),
    ))
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
