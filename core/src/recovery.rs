//! Connection state recovery (Socket.IO 4.6's `connectionStateRecovery`).
//!
//! With recovery on, a socket gets a private session id (`pid`) in its
//! CONNECT reply, and every event sent to it without an acknowledgement and
//! not volatile carries an offset as its last argument. When the connection
//! is lost (not ended on purpose), the socket's session — id, rooms, data —
//! is kept for [`RecoveryConfig::max_disconnection_duration`]. A client that
//! reconnects with `{pid, offset}` gets its socket back, with every packet
//! it missed since `offset`, and `recovered` set.
//!
//! Adapters keep the sessions and packets: [`RecoveryLog`] is the in-memory
//! keeper the [`LocalAdapter`](crate::LocalAdapter) uses; cluster adapters
//! may keep them in a broker instead, so that another node can restore them.

use crate::adapter::{BroadcastOptions, Room};
use crate::protocol::Packet;
use crate::sid::Sid;
use crate::value::Value;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use smol_str::SmolStr;
use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Recovery settings, with Node's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a lost session can be recovered. Default 2 minutes.
    pub max_disconnection_duration: Duration,
    /// Whether a recovered socket skips the namespace's middlewares. Default true.
    pub skip_middlewares: bool,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
        }
    }
}

/// What a socket that lost its connection leaves behind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    /// The socket id, given back on recovery.
    pub sid: Sid,
    /// The private session id the client presents.
    pub pid: Sid,
    /// The socket's rooms, its own included.
    pub rooms: Vec<Room>,
    /// The socket's data.
    #[serde(default)]
    pub data: Value,
    /// The socket's user (presence), when named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<SmolStr>,
}

/// A packet kept for sockets that may come back: an event whose last
/// argument is `offset`, and whom it was for.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedPacket {
    /// The packet's offset.
    pub offset: SmolStr,
    /// The event, its offset as the last argument.
    pub packet: Packet,
    /// Its targeting.
    pub opts: BroadcastOptions,
}

impl LoggedPacket {
    /// Whether a socket in `rooms` was a recipient (Node's rule: targeted
    /// by a room, or by none, and in no excepted room).
    pub fn was_for(&self, rooms: &[Room]) -> bool {
        let included =
            self.opts.rooms.is_empty() || rooms.iter().any(|r| self.opts.rooms.contains(r));
        included && !rooms.iter().any(|r| self.opts.except.contains(r))
    }
}

/// A session given back, with the packets its socket missed, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct RecoveredSession {
    /// The session.
    pub session: SessionState,
    /// The events the socket missed, each ending with its offset.
    pub missed: Vec<Packet>,
}

/// The packets after `offset` that a socket in `rooms` missed; `None` if
/// `offset` is not among them (too old: the client cannot be caught up).
pub fn missed_after<'a>(
    packets: impl IntoIterator<Item = &'a LoggedPacket>,
    offset: &str,
    rooms: &[Room],
) -> Option<Vec<Packet>> {
    let mut packets = packets.into_iter();
    packets.by_ref().find(|p| p.offset == offset)?;
    Some(
        packets
            .filter(|p| p.was_for(rooms))
            .map(|p| p.packet.clone())
            .collect(),
    )
}

/// A new offset, unique across processes: a random prefix per process and
/// a counter.
pub fn new_offset() -> SmolStr {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| Sid::random().as_str()[..8].to_owned());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    SmolStr::new(format!("{prefix}{n:x}"))
}

/// Sessions and packets kept in memory, each for a limited time.
#[derive(Default)]
pub struct RecoveryLog {
    inner: Mutex<LogInner>,
}

#[derive(Default)]
struct LogInner {
    packets: VecDeque<(Instant, LoggedPacket)>,
    sessions: HashMap<Sid, (Instant, SessionState)>,
}

impl LogInner {
    fn prune(&mut self, keep: Duration) {
        let now = Instant::now();
        while self
            .packets
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > keep)
        {
            self.packets.pop_front();
        }
    }
}

impl RecoveryLog {
    /// Keeps a packet for `keep`.
    pub fn record(&self, packet: LoggedPacket, keep: Duration) {
        let mut inner = self.inner.lock();
        inner.prune(keep);
        inner.packets.push_back((Instant::now(), packet));
    }

    /// Keeps a session for `keep`.
    pub fn persist(&self, session: SessionState, keep: Duration) {
        let mut inner = self.inner.lock();
        let now = Instant::now();
        inner
            .sessions
            .retain(|_, (at, _)| now.duration_since(*at) <= keep);
        inner.sessions.insert(session.pid.clone(), (now, session));
    }

    /// Whether a session is kept.
    pub fn has_session(&self, pid: &str) -> bool {
        self.inner.lock().sessions.contains_key(pid)
    }

    /// Forgets a session (it expired); returns it.
    pub fn forget(&self, pid: &str) -> Option<SessionState> {
        self.inner.lock().sessions.remove(pid).map(|(_, s)| s)
    }

    /// Takes a session and the packets its socket missed since `offset`.
    /// `None` when the session is unknown or expired, or the offset too old
    /// (the session is then gone too: the client starts afresh).
    pub fn restore(&self, pid: &str, offset: &str, keep: Duration) -> Option<RecoveredSession> {
        let mut inner = self.inner.lock();
        inner.prune(keep);
        let (at, session) = inner.sessions.remove(pid)?;
        if at.elapsed() > keep {
            return None;
        }
        let missed = missed_after(inner.packets.iter().map(|(_, p)| p), offset, &session.rooms)?;
        Some(RecoveredSession { session, missed })
    }

    /// How many packets are kept.
    pub fn packet_count(&self) -> usize {
        self.inner.lock().packets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(offset: &str, rooms: &[&str], except: &[&str]) -> LoggedPacket {
        LoggedPacket {
            offset: offset.into(),
            packet: Packet::event("/", "e", vec![Value::from(offset)]),
            opts: BroadcastOptions {
                rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
                except: except.iter().map(|r| Room::from(*r)).collect(),
                ..Default::default()
            },
        }
    }

    fn session(pid: &str, rooms: &[&str]) -> SessionState {
        SessionState {
            sid: "s1".into(),
            pid: pid.into(),
            rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
            data: Value::Null,
            user: None,
        }
    }

    fn offsets(missed: &[Packet]) -> Vec<String> {
        missed
            .iter()
            .map(|p| match &p.kind {
                crate::protocol::PacketKind::Event { args, .. } => {
                    args[0].as_str().unwrap_or_default().to_owned()
                }
                _ => String::new(),
            })
            .collect()
    }

    #[test]
    fn gives_back_the_packets_after_the_offset_for_the_sessions_rooms() {
        let log = RecoveryLog::default();
        let keep = Duration::from_secs(60);
        for p in [
            logged("o1", &[], &[]),
            logged("o2", &["a"], &[]),
            logged("o3", &["b"], &[]),
            logged("o4", &[], &["a"]),
            logged("o5", &["s1"], &[]),
            logged("o6", &[], &[]),
        ] {
            log.record(p, keep);
        }
        log.persist(session("p1", &["s1", "a"]), keep);
        let restored = log.restore("p1", "o2", keep).expect("restored");
        assert_eq!(offsets(&restored.missed), ["o5", "o6"]);
        assert!(
            log.restore("p1", "o2", keep).is_none(),
            "a session is restored once"
        );
    }

    #[test]
    fn refuses_unknown_sessions_and_offsets() {
        let log = RecoveryLog::default();
        let keep = Duration::from_secs(60);
        log.record(logged("o1", &[], &[]), keep);
        log.persist(session("p1", &["s1"]), keep);
        assert!(log.restore("nope", "o1", keep).is_none());
        assert!(log.restore("p1", "unknown-offset", keep).is_none());
        assert!(
            !log.has_session("p1"),
            "a failed restore forgets the session"
        );
    }

    #[test]
    fn forgets_what_is_older_than_the_window() {
        let log = RecoveryLog::default();
        log.record(logged("o1", &[], &[]), Duration::from_secs(60));
        log.persist(session("p1", &["s1"]), Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(20));
        log.record(logged("o2", &[], &[]), Duration::from_millis(5));
        assert_eq!(log.packet_count(), 1, "o1 pruned");
        assert!(
            log.restore("p1", "o2", Duration::from_millis(5)).is_none(),
            "expired"
        );
    }

    #[test]
    fn offsets_are_unique() {
        let a = new_offset();
        let b = new_offset();
        assert_ne!(a, b);
        assert!(a.len() >= 9);
    }
}
