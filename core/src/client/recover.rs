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
//! 4. `finish_connect` sends the reply, the replay, then what was kept back.

use super::ClientSession;
use crate::namespace::Namespace;
use crate::protocol::Packet;
use crate::recovery::RecoveryConfig;
use crate::sid::Sid;
use crate::socket::Socket;
use crate::value::Value;
use smol_str::SmolStr;
use std::sync::Arc;

/// A session given back.
pub(super) struct Recovered {
    pub socket: Socket,
    pub missed: Vec<Packet>,
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
        return None;
    }
    let adapter = ns.adapter();
    let state = match adapter.take_session(pid.clone(), config).await {
        Some(state) => state,
        None => {
            // Its old socket may still look connected (a silent transport,
            // or one relayed by a node that left), or have just left with
            // its session still on its way to the store: evict it, let every
            // node flush, then take the session.
            if !adapter.evict_session(pid.clone()).await {
                return None;
            }
            adapter.take_session(pid.clone(), config).await?
        }
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
    match adapter.missed_packets(pid, offset, rooms, config).await {
        Ok(missed) => {
            tracing::debug!(sid = %socket.id(), ns = %ns.name(), missed = missed.len(), "session recovered");
            Some(Recovered {
                socket,
                missed,
                skip_middlewares: config.skip_middlewares,
            })
        }
        Err(why) => {
            tracing::debug!(sid = %socket.id(), ns = %ns.name(), ?why, "session not recovered: a fresh socket");
            socket.abandon();
            None
        }
    }
}
