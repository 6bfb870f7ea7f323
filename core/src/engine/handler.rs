//! What the layer above the engine implements: the handler of its
//! sessions' opening, messages, closing and upgrade.

use super::close::CloseReason;
use super::packet::Message;
use super::session::Session;
use std::sync::Arc;

/// What the layer above the engine does with sessions.
pub trait EngineHandler: Send + Sync + Sized + 'static {
    /// Per-session state, created empty with each session.
    type Data: Default + Send + Sync + 'static;

    /// A session was opened (its open packet is already queued).
    fn on_open(&self, session: &Arc<Session<Self>>);

    /// A message arrived, in order.
    fn on_message(&self, session: &Arc<Session<Self>>, message: Message);

    /// The session closed; called once.
    fn on_close(&self, session: &Arc<Session<Self>>, reason: CloseReason);

    /// The session moved to WebSocket.
    fn on_upgrade(&self, session: &Arc<Session<Self>>) {
        let _ = session;
    }
}
