//! The engine itself: its table of open sessions, the heartbeat timers
//! that ping them, and its counters.

use super::close::CloseReason;
use super::config::EngineConfig;
use super::handler::EngineHandler;
use super::session::{self, Session, TransportKind};
use crate::limits::AddressRates;
use crate::sid::Sid;
use crate::timer::FifoTimer;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

/// An Engine.IO server: the session table and its heartbeat.
pub struct Engine<H: EngineHandler> {
    pub(crate) inner: Arc<EngineInner<H>>,
}

impl<H: EngineHandler> Clone for Engine<H> {
    fn clone(&self) -> Self {
        Engine {
            inner: self.inner.clone(),
        }
    }
}

type HeartbeatItem<H> = (Weak<Session<H>>, u32);

/// A weak handle to an [`Engine`].
pub struct WeakEngine<H: EngineHandler>(Weak<EngineInner<H>>);

impl<H: EngineHandler> Clone for WeakEngine<H> {
    fn clone(&self) -> Self {
        WeakEngine(self.0.clone())
    }
}

impl<H: EngineHandler> WeakEngine<H> {
    /// The engine, if it still exists.
    pub fn upgrade(&self) -> Option<Engine<H>> {
        self.0.upgrade().map(|inner| Engine { inner })
    }
}

/// What an [`Engine`] and each of its sessions share: the settings, the
/// handler, the session table and the heartbeat timers.
pub(crate) struct EngineInner<H: EngineHandler> {
    pub config: EngineConfig,
    pub handler: H,
    sessions: RwLock<HashMap<Sid, Arc<Session<H>>>>,
    pings: FifoTimer<HeartbeatItem<H>>,
    pong_timeouts: FifoTimer<HeartbeatItem<H>>,
    epoch: Instant,
    /// Requests forwarded to the node owning their session.
    pub(crate) forwarded: AtomicU64,
    /// New sessions per client address, when limited.
    pub(crate) session_rates: Option<AddressRates>,
    /// The server is shutting down: new sessions go to another node.
    pub(crate) draining: std::sync::atomic::AtomicBool,
    /// Packets and bytes in and out, since the start.
    pub(crate) traffic: Traffic,
}

/// Packets and bytes a server received and queued, since it started.
#[derive(Default)]
pub(crate) struct Traffic {
    pub packets_received: AtomicU64,
    pub bytes_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    /// Of the packets sent, those written by the task that produced them.
    pub packets_written_directly: AtomicU64,
}

impl<H: EngineHandler> Engine<H> {
    /// A new engine serving `handler`.
    pub fn new(config: EngineConfig, handler: H) -> Self {
        // The pong deadline counts from the ping's own deadline, not from
        // when the timer task got to it, as Node's timers do.
        let pings = FifoTimer::new(
            config.ping_interval,
            |(session, generation): HeartbeatItem<H>, due: tokio::time::Instant| {
                if let Some(s) = session.upgrade()
                    && s.send_ping(generation, due.into_std())
                {
                    s.engine
                        .pong_timeouts
                        .schedule_from((session, generation), Some(due));
                }
            },
        );
        let pong_timeouts = FifoTimer::new(
            config.ping_timeout,
            |(session, generation): HeartbeatItem<H>, _| {
                if let Some(s) = session.upgrade()
                    && s.ping_timed_out(generation)
                {
                    s.engine.pong_timeouts.schedule((session, generation));
                }
            },
        );
        let session_rates = config.session_rate_per_address.map(AddressRates::new);
        Engine {
            inner: Arc::new(EngineInner {
                session_rates,
                draining: std::sync::atomic::AtomicBool::new(false),
                config,
                handler,
                sessions: RwLock::new(HashMap::new()),
                pings,
                pong_timeouts,
                epoch: Instant::now(),
                forwarded: AtomicU64::new(0),
                traffic: Traffic::default(),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// A handle that does not keep the engine alive.
    pub fn downgrade(&self) -> WeakEngine<H> {
        WeakEngine(Arc::downgrade(&self.inner))
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.inner.handler
    }

    /// The open session with this id.
    pub fn session(&self, sid: &str) -> Option<Arc<Session<H>>> {
        self.inner.sessions.read().get(sid).cloned()
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.inner.sessions.read().len()
    }

    /// How many sessions are open, and how many of them over polling.
    pub fn session_counts(&self) -> (usize, usize) {
        let sessions: Vec<_> = self.inner.sessions.read().values().cloned().collect();
        let polling = sessions
            .iter()
            .filter(|s| s.transport() == TransportKind::Polling)
            .count();
        (sessions.len(), polling)
    }

    /// How many requests were forwarded to the node owning their session.
    pub fn forwarded_requests(&self) -> u64 {
        self.inner.forwarded.load(Ordering::Relaxed)
    }

    /// Packets received, their bytes, packets queued, their bytes.
    pub fn traffic(&self) -> [u64; 4] {
        let t = &self.inner.traffic;
        [
            &t.packets_received,
            &t.bytes_received,
            &t.packets_sent,
            &t.bytes_sent,
        ]
        .map(|n| n.load(Ordering::Relaxed))
    }

    /// Of the packets sent, those written by the task that produced them.
    pub fn written_directly(&self) -> u64 {
        self.inner
            .traffic
            .packets_written_directly
            .load(Ordering::Relaxed)
    }

    /// A new session id; with a session router, it names this node.
    pub(crate) fn new_sid(&self) -> Sid {
        match &self.inner.config.session_router {
            Some(router) => Sid::from(format!("{}.{}", Sid::random(), router.tag())),
            None => Sid::random(),
        }
    }

    /// Starts a drain: new handshakes are forwarded to another live node
    /// (refused with 503 when there is none), and every session is closed
    /// with "server shutting down" (its client reconnects, elsewhere).
    /// Requests of other nodes' sessions are still forwarded.
    pub fn drain(&self) {
        self.inner
            .draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.close_all(CloseReason::ServerShuttingDown);
    }

    /// Whether a drain started.
    pub fn is_draining(&self) -> bool {
        self.inner
            .draining
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Closes every session.
    pub fn close_all(&self, reason: CloseReason) {
        let sessions: Vec<_> = self.inner.sessions.read().values().cloned().collect();
        for s in sessions {
            s.close(reason);
        }
    }
}

impl<H: EngineHandler> EngineInner<H> {
    pub(crate) fn millis(&self) -> u64 {
        session::millis_since(self.epoch)
    }

    /// An instant as milliseconds since the engine started.
    pub(crate) fn millis_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64
    }

    pub(crate) fn insert(&self, session: Arc<Session<H>>) {
        self.sessions.write().insert(session.sid().clone(), session);
    }

    pub(crate) fn get(&self, sid: &str) -> Option<Arc<Session<H>>> {
        self.sessions.read().get(sid).cloned()
    }

    pub(crate) fn remove(&self, sid: &Sid) {
        self.sessions.write().remove(sid);
    }

    /// Keeps a closed polling session reachable until its client collects
    /// the last packets, or for one heartbeat period.
    pub(crate) fn linger(&self, session: Arc<Session<H>>) {
        let wait = self.config.ping_interval + self.config.ping_timeout;
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            session.engine.remove(session.sid());
        });
    }

    /// Schedules the next ping of a session, and with it the deadline of its
    /// pong: the ping interval then the ping timeout from now.
    pub(crate) fn schedule_ping(&self, session: &Arc<Session<H>>, generation: u32) {
        let heartbeat = self.config.ping_interval + self.config.ping_timeout;
        session.set_pong_deadline(self.millis().saturating_add(heartbeat.as_millis() as u64));
        self.pings.schedule((Arc::downgrade(session), generation));
    }
}
