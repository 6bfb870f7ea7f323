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
    /// Most bytes of missed packets a recovery replays (about). A client
    /// that missed more is not recovered: it gets a fresh session, as when
    /// its offset is too old, and nothing past this is ever read into
    /// memory. At most half the client's outgoing budget is used, so that
    /// live packets still fit behind the replay. Default 512 KiB.
    pub max_replay_bytes: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_replay_bytes: 512 * 1024,
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
    /// About how many bytes replaying this packet costs (for the replay cap).
    pub fn replay_bytes(&self) -> usize {
        match &self.packet.kind {
            crate::protocol::PacketKind::Event { name, args, .. } => {
                name.len() + args.iter().map(Value::held_bytes).sum::<usize>()
            }
            _ => 16,
        }
    }

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

/// Why the missed packets of a session cannot be given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unrecoverable {
    /// The offset is not kept (too old, or never was).
    UnknownOffset,
    /// More was missed than a replay may carry (`max_replay_bytes`).
    TooMuch,
}

/// Collects missed packets up to a byte cap.
#[derive(Debug)]
pub struct Replay {
    rooms: Vec<Room>,
    max_bytes: usize,
    bytes: usize,
    missed: Vec<Packet>,
}

impl Replay {
    /// A replay for a socket in `rooms`, of at most `max_bytes`.
    pub fn new(rooms: &[Room], max_bytes: usize) -> Self {
        Replay {
            rooms: rooms.to_vec(),
            max_bytes,
            bytes: 0,
            missed: Vec::new(),
        }
    }

    /// Adds a packet sent after the offset, if it was for the socket.
    pub fn offer(&mut self, packet: &LoggedPacket) -> Result<(), Unrecoverable> {
        if !packet.was_for(&self.rooms) {
            return Ok(());
        }
        self.bytes = self.bytes.saturating_add(packet.replay_bytes());
        if self.bytes > self.max_bytes {
            return Err(Unrecoverable::TooMuch);
        }
        self.missed.push(packet.packet.clone());
        Ok(())
    }

    /// The missed packets, in order.
    pub fn finish(self) -> Vec<Packet> {
        self.missed
    }
}

/// The packets after `offset` that a socket in `rooms` missed, at most
/// `max_bytes` of them; an error if `offset` is not among them (too old:
/// the client cannot be caught up) or more was missed.
pub fn missed_after<'a>(
    packets: impl IntoIterator<Item = &'a LoggedPacket>,
    offset: &str,
    rooms: &[Room],
    max_bytes: usize,
) -> Result<Vec<Packet>, Unrecoverable> {
    let mut packets = packets.into_iter();
    packets
        .by_ref()
        .find(|p| p.offset == offset)
        .ok_or(Unrecoverable::UnknownOffset)?;
    let mut replay = Replay::new(rooms, max_bytes);
    for packet in packets {
        replay.offer(packet)?;
    }
    Ok(replay.finish())
}

/// A new offset, unique across processes: the time in milliseconds since
/// the Unix epoch (hex), then a random prefix per process and a counter.
/// Stores find an offset near its time instead of reading everything kept.
pub fn new_offset() -> SmolStr {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| Sid::random().as_str()[..8].to_owned());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    SmolStr::new(format!("{:x}-{prefix}{n:x}", unix_millis()))
}

/// When an offset was made, in milliseconds since the Unix epoch; `None`
/// for a string that is not an offset of [`new_offset`].
pub fn offset_millis(offset: &str) -> Option<u64> {
    let (time, rest) = offset.split_once('-')?;
    if time.is_empty() || time.len() > 12 || rest.is_empty() {
        return None;
    }
    u64::from_str_radix(time, 16).ok()
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How far apart the clocks of the node that made an offset and of the
/// node or store looking for it may be.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5);

/// Whether an offset can still be kept by a store that keeps `keep`: it is
/// an offset, and not older than the window (with the clock skew allowed).
pub fn offset_in_window(offset: &str, keep: Duration) -> bool {
    let Some(made) = offset_millis(offset) else {
        return false;
    };
    let window = (keep + CLOCK_SKEW).as_millis() as u64;
    let now = unix_millis();
    made + window >= now && made <= now + CLOCK_SKEW.as_millis() as u64
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

    fn prune_sessions(&mut self, keep: Duration) {
        let now = Instant::now();
        self.sessions
            .retain(|_, (at, _)| now.duration_since(*at) <= keep);
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
        inner.prune_sessions(keep);
        inner
            .sessions
            .insert(session.pid.clone(), (Instant::now(), session));
    }

    /// How many packets and sessions are kept, once those older than
    /// `keep` are dropped (without traffic nothing else drops them).
    pub fn entries(&self, keep: Duration) -> usize {
        let mut inner = self.inner.lock();
        inner.prune(keep);
        inner.prune_sessions(keep);
        inner.packets.len() + inner.sessions.len()
    }

    /// How many sessions are kept.
    pub fn session_count(&self) -> usize {
        self.inner.lock().sessions.len()
    }

    /// Whether a session is kept.
    pub fn has_session(&self, pid: &str) -> bool {
        self.inner.lock().sessions.contains_key(pid)
    }

    /// Forgets a session (it expired); returns it.
    pub fn forget(&self, pid: &str) -> Option<SessionState> {
        self.inner.lock().sessions.remove(pid).map(|(_, s)| s)
    }

    /// Takes a session (it can be taken once); `None` when it is unknown or
    /// older than `keep`.
    pub fn take(&self, pid: &str, keep: Duration) -> Option<SessionState> {
        let (at, session) = self.inner.lock().sessions.remove(pid)?;
        (at.elapsed() <= keep).then_some(session)
    }

    /// The packets after `offset` that a socket in `rooms` missed, at most
    /// `max_bytes` of them; an error when the offset is not kept (too old)
    /// or more was missed.
    pub fn missed(
        &self,
        offset: &str,
        rooms: &[Room],
        keep: Duration,
        max_bytes: usize,
    ) -> Result<Vec<Packet>, Unrecoverable> {
        if !offset_in_window(offset, keep) {
            return Err(Unrecoverable::UnknownOffset);
        }
        let mut inner = self.inner.lock();
        inner.prune(keep);
        missed_after(
            inner.packets.iter().map(|(_, p)| p),
            offset,
            rooms,
            max_bytes,
        )
    }

    /// Takes a session and the packets its socket missed since `offset`
    /// (at most `max_bytes` of them). `None` when the session is unknown or
    /// expired, the offset too old, or more was missed (the session is then
    /// gone too: the client starts afresh).
    pub fn restore(
        &self,
        pid: &str,
        offset: &str,
        keep: Duration,
        max_bytes: usize,
    ) -> Option<RecoveredSession> {
        let session = self.take(pid, keep)?;
        match self.missed(offset, &session.rooms, keep, max_bytes) {
            Ok(missed) => Some(RecoveredSession { session, missed }),
            Err(Unrecoverable::TooMuch) => {
                crate::refused!(crate::limits::Refused::RecoveryReplay, sid = %session.sid, max = max_bytes, "too much missed to replay: not recovered");
                None
            }
            Err(Unrecoverable::UnknownOffset) => None,
        }
    }

    /// How many packets are kept.
    pub fn packet_count(&self) -> usize {
        self.inner.lock().packets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    fn offset(n: u32) -> String {
        static BASE: OnceLock<u64> = OnceLock::new();
        format!("{:x}-test{n}", BASE.get_or_init(unix_millis))
    }

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
        let o: Vec<String> = (0..7).map(offset).collect();
        for p in [
            logged(&o[1], &[], &[]),
            logged(&o[2], &["a"], &[]),
            logged(&o[3], &["b"], &[]),
            logged(&o[4], &[], &["a"]),
            logged(&o[5], &["s1"], &[]),
            logged(&o[6], &[], &[]),
        ] {
            log.record(p, keep);
        }
        log.persist(session("p1", &["s1", "a"]), keep);
        let restored = log.restore("p1", &o[2], keep, MAX).expect("restored");
        assert_eq!(offsets(&restored.missed), [o[5].clone(), o[6].clone()]);
        assert!(
            log.restore("p1", &o[2], keep, MAX).is_none(),
            "a session is restored once"
        );
    }

    #[test]
    fn refuses_unknown_sessions_and_offsets() {
        let log = RecoveryLog::default();
        let keep = Duration::from_secs(60);
        log.record(logged(&offset(1), &[], &[]), keep);
        log.persist(session("p1", &["s1"]), keep);
        assert!(log.restore("nope", &offset(1), keep, MAX).is_none());
        assert!(log.restore("p1", "unknown-offset", keep, MAX).is_none());
        assert!(
            !log.has_session("p1"),
            "a failed restore forgets the session"
        );
    }

    #[test]
    fn refuses_to_replay_more_than_the_cap() {
        let log = RecoveryLog::default();
        let keep = Duration::from_secs(60);
        log.record(logged(&offset(0), &[], &[]), keep);
        for n in 1..=100 {
            log.record(logged(&offset(n), &[], &[]), keep);
        }
        log.persist(session("p1", &["s1"]), keep);
        log.persist(session("p2", &["s1"]), keep);
        let all: usize = (1..=100)
            .map(|n| logged(&offset(n), &[], &[]).replay_bytes())
            .sum();
        assert!(log.restore("p1", &offset(0), keep, all - 1).is_none());
        let restored = log.restore("p2", &offset(0), keep, all).unwrap();
        assert_eq!(restored.missed.len(), 100);
    }

    #[test]
    fn forgets_what_is_older_than_the_window() {
        let log = RecoveryLog::default();
        log.record(logged(&offset(1), &[], &[]), Duration::from_secs(60));
        log.persist(session("p1", &["s1"]), Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(20));
        log.record(logged(&offset(2), &[], &[]), Duration::from_millis(5));
        assert_eq!(log.packet_count(), 1, "offset 1 pruned");
        assert!(
            log.restore("p1", &offset(2), Duration::from_millis(5), MAX)
                .is_none(),
            "expired"
        );
    }

    #[test]
    fn offsets_carry_their_time() {
        let before = unix_millis();
        let o = new_offset();
        let made = offset_millis(&o).unwrap();
        assert!(made >= before && made <= unix_millis(), "{o}");
        assert!(offset_in_window(&o, Duration::from_secs(1)));
        let old = format!("{:x}-x1", before - 60_000);
        assert!(!offset_in_window(&old, Duration::from_secs(10)));
        assert!(offset_in_window(&old, Duration::from_secs(120)));
        for bogus in ["", "-", "zz-1", "nope", "1-", "1234567890abcd-1"] {
            assert!(
                !offset_in_window(bogus, Duration::from_secs(120)),
                "{bogus}"
            );
        }
        let future = format!("{:x}-x1", before + 3_600_000);
        assert!(!offset_in_window(&future, Duration::from_secs(120)));
    }

    #[test]
    fn offsets_are_unique() {
        let a = new_offset();
        let b = new_offset();
        assert_ne!(a, b);
        assert!(a.len() >= 9);
    }
}
