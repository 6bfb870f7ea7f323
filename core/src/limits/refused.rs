//! What was refused, and why: a counter per reason and a `warn` line at most
//! every few seconds per reason, so that a flood cannot flood the log.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why a client's request was refused or the client cut off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refused {
    /// Its outgoing data passed `max_client_buffer_bytes` (or the packet cap).
    ClientBuffer,
    /// A packet held more values than `max_elements`.
    PacketElements,
    /// A packet or an HTTP body was malformed.
    Malformed,
    /// A message or body was larger than `max_http_buffer_size`.
    MessageSize,
    /// A socket's handshake data passed `max_handshake_bytes`.
    HandshakeBytes,
    /// A socket sent events faster than `event_rate`.
    EventRate,
    /// A connection sent namespace CONNECTs faster than `connect_rate`.
    ConnectRate,
    /// A connection asked for more than `max_namespaces_per_client`.
    Namespaces,
    /// Dynamic namespaces reached `max_dynamic_namespaces`.
    DynamicNamespaces,
    /// A CONNECT named a namespace that does not exist.
    UnknownNamespace,
    /// A socket would be in more than `max_rooms_per_socket` rooms.
    Rooms,
    /// A room name was longer than `max_room_name_bytes`.
    RoomName,
    /// The node had `max_connections` open connections.
    Connections,
    /// An address opened sessions faster than `session_rate_per_address`.
    SessionRate,
    /// A request head was larger than `max_header_bytes`.
    HeaderBytes,
    /// A request head or body did not arrive within its timeout.
    RequestTimeout,
    /// A recovery would have replayed more than the client's budget.
    RecoveryReplay,
    /// An Admin UI login failed, or came faster than the login rate.
    AdminLogin,
    /// Admin UI events past the rate the UI is sent (not forwarded).
    AdminEvents,
}

const ALL: [Refused; 19] = [
    Refused::ClientBuffer,
    Refused::PacketElements,
    Refused::Malformed,
    Refused::MessageSize,
    Refused::HandshakeBytes,
    Refused::EventRate,
    Refused::ConnectRate,
    Refused::Namespaces,
    Refused::DynamicNamespaces,
    Refused::UnknownNamespace,
    Refused::Rooms,
    Refused::RoomName,
    Refused::Connections,
    Refused::SessionRate,
    Refused::HeaderBytes,
    Refused::RequestTimeout,
    Refused::RecoveryReplay,
    Refused::AdminLogin,
    Refused::AdminEvents,
];

/// At most one `warn` line per reason this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Lets a `warn` line of one kind out at most every few seconds, counting
/// the ones held back. Usable as a `static`.
#[derive(Debug)]
pub struct WarnGate {
    /// Events since the last line.
    unreported: AtomicU64,
    /// When the last line went out, in ms since `epoch()` (+1; 0: never).
    warned_ms: AtomicU64,
}

impl WarnGate {
    /// A gate that lets the first line out.
    pub const fn new() -> Self {
        WarnGate {
            unreported: AtomicU64::new(0),
            warned_ms: AtomicU64::new(0),
        }
    }

    /// Records an event. Returns how many were held back since the last
    /// line when a line is due now, `None` when one went out recently.
    pub fn due(&self) -> Option<u64> {
        let now = epoch().elapsed().as_millis() as u64 + 1;
        let last = self.warned_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= WARN_EVERY.as_millis() as u64;
        if due
            && self
                .warned_ms
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            Some(self.unreported.swap(0, Ordering::AcqRel))
        } else {
            self.unreported.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

impl Default for WarnGate {
    fn default() -> Self {
        WarnGate::new()
    }
}

struct Tally {
    count: AtomicU64,
    gate: WarnGate,
}

#[allow(clippy::declare_interior_mutable_const)]
const TALLY: Tally = Tally {
    count: AtomicU64::new(0),
    gate: WarnGate::new(),
};
static TALLIES: [Tally; ALL.len()] = [TALLY; ALL.len()];

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Refused {
    /// The reason as metrics label it.
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::ClientBuffer => "client_buffer",
            Refused::PacketElements => "packet_elements",
            Refused::Malformed => "malformed",
            Refused::MessageSize => "message_size",
            Refused::HandshakeBytes => "handshake_bytes",
            Refused::EventRate => "event_rate",
            Refused::ConnectRate => "connect_rate",
            Refused::Namespaces => "namespaces",
            Refused::DynamicNamespaces => "dynamic_namespaces",
            Refused::UnknownNamespace => "unknown_namespace",
            Refused::Rooms => "rooms",
            Refused::RoomName => "room_name",
            Refused::Connections => "connections",
            Refused::SessionRate => "session_rate",
            Refused::HeaderBytes => "header_bytes",
            Refused::RequestTimeout => "request_timeout",
            Refused::RecoveryReplay => "recovery_replay",
            Refused::AdminLogin => "admin_login",
            Refused::AdminEvents => "admin_events",
        }
    }

    /// Every reason.
    pub fn all() -> &'static [Refused] {
        &ALL
    }

    fn tally(self) -> &'static Tally {
        let index = ALL.iter().position(|r| *r == self).unwrap_or(0);
        &TALLIES[index]
    }

    /// How many times this reason was counted in this process.
    pub fn count(self) -> u64 {
        self.tally().count.load(Ordering::Relaxed)
    }

    /// Counts one refusal. Returns how many went unreported before it when
    /// a `warn` line is due now, `None` when one went out recently.
    pub fn record(self) -> Option<u64> {
        let tally = self.tally();
        tally.count.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("switchyard_refused_total", "reason" => self.as_str()).increment(1);
        tally.gate.due()
    }
}

/// Counts a refusal and, unless one went out recently for the same reason,
/// logs a `warn` line with the given fields and how many refusals of that
/// reason were not logged since the last line.
///
/// ```
/// # use switchyard_core::limits::Refused;
/// switchyard_core::refused!(Refused::ConnectRate, sid = "abc", "namespace connections too fast");
/// ```
#[macro_export]
macro_rules! refused {
    ($reason:expr, $($rest:tt)+) => {{
        let reason: $crate::limits::Refused = $reason;
        if let ::std::option::Option::Some(unreported) = reason.record() {
            ::tracing::warn!(reason = reason.as_str(), unreported, $($rest)+);
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_refusal_and_warns_once_per_interval() {
        let before = Refused::RecoveryReplay.count();
        assert!(
            Refused::RecoveryReplay.record().is_some(),
            "first: a warn is due"
        );
        for _ in 0..100 {
            assert_eq!(Refused::RecoveryReplay.record(), None, "then quiet");
        }
        assert_eq!(Refused::RecoveryReplay.count() - before, 101);
        assert_eq!(ALL.len(), Refused::all().len());
        let names: std::collections::HashSet<_> = ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), ALL.len(), "labels are distinct");
    }
}
