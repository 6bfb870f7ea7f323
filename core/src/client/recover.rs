//! A CONNECT with `{pid, offset}`: connection state recovery without a gap
//! or an overlap between the replay and live delivery.
//!
//! 1. The kept session is taken (its id, rooms, data); when none is kept,
//!    the socket may still look connected somewhere: it is evicted (its
//!    connection closed, which keeps its session), then taken.
//! 2. The socket is rebuilt and starts keeping its deliveries back; it is
//!    put in the namespace and rejoins its rooms, and the join is awaited
//!    until the cluster confirmed it: from then on, every packet for its
//!    rooms reaches it, live.
//! 3. Only then are the missed packets read, so what is published
//!    meanwhile is in the replay, or kept back live, or both (and then
//!    dropped from the live part by its offset).
//! 4. `finish_connect` sends the reply, the replay, then what was kept back;
//!    when the client left meanwhile, the session is kept again, with the
//!    replay it never got, for the client's next attempt.

use super::ClientSession;
use crate::adapter::Adapter;
use crate::namespace::Namespace;
use crate::recovery::{RecoveryConfig, SessionState, Unsent};
use crate::sid::Sid;
use crate::socket::Socket;
use crate::value::Value;
use smol_str::SmolStr;
use std::sync::Arc;
use std::time::Instant;

/// A session given back.
pub(super) struct Recovered {
    pub socket: Socket,
    /// The replay, still to be sent.
    pub replay: Unsent,
    pub skip_middlewares: bool,
}

/// Recovers the session `pid` from `offset`; `None` when it cannot be (the
/// client then gets a fresh socket).
pub(super) async fn recover(
    ns: &Namespace,
    session: &Arc<ClientSession>,
    auth: &Value,
    pid: Sid,
    offset: SmolStr,
    config: RecoveryConfig,
) -> Option<Recovered> {
    // Not an offset, or out of the window: nothing can be replayed, so the
    // session is not even looked up (and stays kept for a later attempt).
    if !crate::recovery::offset_in_window(&offset, config.max_disconnection_duration) {
        tracing::debug!(ns = %ns.name(), engine = %session.sid(), "recovery offset out of the window: a fresh socket");
        return None;
    }
    // From here on, what this node keeps for the socket's rooms is at
    // least as new as its offset: a replay it never gets is resumed from
    // this node's log (see `Socket::give_back`).
    let since = Instant::now();
    let adapter = ns.adapter();
    let Some(state) = take(adapter.as_ref(), &pid, config).await else {
        tracing::debug!(ns = %ns.name(), engine = %session.sid(), "no session kept under this pid: a fresh socket");
        return None;
    };
    let rooms = state.rooms.clone();
    let socket = Socket::restored(ns.clone(), session.clone(), auth.clone(), state);
    socket.hold();
    ns.insert_socket(socket.clone());
    if let Err(e) = socket.join(rooms.clone()).await {
        // Joined here; broadcasts from other nodes may miss it until the
        // broker confirms. The replay still covers what was kept.
        tracing::warn!(sid = %socket.id(), ns = %ns.name(), error = %e, "recovered rooms not confirmed cluster-wide");
    }
    match adapter
        .missed_packets(pid, offset.clone(), rooms, config)
        .await
    {
        Ok(missed) => {
            tracing::debug!(sid = %socket.id(), ns = %ns.name(), missed = missed.len(), "session recovered");
            Some(Recovered {
                socket,
                replay: Unsent {
                    offset,
                    missed,
                    since,
                },
                skip_middlewares: config.skip_middlewares,
            })
        }
        Err(why) => {
            tracing::debug!(sid = %socket.id(), ns = %ns.name(), engine = %session.sid(), ?why, "session not recovered: a fresh socket");
            socket.abandon();
            None
        }
    }
}

/// Takes the session kept under `pid`. When none is, its old socket may
/// still look connected (a silent transport, or one relayed by a node that
/// left), or have just left with its session still on its way to the
/// store: it is evicted, every node flushes, and the session is taken then.
async fn take(adapter: &dyn Adapter, pid: &Sid, config: RecoveryConfig) -> Option<SessionState> {
    if let Some(state) = adapter.take_session(pid.clone(), config).await {
        return Some(state);
    }
    if !adapter.evict_session(pid.clone()).await {
        return None;
    }
    adapter.take_session(pid.clone(), config).await
}
