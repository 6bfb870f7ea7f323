//! Why a session closed, named as Node's engine.io names it.

use std::fmt;

/// Why a session closed, named as Node's engine.io names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The client closed the connection or sent a close packet.
    TransportClose,
    /// The connection failed, or the client broke the transport's rules.
    TransportError,
    /// No pong within the ping timeout.
    PingTimeout,
    /// The client sent a malformed packet.
    ParseError,
    /// The server closed the session.
    ForcedClose,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The client fell too far behind (outgoing buffer budget exceeded).
    OutgoingBufferFull,
}

impl CloseReason {
    /// The reason as Node.js spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShuttingDown => "server shutting down",
            CloseReason::OutgoingBufferFull => "outgoing buffer full",
        }
    }

    /// Whether queued packets are still sent before the transport closes
    /// (a server-initiated close, not a failure).
    pub(crate) fn flushes(self) -> bool {
        matches!(
            self,
            CloseReason::ForcedClose | CloseReason::ServerShuttingDown
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
