//! `RecoveryLog`: the sessions and packets one node keeps in memory for
//! connection state recovery.

use super::{
    LoggedPacket, RecoveredSession, Replay, SessionState, Unrecoverable, Unsent, missed_after,
    offset_in_window, replay_bytes,
};
use crate::protocol::Packet;
use crate::sid::Sid;
use crate::vocab::Room;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Sessions and packets kept in memory, each for a limited time.
#[derive(Default)]
pub struct RecoveryLog {
    inner: Mutex<LogInner>,
}

#[derive(Default)]
struct LogInner {
    packets: VecDeque<(Instant, LoggedPacket)>,
    sessions: HashMap<Sid, (Instant, SessionState)>,
}

impl LogInner {
    fn prune(&mut self, keep: Duration) {
        let now = Instant::now();
        while self
            .packets
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > keep)
        {
            self.packets.pop_front();
        }
    }

    fn prune_sessions(&mut self, keep: Duration) {
        let now = Instant::now();
        self.sessions
            .retain(|_, (at, _)| now.duration_since(*at) <= keep);
    }
}

impl RecoveryLog {
    /// Keeps a packet for `keep`.
    pub fn record(&self, packet: LoggedPacket, keep: Duration) {
        let mut inner = self.inner.lock();
        inner.prune(keep);
        inner.packets.push_back((Instant::now(), packet));
    }

    /// Keeps a session for `keep`.
    pub fn persist(&self, session: SessionState, keep: Duration) {
        let mut inner = self.inner.lock();
        inner.prune_sessions(keep);
        inner
            .sessions
            .insert(session.pid.clone(), (Instant::now(), session));
    }

    /// How many packets and sessions are kept, once those older than
    /// `keep` are dropped (without traffic nothing else drops them).
    pub fn entries(&self, keep: Duration) -> usize {
        let mut inner = self.inner.lock();
        inner.prune(keep);
        inner.prune_sessions(keep);
        inner.packets.len() + inner.sessions.len()
    }

    /// How many sessions are kept.
    pub fn session_count(&self) -> usize {
        self.inner.lock().sessions.len()
    }

    /// Whether a session is kept.
    pub fn has_session(&self, pid: &str) -> bool {
        self.inner.lock().sessions.contains_key(pid)
    }

    /// Forgets a session (it expired); returns it.
    pub fn forget(&self, pid: &str) -> Option<SessionState> {
        self.inner.lock().sessions.remove(pid).map(|(_, s)| s)
    }

    /// Takes a session (it can be taken once); `None` when it is unknown or
    /// older than `keep`.
    pub fn take(&self, pid: &str, keep: Duration) -> Option<SessionState> {
        let (at, session) = self.inner.lock().sessions.remove(pid)?;
        (at.elapsed() <= keep).then_some(session)
    }

    /// The packets after `offset` that a socket in `rooms` missed, at most
    /// `max_bytes` of them; an error when the offset is not kept (too old)
    /// or more was missed.
    pub fn missed(
        &self,
        offset: &str,
        rooms: &[Room],
        keep: Duration,
        max_bytes: usize,
    ) -> Result<Vec<Packet>, Unrecoverable> {
        if !offset_in_window(offset, keep) {
            return Err(Unrecoverable::UnknownOffset);
        }
        let mut inner = self.inner.lock();
        inner.prune(keep);
        missed_after(
            inner.packets.iter().map(|(_, p)| p),
            offset,
            rooms,
            max_bytes,
        )
    }

    /// What a socket in `rooms` missed since `offset` when it never got
    /// its replay (`unsent`): the rest of that replay, then what this log
    /// kept since its recovery began here, once each, at most `max_bytes`;
    /// `None` when `offset` is not the replay's.
    pub fn resume(
        &self,
        unsent: &Unsent,
        offset: &str,
        rooms: &[Room],
        keep: Duration,
        max_bytes: usize,
    ) -> Option<Result<Vec<Packet>, Unrecoverable>> {
        let head = unsent.after(offset)?;
        let bytes = head.iter().map(replay_bytes).fold(0, usize::saturating_add);
        let Some(left) = max_bytes.checked_sub(bytes) else {
            return Some(Err(Unrecoverable::TooMuch));
        };
        let replayed = unsent.offsets();
        let mut tail = Replay::new(rooms, left);
        let mut inner = self.inner.lock();
        inner.prune(keep);
        for (at, packet) in &inner.packets {
            if *at >= unsent.since
                && !replayed.contains(&packet.offset)
                && let Err(e) = tail.offer(packet)
            {
                return Some(Err(e));
            }
        }
        drop(inner);
        let mut missed = head.to_vec();
        missed.extend(tail.finish());
        Some(Ok(missed))
    }

    /// Takes a session and the packets its socket missed since `offset`
    /// (at most `max_bytes` of them). `None` when the session is unknown or
    /// expired, the offset too old, or more was missed (the session is then
    /// gone too: the client starts afresh).
    pub fn restore(
        &self,
        pid: &str,
        offset: &str,
        keep: Duration,
        max_bytes: usize,
    ) -> Option<RecoveredSession> {
        let session = self.take(pid, keep)?;
        match self.missed(offset, &session.rooms, keep, max_bytes) {
            Ok(missed) => Some(RecoveredSession { session, missed }),
            Err(Unrecoverable::TooMuch) => {
                crate::refused!(crate::limits::Refused::RecoveryReplay, sid = %session.sid, max = max_bytes, "too much missed to replay: not recovered");
                None
            }
            Err(Unrecoverable::UnknownOffset) => None,
        }
    }

    /// How many packets are kept.
    pub fn packet_count(&self) -> usize {
        self.inner.lock().packets.len()
    }
}
