//! A session's heartbeat: pings and pong deadlines for v4 clients, the
//! client's own pings for v3 clients.

use super::{Protocol, Push, Session};
use crate::engine::packet::{PING, PONG};
use crate::engine::{CloseReason, EngineHandler};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

impl<H: EngineHandler> Session<H> {
    pub(crate) fn heartbeat_generation(&self) -> u32 {
        self.heartbeat.load(Ordering::Acquire)
    }

    /// The ping interval for generation `generation` has passed (it was due
    /// at `due`): ping. The pong is due the ping timeout after `due`. A v3
    /// client pings itself: the ping timeout checks that it did.
    pub(crate) fn send_ping(self: &Arc<Self>, generation: u32, due: Instant) -> bool {
        if generation != self.heartbeat_generation() {
            return false;
        }
        if self.protocol == Protocol::V3 {
            return !self.is_closed();
        }
        {
            let mut state = self.state.lock();
            if state.closed.is_some() {
                return false;
            }
            state.awaiting_pong = true;
        }
        let timeout = self.engine.config.ping_timeout.as_millis() as u64;
        self.set_pong_deadline(self.engine.millis_at(due).saturating_add(timeout));
        self.push(&[PING], false) == Push::Queued
    }

    /// The ping timeout for `generation` has passed. Returns whether to
    /// wait again (the client sent other packets recently).
    pub(crate) fn ping_timed_out(self: &Arc<Self>, generation: u32) -> bool {
        if self.protocol == Protocol::V3 {
            // One check per ping timeout, however often the client pings.
            if self.is_closed() {
                return false;
            }
            if !self.pong_overdue(self.engine.millis()) {
                return true;
            }
            tracing::debug!(sid = %self.sid, "ping timeout");
            self.close(CloseReason::PingTimeout);
            return false;
        }
        if generation != self.heartbeat_generation() || !self.state.lock().awaiting_pong {
            return false;
        }
        if !self.pong_overdue(self.engine.millis().max(self.pong_deadline())) {
            return true;
        }
        tracing::debug!(sid = %self.sid, "ping timeout");
        self.close(CloseReason::PingTimeout);
        false
    }

    fn pong_deadline(&self) -> u64 {
        self.pong_deadline_ms.load(Ordering::Acquire)
    }

    /// Sets when the next pong is due (set with the ping's schedule, so a
    /// late timer task cannot push it back).
    pub(crate) fn set_pong_deadline(&self, deadline_ms: u64) {
        self.pong_deadline_ms
            .store(deadline_ms.max(1), Ordering::Release);
    }

    /// Whether, at `now_ms`, the pong is overdue: its deadline passed
    /// without one, and the client has been quiet for the ping timeout (a
    /// client still sending data is alive even if its pong is late).
    fn pong_overdue(&self, now_ms: u64) -> bool {
        if self.protocol == Protocol::V3 {
            // A v3 client pings within an interval and a timeout.
            let config = &self.engine.config;
            let allowed = (config.ping_interval + config.ping_timeout).as_millis() as u64;
            return now_ms
                >= self
                    .last_ping_ms
                    .load(Ordering::Relaxed)
                    .saturating_add(allowed);
        }
        let deadline = self.pong_deadline();
        if deadline == 0 || now_ms < deadline {
            return false;
        }
        let quiet_ms = now_ms.saturating_sub(self.last_packet_ms.load(Ordering::Relaxed));
        u128::from(quiet_ms) >= self.engine.config.ping_timeout.as_millis()
    }

    /// Closes the session if its pong is overdue now; returns whether it
    /// did. A request that arrives after the deadline finds the session
    /// closed even if the timer task has not run yet.
    pub(crate) fn close_if_pong_overdue(self: &Arc<Self>) -> bool {
        if self.pong_overdue(self.engine.millis()) {
            tracing::debug!(sid = %self.sid, "ping timeout");
            self.close(CloseReason::PingTimeout);
            return true;
        }
        false
    }

    /// A v3 client's ping: answered with a pong; the next is due an
    /// interval plus the timeout from now. No timer is armed per ping (a
    /// client pinging in a loop costs one pong each, in its own budget).
    pub(super) fn on_client_ping(self: &Arc<Self>) {
        self.last_ping_ms
            .store(self.engine.millis(), Ordering::Relaxed);
        self.push(&[PONG], false);
    }

    pub(super) fn on_pong(self: &Arc<Self>) {
        {
            let mut state = self.state.lock();
            if !state.awaiting_pong {
                return;
            }
            state.awaiting_pong = false;
        }
        self.pong_deadline_ms.store(0, Ordering::Release);
        let generation = self.heartbeat.fetch_add(1, Ordering::AcqRel) + 1;
        self.engine.schedule_ping(self, generation);
    }
}
