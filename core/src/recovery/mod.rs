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
use crate::protocol::{Packet, PacketKind};
use crate::sid::Sid;
use crate::value::Value;
use serde::{Deserialize, Serialize};
use smol_str::SmolStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
        replay_bytes(&self.packet)
    }

    /// Whether a socket in `rooms` was a recipient (Node's rule: targeted
    /// by a room, or by none, and in no excepted room).
    pub fn was_for(&self, rooms: &[Room]) -> bool {
        let included =
            self.opts.rooms.is_empty() || rooms.iter().any(|r| self.opts.rooms.contains(r));
        included && !rooms.iter().any(|r| self.opts.except.contains(r))
    }
}

/// About how many bytes replaying `packet` costs (for the replay cap).
fn replay_bytes(packet: &Packet) -> usize {
    match &packet.kind {
        PacketKind::Event { name, args, .. } => {
            name.len() + args.iter().map(Value::held_bytes).sum::<usize>()
        }
        _ => 16,
    }
}

/// Whether `packet` carries an offset (what [`offset_of`] would find).
pub(crate) fn has_offset(packet: &Packet) -> bool {
    matches!(
        &packet.kind,
        PacketKind::Event { args, ack: None, .. } if matches!(args.last(), Some(Value::String(_)))
    )
}

/// The offset of a recoverable packet: its last argument.
pub(crate) fn offset_of(packet: &Packet) -> Option<SmolStr> {
    match &packet.kind {
        PacketKind::Event {
            args, ack: None, ..
        } => match args.last() {
            Some(Value::String(offset)) => Some(SmolStr::new(offset)),
            _ => None,
        },
        _ => None,
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

mod log;
#[cfg(test)]
mod tests;
mod unsent;

pub use log::RecoveryLog;
pub use unsent::Unsent;
