//! Presence: which users are online in a namespace, with how many sessions
//! (a user with a phone and two browser tabs is one user with three).
//!
//! A middleware or handler names a socket's user with
//! [`Socket::set_user`](crate::Socket::set_user). Adapters count connected
//! sockets per user — a cluster adapter on every node — and the namespace
//! hears a [`PresenceEvent`] once when a user's first session anywhere
//! opens and once when its last one closes, not once per tab. A user whose
//! sessions flap is heard at a bounded rate: a few transitions at once, then
//! its net change about once a second (see `PresenceGate`).

mod gate;

pub(crate) use gate::{Gate, PresenceGate};

use crate::adapter::BoxFuture;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use smol_str::SmolStr;
use std::collections::HashMap;
use std::future::Future;

/// A user came online (first session) or went offline (last session).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PresenceEvent {
    /// The user id.
    pub user: SmolStr,
    /// `true` when the user came online, `false` when it left.
    pub online: bool,
}

/// Called when a user comes online or goes offline.
pub trait PresenceHandler: Send + Sync + 'static {
    /// Handles the event.
    fn call(&self, event: PresenceEvent) -> BoxFuture<()>;
}

impl<F, Fut> PresenceHandler for F
where
    F: Fn(PresenceEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, event: PresenceEvent) -> BoxFuture<()> {
        Box::pin(self(event))
    }
}

/// Sessions per user per node, and the transitions of the totals. Node
/// keys are the adapter's: this node is `""` in a [`LocalAdapter`](crate::LocalAdapter).
#[derive(Debug, Default)]
pub struct PresenceTable {
    inner: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    /// Node → user → sessions (never 0).
    nodes: HashMap<SmolStr, HashMap<SmolStr, usize>>,
    /// User → sessions on every node (never 0).
    totals: HashMap<SmolStr, usize>,
}

impl Table {
    /// Sets a node's count of a user; the user's transition, if any.
    fn set(&mut self, node: &str, user: &SmolStr, count: usize) -> Option<PresenceEvent> {
        let counts = self.nodes.entry(SmolStr::new(node)).or_default();
        let before = if count == 0 {
            counts.remove(user).unwrap_or(0)
        } else {
            counts.insert(user.clone(), count).unwrap_or(0)
        };
        if counts.is_empty() {
            self.nodes.remove(node);
        }
        let total_before = self.totals.get(user).copied().unwrap_or(0);
        // The total includes this node's old count.
        // Counts may come from other nodes: never trusted to add up.
        let total = total_before.saturating_sub(before).saturating_add(count);
        if total == 0 {
            self.totals.remove(user);
        } else {
            self.totals.insert(user.clone(), total);
        }
        match (total_before, total) {
            (0, t) if t > 0 => Some(PresenceEvent {
                user: user.clone(),
                online: true,
            }),
            (b, 0) if b > 0 => Some(PresenceEvent {
                user: user.clone(),
                online: false,
            }),
            _ => None,
        }
    }
}

impl PresenceTable {
    /// Adds (`joined`) or removes one session of `user` on `node`; returns
    /// the node's new count and the user's transition, if any.
    pub fn change(
        &self,
        node: &str,
        user: &SmolStr,
        joined: bool,
    ) -> (usize, Option<PresenceEvent>) {
        let mut table = self.inner.lock();
        let current = table
            .nodes
            .get(node)
            .and_then(|c| c.get(user))
            .copied()
            .unwrap_or(0);
        let count = if joined {
            current + 1
        } else {
            current.saturating_sub(1)
        };
        let event = table.set(node, user, count);
        (count, event)
    }

    /// Sets `node`'s count of `user` (a message from that node).
    pub fn set(&self, node: &str, user: &SmolStr, count: usize) -> Option<PresenceEvent> {
        self.inner.lock().set(node, user, count)
    }

    /// Replaces everything known of `node` (its snapshot, or nothing when
    /// it is gone); returns the transitions.
    pub fn replace_node(&self, node: &str, users: &[(SmolStr, usize)]) -> Vec<PresenceEvent> {
        let mut table = self.inner.lock();
        let old: Vec<SmolStr> = table
            .nodes
            .get(node)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        let mut events = Vec::new();
        for user in old {
            if !users.iter().any(|(u, _)| *u == user) {
                events.extend(table.set(node, &user, 0));
            }
        }
        for (user, count) in users {
            events.extend(table.set(node, user, *count));
        }
        events
    }

    /// One node's users with their sessions there.
    pub fn node_users(&self, node: &str) -> Vec<(SmolStr, usize)> {
        self.inner
            .lock()
            .nodes
            .get(node)
            .map(|c| c.iter().map(|(u, n)| (u.clone(), *n)).collect())
            .unwrap_or_default()
    }

    /// Every user online with its sessions, on every node.
    pub fn users(&self) -> Vec<(SmolStr, usize)> {
        self.inner
            .lock()
            .totals
            .iter()
            .map(|(u, n)| (u.clone(), *n))
            .collect()
    }

    /// A user's sessions on every node (0: offline).
    pub fn sessions(&self, user: &str) -> usize {
        self.inner.lock().totals.get(user).copied().unwrap_or(0)
    }

    /// The nodes a user has sessions on, with how many.
    pub fn nodes_of(&self, user: &str) -> Vec<(SmolStr, usize)> {
        self.inner
            .lock()
            .nodes
            .iter()
            .filter_map(|(node, c)| c.get(user).map(|n| (node.clone(), *n)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(u: &str) -> SmolStr {
        SmolStr::new(u)
    }

    #[test]
    fn a_user_joins_once_and_leaves_once_whatever_its_sessions() {
        let table = PresenceTable::default();
        let ann = user("ann");
        let (count, event) = table.change("a", &ann, true);
        assert_eq!((count, event.map(|e| e.online)), (1, Some(true)));
        assert_eq!(table.change("a", &ann, true), (2, None));
        assert_eq!(table.set("b", &ann, 3), None);
        assert_eq!(table.sessions("ann"), 5);
        assert_eq!(table.change("a", &ann, false).1, None);
        assert_eq!(table.change("a", &ann, false).1, None);
        let gone = table.replace_node("b", &[]);
        assert_eq!(
            gone,
            vec![PresenceEvent {
                user: ann,
                online: false
            }]
        );
        assert!(table.users().is_empty());
    }

    #[test]
    fn counts_from_other_nodes_cannot_overflow() {
        let table = PresenceTable::default();
        table.set("b", &user("ann"), usize::MAX);
        assert_eq!(table.set("c", &user("ann"), usize::MAX), None);
        assert_eq!(table.sessions("ann"), usize::MAX);
        assert_eq!(table.change("a", &user("ann"), true).1, None);
    }

    #[test]
    fn snapshots_replace_a_nodes_state() {
        let table = PresenceTable::default();
        table.set("b", &user("ann"), 1);
        let events = table.replace_node("b", &[(user("bob"), 2)]);
        assert_eq!(events.len(), 2, "ann left, bob joined: {events:?}");
        assert_eq!(table.node_users("b"), vec![(user("bob"), 2)]);
        assert_eq!(table.nodes_of("bob"), vec![(user("b"), 2)]);
        assert_eq!(
            table.change("a", &user("nobody"), false),
            (0, None),
            "no negative counts"
        );
    }
}
