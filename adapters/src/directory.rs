//! Where the nodes of the cluster listen, for sessions without sticky load
//! balancing: each node with an advertised address announces it with its
//! tag (the suffix of its session ids) as often as it sends heartbeats; a
//! node that falls silent past the heartbeat timeout, or says goodbye, is
//! forgotten, and requests for its sessions are refused at once.
//!
//! The [`Cluster`](crate::Cluster) is the engine's
//! [`SessionRouter`](switchyard_core::engine::SessionRouter).

use crate::broker::NodeId;
use parking_lot::RwLock;
use smol_str::SmolStr;
use std::collections::HashMap;
use std::time::{Duration, Instant};

struct Entry {
    address: String,
    node: NodeId,
    seen: Instant,
}

/// Tags of live nodes → their addresses.
#[derive(Default)]
pub(crate) struct Directory {
    entries: RwLock<HashMap<SmolStr, Entry>>,
}

impl Directory {
    /// A node announced itself.
    pub fn announce(&self, tag: SmolStr, address: String, node: NodeId) {
        let mut entries = self.entries.write();
        let known = entries
            .get(&tag)
            .is_some_and(|e| e.address == address && e.node == node);
        if !known {
            tracing::info!(%tag, %address, %node, "node reachable for session forwarding");
        }
        entries.insert(
            tag,
            Entry {
                address,
                node,
                seen: Instant::now(),
            },
        );
    }

    /// A node left or died.
    pub fn forget(&self, node: &NodeId) {
        self.entries.write().retain(|_, e| e.node != *node);
    }

    /// The address of some live node other than `own`, if any.
    pub fn any_other(&self, own: &str, timeout: Duration) -> Option<String> {
        let entries = self.entries.read();
        let live: Vec<&Entry> = entries
            .iter()
            .filter(|(tag, e)| tag.as_str() != own && e.seen.elapsed() <= timeout)
            .map(|(_, e)| e)
            .collect();
        if live.is_empty() {
            return None;
        }
        // Spread the clients of a draining node over the others.
        let pick = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as usize)
            % live.len();
        Some(live[pick].address.clone())
    }

    /// The address of the node with `tag`, if it was heard from within `timeout`.
    pub fn address(&self, tag: &str, timeout: Duration) -> Option<String> {
        self.entries
            .read()
            .get(tag)
            .filter(|e| e.seen.elapsed() <= timeout)
            .map(|e| e.address.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_live_nodes_only() {
        let directory = Directory::default();
        directory.announce("t1".into(), "127.0.0.1:3001".into(), "n1".into());
        assert_eq!(
            directory.address("t1", Duration::from_secs(1)).as_deref(),
            Some("127.0.0.1:3001")
        );
        assert_eq!(directory.address("t2", Duration::from_secs(1)), None);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            directory.address("t1", Duration::from_millis(5)),
            None,
            "silent too long"
        );
        directory.forget(&"n1".into());
        assert_eq!(directory.address("t1", Duration::from_secs(1)), None);
    }
}
