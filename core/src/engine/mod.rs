//! Engine.IO v4: sessions over HTTP long-polling and WebSocket, the upgrade
//! between them, and the heartbeat.
//!
//! The engine is usable on its own (see the `conformance` example's
//! `/engine.io/` echo server): implement [`EngineHandler`] and call
//! [`Engine::handle`] with HTTP requests. Socket.IO is one such handler.

mod close;
mod config;
mod forward;
mod handle;
mod handler;
mod open;
pub(crate) mod packet;
mod polling;
mod query;
mod request;
mod response;
mod router;
mod session;
mod table;
mod upgrade;
pub(crate) mod v3;
pub(crate) mod ws;

pub use close::CloseReason;
pub use config::{
    AllowFuture, AllowRequest, CookieConfig, CorsConfig, EngineConfig, HttpCompression, HttpLimits,
    Refusal, SameSite, Transports,
};
pub use handler::EngineHandler;
pub use packet::{Frame, FrameView, Message, decode_polling_payload, encode_polling_payload};
pub(crate) use query::parse_query;
pub use request::{RemoteAddr, RequestInfo};
pub use response::ResponseBody;
pub use router::{FORWARDED_HEADER, SessionRouter, tag_of};
pub use session::{Protocol, Push, Session, TransportKind};
pub use table::{Engine, WeakEngine};
pub use ws::deflate::PerMessageDeflate;
