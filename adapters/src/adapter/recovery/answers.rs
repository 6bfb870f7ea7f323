//! Answers to other nodes' requests for what this node kept: a session,
//! the packets its socket missed, or both (the previous version's request).

use crate::adapter::inner::AdapterInner;
use crate::broker::NodeId;
use crate::format::Destination;
use crate::message::{Body, RequestId};
use crate::session_store::{packets_value, recovered_value, session_value};
use switchyard_core::Room;
use switchyard_core::Value;
use switchyard_core::recovery::Unrecoverable;

impl AdapterInner {
    /// Another node takes a session kept here.
    pub(in crate::adapter) fn answer_take(&self, from: &NodeId, request_id: RequestId, pid: &str) {
        let session = self
            .recovery()
            .and_then(|r| {
                self.local
                    .recovery_log()
                    .take(pid, r.max_disconnection_duration)
            })
            .map_or(Value::Null, |s| session_value(&s));
        self.send(
            Destination::Node(from),
            Body::RestoreSessionResponse {
                request_id,
                session,
            },
        );
    }

    /// Another node asks what a socket whose session was kept here missed;
    /// the session's rooms need no subscription here any more. A node that
    /// did not keep it answers null. The session is let go once the answer
    /// is queued: a draining node leaves as soon as it keeps no session,
    /// flushing what is queued, and an answer queued later would be lost.
    pub(in crate::adapter) fn answer_missed(
        &self,
        from: &NodeId,
        request_id: RequestId,
        pid: &str,
        offset: &str,
        rooms: &[Room],
    ) {
        let kept_here = self.pins.lock().contains_key(pid);
        let missed = self
            .recovery()
            .filter(|_| kept_here)
            .ok_or(Unrecoverable::UnknownOffset)
            .and_then(|r| self.missed_kept(pid, offset, rooms, &r));
        self.send(
            Destination::Node(from),
            Body::RestoreSessionResponse {
                request_id,
                session: missed.map_or(Value::Null, |p| packets_value(&p)),
            },
        );
        self.unpin(pid);
    }

    /// A node of the previous version asks for a session and its missed
    /// packets in one request (type 18): give both up if kept here.
    pub(in crate::adapter) fn answer_restore(
        &self,
        from: &NodeId,
        request_id: RequestId,
        pid: &str,
        offset: &str,
    ) {
        let session = self
            .recovery()
            .and_then(|r| {
                self.local.recovery_log().restore(
                    pid,
                    offset,
                    r.max_disconnection_duration,
                    r.max_replay_bytes,
                )
            })
            .map_or(Value::Null, |restored| recovered_value(&restored));
        // Let go once the answer is queued (see `answer_missed`).
        self.send(
            Destination::Node(from),
            Body::RestoreSessionResponse {
                request_id,
                session,
            },
        );
        self.unpin(pid);
    }
}
