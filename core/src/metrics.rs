//! What the server counts, through the `metrics` facade: the application
//! (the `switchyard` node installs a Prometheus recorder) chooses where it
//! goes; with no recorder installed every call is a no-op.
//!
//! Handles are looked up once and kept, so the hot paths cost an atomic add
//! each. Packets and bytes in and out are counted by the engine itself
//! ([`ServerStats`](crate::ServerStats), which the Admin UI reads too); the
//! node reports them under the names below when it is scraped.

use metrics::{Counter, Histogram, counter, histogram};
use std::sync::LazyLock;
use std::time::Duration;

/// Names of the metrics, as Prometheus sees them.
pub mod names {
    /// Engine.IO sessions opened, by transport.
    pub const HANDSHAKES: &str = "switchyard_handshakes_total";
    /// Engine.IO sessions closed, by reason.
    pub const DISCONNECTS: &str = "switchyard_disconnects_total";
    /// Engine.IO packets received from clients.
    pub const PACKETS_RECEIVED: &str = "switchyard_packets_received_total";
    /// Bytes of those packets.
    pub const BYTES_RECEIVED: &str = "switchyard_bytes_received_total";
    /// Packets queued for clients (a binary packet with its attachments is one).
    pub const PACKETS_SENT: &str = "switchyard_packets_sent_total";
    /// Bytes of those packets.
    pub const BYTES_SENT: &str = "switchyard_bytes_sent_total";
    /// Of the packets sent, those written to a WebSocket by the task that
    /// produced them (see `Session::push`).
    pub const PACKETS_WRITTEN_DIRECTLY: &str = "switchyard_packets_written_directly_total";
    /// Broadcasts delivered on this node (each encoded once).
    pub const BROADCASTS: &str = "switchyard_broadcasts_total";
    /// Volatile packets dropped for clients that were not ready.
    pub const VOLATILE_DROPPED: &str = "switchyard_volatile_dropped_total";
    /// Acknowledgements the server waited for, by result (`ok`, `timeout`).
    pub const ACKS: &str = "switchyard_acks_total";
    /// Connection state recovery, by result (`recovered`, `fresh`).
    pub const RECOVERIES: &str = "switchyard_recoveries_total";
    /// Time from a packet's emit (for a broadcast: its emit on this node, or
    /// its arrival from the broker) to the start of its write to the socket.
    pub const OUTGOING_WAIT: &str = "switchyard_outgoing_wait_seconds";
}

pub(crate) struct Hot {
    pub broadcasts: Counter,
    pub volatile_dropped: Counter,
    pub outgoing_wait: Histogram,
}

pub(crate) static HOT: LazyLock<Hot> = LazyLock::new(|| Hot {
    broadcasts: counter!(names::BROADCASTS),
    volatile_dropped: counter!(names::VOLATILE_DROPPED),
    outgoing_wait: histogram!(names::OUTGOING_WAIT),
});

/// Registers every counter with the label values the server uses, at 0,
/// so that a recorder exports them (and rates have a start) before the
/// first event of each kind. Call it once the recorder is installed.
pub fn register() {
    for transport in ["polling", "websocket"] {
        counter!(names::HANDSHAKES, "transport" => transport).increment(0);
    }
    for result in ["ok", "timeout"] {
        counter!(names::ACKS, "result" => result).increment(0);
    }
    for result in ["recovered", "fresh"] {
        counter!(names::RECOVERIES, "result" => result).increment(0);
    }
    HOT.broadcasts.increment(0);
    HOT.volatile_dropped.increment(0);
}

/// A session opened over `transport` (`polling`, `websocket`).
pub(crate) fn handshake(transport: &'static str) {
    counter!(names::HANDSHAKES, "transport" => transport).increment(1);
}

/// A session closed for `reason`.
pub(crate) fn disconnect(reason: &'static str) {
    counter!(names::DISCONNECTS, "reason" => reason).increment(1);
}

/// An acknowledgement arrived (`true`) or timed out.
pub(crate) fn ack(answered: bool) {
    let result = if answered { "ok" } else { "timeout" };
    counter!(names::ACKS, "result" => result).increment(1);
}

/// A recovery attempt ended.
pub(crate) fn recovery(recovered: bool) {
    let result = if recovered { "recovered" } else { "fresh" };
    counter!(names::RECOVERIES, "result" => result).increment(1);
}

/// Packets waited `wait` in a queue before their write began.
pub(crate) fn outgoing_wait(wait: Duration) {
    HOT.outgoing_wait.record(wait.as_secs_f64());
}
