//! Budgets: what one client may make the node hold or do.
//!
//! Every resource a client can make the node keep — decoded data, handshake
//! data, queued output, rooms, namespaces — and every rate it can drive —
//! events, namespace connections, new sessions — has a limit here or in
//! [`EngineConfig`](crate::EngineConfig). Past a limit the client gets the
//! protocol's answer (an HTTP status, a `CONNECT_ERROR`, a close), and the
//! operator a rate-limited `warn` line and the counter
//! `switchyard_refused_total{reason}` (see [`Refused`]); other clients
//! never notice.

mod bucket;
mod refused;

pub use bucket::{AddressRates, Rate, TokenBucket};
pub use refused::{Refused, WarnGate};

use crate::protocol::DecodeLimits;

/// Limits of the Socket.IO layer for one client, with their defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientLimits {
    /// What decoding one packet may build (default: 100,000 values). A
    /// packet over it closes the connection as malformed.
    pub decode: DecodeLimits,
    /// Most bytes one socket's handshake may keep for its lifetime: the
    /// request headers, URL and query, and the CONNECT auth payload as held
    /// in memory. A CONNECT over it is refused with a `CONNECT_ERROR`.
    /// Default 32 KiB (Node's header limit is 16 KB).
    pub max_handshake_bytes: usize,
    /// Events one socket may send, sustained and in a burst. Past it the
    /// socket is disconnected (the client hears "io server disconnect").
    /// Default: unlimited, as in Node.
    pub event_rate: Option<Rate>,
    /// Namespace CONNECTs one connection may send. Past it a CONNECT is
    /// refused with a `CONNECT_ERROR`. Default 5 per second, bursts of 20.
    pub connect_rate: Option<Rate>,
    /// Namespaces one connection may be connected to at once. Default 32.
    pub max_namespaces_per_client: usize,
    /// Namespaces that dynamic namespaces (`of_pattern`, `of_predicate`)
    /// may create in all. Default 10,000.
    pub max_dynamic_namespaces: usize,
    /// Rooms one socket may be in, its own room included. Default 1,024.
    pub max_rooms_per_socket: usize,
    /// Longest room name, in bytes. Default 256.
    pub max_room_name_bytes: usize,
}

impl Default for ClientLimits {
    fn default() -> Self {
        ClientLimits {
            decode: DecodeLimits::default(),
            max_handshake_bytes: 32 * 1024,
            event_rate: None,
            connect_rate: Some(Rate {
                per_second: 5.0,
                burst: 20,
            }),
            max_namespaces_per_client: 32,
            max_dynamic_namespaces: 10_000,
            max_rooms_per_socket: 1024,
            max_room_name_bytes: 256,
        }
    }
}
