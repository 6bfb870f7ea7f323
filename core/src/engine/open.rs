//! Opening a session: its open packet, its first heartbeat, and the
//! handler's `on_open`.

use super::packet::Frame;
use super::request::RequestInfo;
use super::session::{Session, TransportKind};
use super::{CloseReason, Engine, EngineHandler};
use crate::sid::Sid;
use bytes::Bytes;
use std::sync::Arc;

impl<H: EngineHandler> Engine<H> {
    /// Creates a session, queues its open packet and starts its heartbeat.
    pub(super) fn open(
        &self,
        sid: Sid,
        info: Arc<RequestInfo>,
        transport: TransportKind,
    ) -> Arc<Session<H>> {
        let config = &self.inner.config;
        let session = Arc::new_cyclic(|me| {
            Session::new(sid, info, transport, self.inner.clone(), me.clone())
        });
        let upgrades = if transport == TransportKind::Polling
            && config.allow_upgrades
            && config.transports.websocket
        {
            r#"["websocket"]"#
        } else {
            "[]"
        };
        // The same for v3 clients, which ignore maxPayload (as Node sends it).
        let open = format!(
            r#"0{{"sid":"{}","upgrades":{},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
            session.sid(),
            upgrades,
            config.ping_interval.as_millis(),
            config.ping_timeout.as_millis(),
            config.max_http_buffer_size
        );
        session.push(&[Frame::Text(Bytes::from(open))], false);
        session.touch();
        self.inner.insert(session.clone());
        self.inner
            .schedule_ping(&session, session.heartbeat_generation());
        tracing::debug!(sid = %session.sid(), ?transport, "session opened");
        crate::metrics::handshake(transport.as_str());
        self.inner.handler.on_open(&session);
        // A drain that began after this handshake was let in did not see
        // the session (it closes those in the map, then none is let in):
        // close it as it would have.
        if self
            .inner
            .draining
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            session.close(CloseReason::ServerShuttingDown);
        }
        session
    }
}
