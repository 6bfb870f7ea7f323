//! `Session`: one Engine.IO connection, whatever its transport.
//!
//! A session owns the single outgoing queue of its client. Producers (emits,
//! acks, broadcasts) push encoded frames in the order they are produced;
//! the current transport (a pending polling GET, or the WebSocket task)
//! drains it. Because there is one queue and one consumer at a time, every
//! packet to a client leaves in production order, whatever thread produced it.

use super::packet::{CLOSE, Frame, Incoming, PING, PONG};
use super::{CloseReason, EngineHandler, EngineInner, Message, RequestInfo};
use crate::sid::Sid;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// The transport a session currently uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl TransportKind {
    /// Its name in the protocol: `polling` or `websocket`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }
}

/// The Engine.IO protocol revision a session speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// v3, of Socket.IO v2 clients (with `allow_eio3`).
    V3,
    /// v4.
    V4,
}

/// Progress of an upgrade from polling to WebSocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Upgrade {
    Idle,
    /// A WebSocket with this sid is open, the probe not yet answered.
    Probing,
    /// The probe was answered: pending polls are released with a noop.
    Probed,
}

/// What pushing frames to a session did.
#[derive(Debug, PartialEq, Eq)]
pub enum Push {
    /// Queued.
    Queued,
    /// A volatile packet dropped because the client is not ready for it.
    DroppedVolatile,
    /// The session is closed.
    Closed,
    /// The client is too far behind and is being disconnected.
    Overflow,
}

/// What a polling GET answers with.
pub(crate) enum PollAnswer {
    Frames(Vec<Frame>),
    Noop,
}

/// What the WebSocket writer should do next.
pub(crate) enum WsNext {
    /// Frames were moved into the batch.
    Frames,
    /// The session closed; the queue is drained.
    Closed,
}

/// What a queued frame costs beyond its bytes (its slot and bookkeeping).
const FRAME_OVERHEAD: usize = 48;

fn cost(frames: &[Frame]) -> usize {
    frames.iter().map(|f| f.len() + FRAME_OVERHEAD).sum()
}

struct State {
    frames: VecDeque<Frame>,
    /// What `frames` costs, in bytes.
    queued_bytes: usize,
    /// What the WebSocket writer took and has not finished writing.
    writing_bytes: usize,
    /// When the oldest queued frame was queued (for the wait metric).
    oldest: Option<std::time::Instant>,
    transport: TransportKind,
    upgrade: Upgrade,
    /// A GET is waiting, with its waker.
    get_active: bool,
    get_waker: Option<Waker>,
    post_active: bool,
    ws_waker: Option<Waker>,
    /// The WebSocket task holds frames it has not finished writing.
    ws_writing: bool,
    closed: Option<CloseReason>,
    awaiting_pong: bool,
    /// Past its budget: being closed, nothing more is queued or counted.
    overflowed: bool,
}

/// One Engine.IO session.
pub struct Session<H: EngineHandler> {
    sid: Sid,
    info: Arc<RequestInfo>,
    protocol: Protocol,
    /// The handler's per-session state (for Socket.IO, the client's sockets).
    pub data: H::Data,
    state: Mutex<State>,
    /// Heartbeat generation: a timeout for an older generation is stale.
    heartbeat: AtomicU32,
    /// When the client last sent anything, in ms since `engine.epoch`.
    last_packet_ms: AtomicU64,
    /// When a v3 client last pinged (or the session opened), in ms since
    /// `engine.epoch`.
    last_ping_ms: AtomicU64,
    /// When the pong for the last ping is due, in ms since `engine.epoch`
    /// (0: no ping waits for its pong).
    pong_deadline_ms: AtomicU64,
    pub(crate) engine: Arc<EngineInner<H>>,
}

impl<H: EngineHandler> Session<H> {
    pub(crate) fn new(
        sid: Sid,
        info: Arc<RequestInfo>,
        transport: TransportKind,
        engine: Arc<EngineInner<H>>,
    ) -> Self {
        let protocol = match info.query_param("EIO") {
            Some("3") => Protocol::V3,
            _ => Protocol::V4,
        };
        Session {
            sid,
            info,
            protocol,
            data: H::Data::default(),
            state: Mutex::new(State {
                frames: VecDeque::new(),
                queued_bytes: 0,
                writing_bytes: 0,
                oldest: None,
                transport,
                upgrade: Upgrade::Idle,
                get_active: false,
                get_waker: None,
                post_active: false,
                ws_waker: None,
                ws_writing: false,
                closed: None,
                awaiting_pong: false,
                overflowed: false,
            }),
            heartbeat: AtomicU32::new(0),
            last_packet_ms: AtomicU64::new(0),
            last_ping_ms: AtomicU64::new(engine.millis()),
            pong_deadline_ms: AtomicU64::new(0),
            engine,
        }
    }

    /// The session id (secret: it authenticates the client's requests).
    pub fn sid(&self) -> &Sid {
        &self.sid
    }

    /// The request that opened the session.
    pub fn request(&self) -> &Arc<RequestInfo> {
        &self.info
    }

    /// The protocol revision the client speaks.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Whether a v3 client takes binary on the transport it opened the
    /// session with.
    pub(crate) fn takes_binary(&self) -> bool {
        super::v3::takes_binary(&self.info.query)
    }

    /// The current transport.
    pub fn transport(&self) -> TransportKind {
        self.state.lock().transport
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed.is_some()
    }

    /// Queues frames that must stay together (a packet and its attachments).
    ///
    /// Never blocks. A volatile packet is dropped when the client still has
    /// unsent data; a client past its budget (`max_client_buffer_bytes`,
    /// `max_buffered_packets`) is disconnected.
    pub fn push(self: &Arc<Self>, frames: &[Frame], volatile: bool) -> Push {
        self.push_since(frames, volatile, None)
    }

    /// [`Session::push`] for frames whose wait began `since` (a broadcast's
    /// emit on this node, or its arrival from the broker), which the wait
    /// metric then counts from.
    pub fn push_since(
        self: &Arc<Self>,
        frames: &[Frame],
        volatile: bool,
        since: Option<std::time::Instant>,
    ) -> Push {
        let config = &self.engine.config;
        let waker = {
            let mut state = self.state.lock();
            if state.closed.is_some() {
                return Push::Closed;
            }
            if state.overflowed {
                return Push::Overflow;
            }
            if volatile && !state.writable() {
                crate::metrics::HOT.volatile_dropped.increment(1);
                return Push::DroppedVolatile;
            }
            let cost = cost(frames);
            let held = state.queued_bytes + state.writing_bytes;
            // One packet always fits an empty queue, whatever its size.
            let over_bytes = held > 0 && held + cost > config.max_client_buffer_bytes;
            if over_bytes || state.frames.len() + frames.len() > config.max_buffered_packets {
                let queued = state.frames.len();
                state.overflowed = true;
                drop(state);
                crate::refused!(
                    crate::limits::Refused::ClientBuffer,
                    sid = %self.sid,
                    queued,
                    bytes = held,
                    "client is too slow: outgoing buffer full, disconnecting"
                );
                // Closing runs disconnect handlers, which may take locks the
                // caller (a broadcast) holds: close from a fresh task.
                let session = self.clone();
                tokio::spawn(async move { session.close(CloseReason::OutgoingBufferFull) });
                return Push::Overflow;
            }
            match (state.oldest, since) {
                (Some(oldest), Some(since)) if since < oldest => state.oldest = Some(since),
                (None, _) => {
                    state.oldest = Some(since.unwrap_or_else(std::time::Instant::now));
                }
                _ => {}
            }
            state.frames.extend(frames.iter().cloned());
            state.queued_bytes += cost;
            let traffic = &self.engine.traffic;
            traffic.packets_sent.fetch_add(1, Ordering::Relaxed);
            traffic.bytes_sent.fetch_add(
                frames.iter().map(|f| f.len() as u64).sum(),
                Ordering::Relaxed,
            );
            state.consumer_waker()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Push::Queued
    }

    /// Closes the session: the handler hears `reason` once, and the client's
    /// transport is ended. For server-initiated closes queued packets are
    /// flushed first.
    pub fn close(self: &Arc<Self>, reason: CloseReason) {
        let (wakers, linger) = {
            let mut state = self.state.lock();
            if state.closed.is_some() {
                return;
            }
            state.closed = Some(reason);
            if !reason.flushes() {
                state.frames.clear();
                state.queued_bytes = 0;
            }
            // A polling client that is not polling right now collects the
            // flushed packets and the close packet with its next GET.
            let linger =
                reason.flushes() && state.transport == TransportKind::Polling && !state.get_active;
            ([state.get_waker.take(), state.ws_waker.take()], linger)
        };
        for w in wakers.into_iter().flatten() {
            w.wake();
        }
        if linger {
            self.engine.linger(self.clone());
        } else {
            self.engine.remove(&self.sid);
        }
        tracing::debug!(sid = %self.sid, %reason, "session closed");
        crate::metrics::disconnect(reason.as_str());
        self.engine.handler.on_close(self, reason);
    }

    // ---- incoming --------------------------------------------------------

    /// Handles one packet from the client.
    pub(crate) fn receive(self: &Arc<Self>, packet: Incoming) {
        self.touch();
        match packet {
            Incoming::Message(message) => self.deliver(message),
            Incoming::Pong if self.protocol == Protocol::V3 => {
                // Protocol v3 pongs go from server to client only.
                tracing::debug!(sid = %self.sid, "client sent a pong: invalid heartbeat direction");
                self.close(CloseReason::TransportError);
            }
            Incoming::Pong => self.on_pong(),
            Incoming::Close => self.close(CloseReason::TransportClose),
            Incoming::Ping { .. } if self.protocol == Protocol::V3 => self.on_client_ping(),
            Incoming::Ping { .. } => {
                // Protocol v4 pings go from server to client only.
                tracing::debug!(sid = %self.sid, "client sent a ping: invalid heartbeat direction");
                self.close(CloseReason::TransportError);
            }
            Incoming::Upgrade | Incoming::Noop => {}
        }
    }

    fn deliver(self: &Arc<Self>, message: Message) {
        if self.is_closed() {
            return;
        }
        let traffic = &self.engine.traffic;
        traffic.packets_received.fetch_add(1, Ordering::Relaxed);
        traffic.bytes_received.fetch_add(
            match &message {
                Message::Text(t) => t.len() as u64,
                Message::Binary(b) => b.len() as u64,
            },
            Ordering::Relaxed,
        );
        self.engine.handler.on_message(self, message);
    }

    pub(crate) fn touch(&self) {
        self.last_packet_ms
            .store(self.engine.millis(), Ordering::Relaxed);
    }

    // ---- heartbeat -------------------------------------------------------

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
    fn on_client_ping(self: &Arc<Self>) {
        self.last_ping_ms
            .store(self.engine.millis(), Ordering::Relaxed);
        self.push(&[PONG], false);
    }

    fn on_pong(self: &Arc<Self>) {
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

    // ---- polling ---------------------------------------------------------

    /// Claims the polling GET slot; `false` if another GET is pending.
    pub(crate) fn begin_get(&self) -> bool {
        let mut state = self.state.lock();
        !std::mem::replace(&mut state.get_active, true)
    }

    pub(crate) fn end_get(&self) {
        let mut state = self.state.lock();
        state.get_active = false;
        state.get_waker = None;
    }

    /// Claims the polling POST slot; `false` if another POST is pending.
    pub(crate) fn begin_post(&self) -> bool {
        let mut state = self.state.lock();
        !std::mem::replace(&mut state.post_active, true)
    }

    pub(crate) fn end_post(&self) {
        self.state.lock().post_active = false;
    }

    /// What a pending GET answers, once there is something to answer.
    pub(crate) fn poll_get(&self, cx: &mut Context<'_>) -> Poll<PollAnswer> {
        let mut state = self.state.lock();
        if let Some(reason) = state.closed {
            return Poll::Ready(match reason {
                // The client asked to close: release its poll with a noop.
                CloseReason::TransportClose => PollAnswer::Noop,
                _ => {
                    let mut frames: Vec<Frame> = state.frames.drain(..).collect();
                    state.queued_bytes = 0;
                    frames.push(CLOSE);
                    PollAnswer::Frames(frames)
                }
            });
        }
        if state.transport == TransportKind::WebSocket {
            return Poll::Ready(PollAnswer::Noop);
        }
        if !state.frames.is_empty() {
            state.queued_bytes = 0;
            state.record_wait();
            return Poll::Ready(PollAnswer::Frames(state.frames.drain(..).collect()));
        }
        if state.upgrade == Upgrade::Probed {
            return Poll::Ready(PollAnswer::Noop);
        }
        if !state
            .get_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.get_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    // ---- websocket -------------------------------------------------------

    /// Starts an upgrade; `false` if the session cannot upgrade now.
    pub(crate) fn begin_upgrade(&self) -> bool {
        let mut state = self.state.lock();
        if state.closed.is_some()
            || state.transport != TransportKind::Polling
            || state.upgrade != Upgrade::Idle
        {
            return false;
        }
        state.upgrade = Upgrade::Probing;
        true
    }

    /// The probe was answered: release the pending poll with a noop.
    pub(crate) fn probed(&self) {
        let waker = {
            let mut state = self.state.lock();
            state.upgrade = Upgrade::Probed;
            state.get_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The client sent `5`: the WebSocket becomes the transport.
    pub(crate) fn complete_upgrade(&self) -> bool {
        let waker = {
            let mut state = self.state.lock();
            if state.closed.is_some() {
                return false;
            }
            state.transport = TransportKind::WebSocket;
            state.upgrade = Upgrade::Idle;
            state.get_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// The upgrade failed; the session stays on polling.
    pub(crate) fn abort_upgrade(&self) {
        let mut state = self.state.lock();
        if state.transport == TransportKind::Polling {
            state.upgrade = Upgrade::Idle;
        }
    }

    /// Moves queued frames into `batch` for the WebSocket writer. `written`:
    /// the writer wrote everything it took before (otherwise it still holds
    /// it, coalescing, and what it takes now adds to it).
    pub(crate) fn poll_ws(
        &self,
        cx: &mut Context<'_>,
        batch: &mut VecDeque<Frame>,
        written: bool,
    ) -> Poll<WsNext> {
        let mut state = self.state.lock();
        if written {
            state.ws_writing = false;
            state.writing_bytes = 0;
        }
        if !state.frames.is_empty() {
            state.record_wait();
            std::mem::swap(&mut state.frames, batch);
            state.writing_bytes += std::mem::take(&mut state.queued_bytes);
            state.ws_writing = true;
            return Poll::Ready(WsNext::Frames);
        }
        if state.closed.is_some() {
            return Poll::Ready(WsNext::Closed);
        }
        if !state
            .ws_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.ws_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Whether the session is closed; if not, wakes the probing WebSocket
    /// task when it closes.
    pub(crate) fn watch_close(&self, cx: &mut Context<'_>) -> bool {
        let mut state = self.state.lock();
        if state.closed.is_some() {
            return true;
        }
        state.ws_waker = Some(cx.waker().clone());
        false
    }

    /// The closing reason, if the session is closed.
    pub(crate) fn closed_reason(&self) -> Option<CloseReason> {
        self.state.lock().closed
    }

    /// Bytes queued for the client or being written to it.
    pub fn buffered_bytes(&self) -> usize {
        let state = self.state.lock();
        state.queued_bytes + state.writing_bytes
    }
}

impl State {
    /// The queued frames are taken for writing: how long the oldest waited.
    fn record_wait(&mut self) {
        if let Some(oldest) = self.oldest.take() {
            crate::metrics::outgoing_wait(oldest.elapsed());
        }
    }

    /// Whether the transport can take a packet now (Node's `writable`).
    fn writable(&self) -> bool {
        self.frames.is_empty()
            && match self.transport {
                TransportKind::Polling => self.get_active,
                TransportKind::WebSocket => !self.ws_writing,
            }
    }

    fn consumer_waker(&mut self) -> Option<Waker> {
        match self.transport {
            TransportKind::Polling => self.get_waker.take(),
            TransportKind::WebSocket => self.ws_waker.take(),
        }
    }
}

/// Milliseconds since `epoch`, for cheap atomic timestamps.
pub(crate) fn millis_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_millis() as u64
}
