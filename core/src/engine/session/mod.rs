//! `Session`: one Engine.IO connection, whatever its transport.
//!
//! A session owns the single outgoing queue of its client. Producers (emits,
//! acks, broadcasts) push encoded frames in the order they are produced;
//! the current transport (a pending polling GET, or the WebSocket task)
//! drains it. Because there is one queue and one consumer at a time, every
//! packet to a client leaves in production order, whatever thread produced it.
//! A WebSocket over plain TCP also lets the producer write a frame itself
//! while the queue is empty and the connection's task is not writing (the
//! decision is taken under the same lock, so the order holds; see
//! `ws::direct`).

mod heartbeat;
mod queue;
mod transport;

use super::close::CloseReason;
use super::handler::EngineHandler;
use super::packet::{Frame, Incoming, Message};
use super::request::RequestInfo;
use super::table::EngineInner;
use super::ws::DirectWriter;
use crate::sid::Sid;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::Waker;
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
    /// The WebSocket's writer for producers, over plain TCP.
    direct: Option<DirectWriter>,
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
    /// This session, for what outlives a call (a close from a fresh task).
    me: Weak<Session<H>>,
}

impl<H: EngineHandler> Session<H> {
    pub(crate) fn new(
        sid: Sid,
        info: Arc<RequestInfo>,
        transport: TransportKind,
        engine: Arc<EngineInner<H>>,
        me: Weak<Session<H>>,
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
                direct: None,
            }),
            heartbeat: AtomicU32::new(0),
            last_packet_ms: AtomicU64::new(0),
            last_ping_ms: AtomicU64::new(engine.millis()),
            pong_deadline_ms: AtomicU64::new(0),
            engine,
            me,
        }
    }

    /// This session, while it exists.
    pub(crate) fn upgrade(&self) -> Option<Arc<Self>> {
        self.me.upgrade()
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
        crate::engine::v3::takes_binary(&self.info.query)
    }

    /// The current transport.
    pub fn transport(&self) -> TransportKind {
        self.state.lock().transport
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed.is_some()
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
}

impl State {
    /// The queued frames are taken for writing: how long the oldest waited.
    #[inline]
    fn record_wait(&mut self) {
        if let Some(oldest) = self.oldest.take() {
            crate::metrics::outgoing_wait(oldest.elapsed());
        }
    }

    /// Whether the transport can take a packet now (Node's `writable`).
    #[inline]
    fn writable(&self) -> bool {
        self.frames.is_empty()
            && match self.transport {
                TransportKind::Polling => self.get_active,
                TransportKind::WebSocket => !self.ws_writing,
            }
    }

    #[inline]
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
