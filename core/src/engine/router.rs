//! Which node owns a session, for load balancers without stickiness: a
//! session id ends with the tag of the node that opened it.

/// Marks a request a node forwarded (never forwarded again).
pub const FORWARDED_HEADER: &str = "x-switchyard-forwarded";

/// Knows which node owns a session, for load balancers without stickiness.
pub trait SessionRouter: Send + Sync + 'static {
    /// This node's tag: the ids of its sessions end with `.<tag>`.
    fn tag(&self) -> &str;

    /// Where the node with `tag` listens (`host:port`), while it is alive.
    fn owner(&self, tag: &str) -> Option<String>;

    /// Where some other live node listens, if any (a draining node sends
    /// new clients there).
    fn peer(&self) -> Option<String> {
        None
    }

    /// Whether this node may not know every other node yet (it just
    /// started): a request for an unknown tag then waits a moment for the
    /// node's address instead of failing at once.
    fn settling(&self) -> bool {
        false
    }
}

/// The tag a session id names, if any.
pub fn tag_of(sid: &str) -> Option<&str> {
    sid.rsplit_once('.')
        .map(|(_, tag)| tag)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests;
