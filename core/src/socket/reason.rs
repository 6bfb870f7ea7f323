//! Why a socket left its namespace, named as Node.js Socket.IO names it.

use crate::engine::CloseReason;
use std::fmt;

/// Why a socket disconnected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The client closed the connection.
    TransportClose,
    /// The connection failed.
    TransportError,
    /// The client stopped answering pings.
    PingTimeout,
    /// The client sent a malformed packet.
    ParseError,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The server closed the whole connection (`disconnect(true)` on another
    /// namespace, a connect timeout, a protocol violation).
    ForcedServerClose,
    /// The client left this namespace (`socket.disconnect()` on the client).
    ClientNamespaceDisconnect,
    /// The server removed the socket from this namespace (`socket.disconnect()`).
    ServerNamespaceDisconnect,
    /// The client fell too far behind and its outgoing buffer filled up.
    OutgoingBufferFull,
}

impl DisconnectReason {
    /// The reason as Node.js spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::ForcedServerClose => "forced server close",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::OutgoingBufferFull => "outgoing buffer full",
        }
    }

    /// Whether a session lost this way may be recovered on reconnection
    /// (the connection was lost, not ended on purpose).
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            DisconnectReason::TransportClose
                | DisconnectReason::TransportError
                | DisconnectReason::PingTimeout
                | DisconnectReason::ServerShuttingDown
                | DisconnectReason::ForcedServerClose
                | DisconnectReason::OutgoingBufferFull
        )
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::TransportError => DisconnectReason::TransportError,
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ParseError => DisconnectReason::ParseError,
            CloseReason::ForcedClose => DisconnectReason::ForcedServerClose,
            CloseReason::ServerShuttingDown => DisconnectReason::ServerShuttingDown,
            CloseReason::OutgoingBufferFull => DisconnectReason::OutgoingBufferFull,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
