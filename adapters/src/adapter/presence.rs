//! Presence across the cluster: each node counts its own sessions per user
//! and tells the others every change (`PresenceUpdate`); a node that
//! detects a new peer sends its whole table (`PresenceSnapshot`), so a node
//! started later, or back from a broker outage, learns the current state.
//! The first table received from a node is answered with this node's own:
//! a node that was still subscribing when the others saw it join (and sent
//! their tables) gets them again once it announces itself.
//! A node that leaves or dies (heartbeat timeout) takes its users with it.
//! Transitions of a user's total fire the namespace's presence handlers on
//! every node, once each.

use super::inner::AdapterInner;
use crate::broker::NodeId;
use crate::format::Destination;
use crate::message::Body;
use smol_str::SmolStr;

/// This node's key in the presence table.
const HERE: &str = "";

impl AdapterInner {
    /// A local session of `user` opened or closed: count it, tell the others.
    pub(super) fn presence_change(&self, user: &SmolStr, joined: bool) {
        let count = self.local.presence_local(user, joined);
        self.send(
            Destination::Everyone,
            Body::PresenceUpdate {
                user: user.clone(),
                count: count as u64,
            },
        );
    }

    /// Another node's count of a user.
    pub(super) fn presence_update(&self, from: &NodeId, user: &SmolStr, count: u64) {
        let event = self.local.presence_table().set(from, user, count as usize);
        self.local.announce(event.into_iter().collect());
    }

    /// Another node's whole table.
    pub(super) fn presence_snapshot(&self, from: &NodeId, users: Vec<(SmolStr, u64)>) {
        let users: Vec<(SmolStr, usize)> =
            users.into_iter().map(|(u, n)| (u, n as usize)).collect();
        let events = self.local.presence_table().replace_node(from, &users);
        self.local.announce(events);
        if self.presence_peers.lock().insert(from.clone()) {
            self.send_presence_snapshot();
        }
    }

    /// Sends this node's table to every node.
    pub(super) fn send_presence_snapshot(&self) {
        let users = self
            .local
            .presence_table()
            .node_users(HERE)
            .into_iter()
            .map(|(u, n)| (u, n as u64))
            .collect();
        self.send(Destination::Everyone, Body::PresenceSnapshot { users });
    }

    /// A node is gone: so are its users' sessions.
    pub(super) fn forget_presence(&self, node: &NodeId) {
        self.presence_peers.lock().remove(node);
        let events = self.local.presence_table().replace_node(node, &[]);
        self.local.announce(events);
    }
}
