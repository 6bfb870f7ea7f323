//! Presence in a namespace: its handlers, and who is online.

use super::Namespace;
use crate::adapter::AdapterError;
use crate::operator::IntoRooms;
use crate::presence::{Gate, PresenceEvent, PresenceHandler, PresenceTable};
use smol_str::SmolStr;
use std::sync::Arc;

impl Namespace {
    /// Registers a handler called once when a user's first session
    /// anywhere in the cluster opens, and once when its last one closes
    /// (see [`Socket::set_user`](crate::Socket::set_user)).
    pub fn on_presence(&self, handler: impl PresenceHandler) {
        self.0.presence_handlers.write().push(Arc::new(handler));
    }

    /// Tells the presence handlers (adapters call this). A user whose
    /// state flaps is heard at a bounded rate, its net change once.
    pub fn dispatch_presence(&self, event: PresenceEvent) {
        match self.0.presence_gate.transition(event) {
            Gate::Pass(event) => self.run_presence_handlers(event),
            Gate::Merged => {}
            Gate::Held(wait) => {
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    return;
                };
                let ns = self.downgrade();
                runtime.spawn(async move {
                    tokio::time::sleep(wait).await;
                    if let Some(ns) = ns.upgrade() {
                        for event in ns.0.presence_gate.flush() {
                            ns.run_presence_handlers(event);
                        }
                    }
                });
            }
        }
    }

    fn run_presence_handlers(&self, event: PresenceEvent) {
        let handlers = self.0.presence_handlers.read().clone();
        for h in handlers {
            crate::inline::run(h.call(event.clone()));
        }
    }

    /// Every user online in the namespace, on every node, with its number
    /// of sessions.
    pub fn online_users(&self) -> Vec<(SmolStr, usize)> {
        self.0
            .adapter
            .presence()
            .map(PresenceTable::users)
            .unwrap_or_default()
    }

    /// Whether a user has a session anywhere.
    pub fn is_online(&self, user: &str) -> bool {
        self.sessions_of(user) > 0
    }

    /// A user's sessions, on every node.
    pub fn sessions_of(&self, user: &str) -> usize {
        self.0
            .adapter
            .presence()
            .map_or(0, |table| table.sessions(user))
    }

    /// The users with a session in one of `rooms`, on every node (asks
    /// every node, as `fetch_sockets` does).
    pub async fn online_users_in(
        &self,
        rooms: impl IntoRooms,
    ) -> Result<Vec<SmolStr>, AdapterError> {
        let sockets = self.to(rooms).fetch_sockets().await?;
        let mut users: Vec<SmolStr> = sockets.into_iter().filter_map(|s| s.user).collect();
        users.sort();
        users.dedup();
        Ok(users)
    }
}
