//! Routing of one HTTP request to the handshake, a polling exchange or a
//! WebSocket upgrade, with the checks and error codes of Node's engine.io
//! (`verify`): transport, then session id, then handshake method, then the
//! `allow_request` hook, then the protocol version.

use super::request::{
    ContentEncoding, EngineError, Responder, is_preflight, parse_query, query_param,
};
use super::session::{Session, TransportKind};
use super::{
    CloseReason, Engine, EngineHandler, Frame, RemoteAddr, RequestInfo, forward, polling, upgrade,
    ws,
};
use crate::limits::Refused;
use crate::sid::Sid;
use bytes::Bytes;
use http::{Method, Request, Response, header};
use std::sync::Arc;

use super::ResponseBody;

/// The error type of request bodies the engine accepts.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a request for an unknown owner waits while the node settles.
const OWNER_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(50);
const OWNER_WAIT_STEPS: usize = 40;

impl<H: EngineHandler> Engine<H> {
    /// Serves one Engine.IO request (any path; the caller routes by path).
    pub async fn handle<B>(&self, req: Request<B>) -> Response<ResponseBody>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let config = &self.inner.config;
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let responder = Responder {
            cors: config.cors.as_ref(),
            origin: origin.as_deref(),
            compression: config
                .http_compression
                .and_then(|c| ContentEncoding::accepted(req.headers()).map(|e| (e, c.threshold))),
        };
        if config.cors.is_some() && is_preflight(req.method(), req.headers()) {
            return responder.preflight(req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS));
        }

        let query = parse_query(req.uri().query());
        let is_upgrade = ws::is_upgrade_request(req.headers());
        let refuse = |error: EngineError, message: Option<&str>, status| {
            tracing::debug!(
                code = error as u8,
                message = message.unwrap_or(error.message()),
                "request refused"
            );
            if is_upgrade {
                responder.upgrade_refused(message.unwrap_or(error.message()))
            } else {
                responder.error(error, message, status)
            }
        };

        let transport = match query_param(&query, "transport") {
            Some("polling") if config.transports.polling => TransportKind::Polling,
            Some("websocket") if config.transports.websocket => TransportKind::WebSocket,
            _ => return refuse(EngineError::UnknownTransport, None, None),
        };

        if let Some(sid) = query_param(&query, "sid") {
            let session = self
                .inner
                .get(sid)
                .filter(|session| !session.close_if_pong_overdue());
            let Some(session) = session else {
                if let Some(owner) = self.owner_of(sid, req.headers()).await {
                    self.inner
                        .forwarded
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return match forward::forward(req, &owner, config).await {
                        Ok(response) => response,
                        Err(e) => {
                            // The owner is gone: the client reconnects.
                            tracing::debug!(%sid, %owner, error = %e, "forwarding failed");
                            refuse(EngineError::UnknownSid, None, None)
                        }
                    };
                }
                return refuse(EngineError::UnknownSid, None, None);
            };
            if is_upgrade {
                if transport != TransportKind::WebSocket {
                    return refuse(EngineError::BadRequest, None, None);
                }
                return upgrade::probe(self, req, session, &responder);
            }
            if session.transport() != transport {
                return refuse(EngineError::BadRequest, None, None);
            }
            return match *req.method() {
                Method::GET => polling::get(session, &responder, false).await,
                Method::POST => polling::post(session, req, &responder).await,
                _ => refuse(EngineError::BadRequest, None, None),
            };
        }

        if req.method() != Method::GET {
            return refuse(EngineError::BadHandshakeMethod, None, None);
        }
        if self
            .inner
            .draining
            .load(std::sync::atomic::Ordering::Acquire)
        {
            if let Some(response) = self.handshake_elsewhere(req).await {
                return response;
            }
            return refuse(
                EngineError::Forbidden,
                Some("Server is shutting down"),
                Some(http::StatusCode::SERVICE_UNAVAILABLE),
            );
        }
        if transport == TransportKind::WebSocket && !is_upgrade {
            return refuse(EngineError::BadRequest, None, None);
        }
        let req = match &config.allow_request {
            None => req,
            Some(allow) => {
                let (parts, body) = req.into_parts();
                if let Err(refusal) = (allow.0)(&parts).await {
                    return refuse(
                        EngineError::Forbidden,
                        Some(&refusal.message),
                        Some(refusal.status),
                    );
                }
                Request::from_parts(parts, body)
            }
        };
        match query_param(&query, "EIO") {
            Some("4") => {}
            Some("3") if config.allow_eio3 => {}
            _ => return refuse(EngineError::UnsupportedProtocolVersion, None, None),
        }
        if let (Some(rates), Some(address)) = (
            &self.inner.session_rates,
            req.extensions().get::<RemoteAddr>(),
        ) && !rates.take(address.0.ip())
        {
            crate::refused!(Refused::SessionRate, peer = %address.0, "new sessions too fast from one address: handshake refused");
            return refuse(
                EngineError::Forbidden,
                Some("Too many new sessions from this address"),
                Some(http::StatusCode::TOO_MANY_REQUESTS),
            );
        }
        match transport {
            TransportKind::Polling => {
                let (parts, _) = req.into_parts();
                let session = self.open(
                    self.new_sid(),
                    RequestInfo::from_parts(&parts, query),
                    transport,
                );
                polling::get(session, &responder, true).await
            }
            TransportKind::WebSocket => upgrade::handshake(self, req, query, &responder),
        }
    }

    /// The address of the node owning `sid`, when it is another live node
    /// and the request was not forwarded already. Right after this node
    /// started, an owner not known yet is waited for a moment: its address
    /// arrives with its first messages.
    async fn owner_of(&self, sid: &str, headers: &http::HeaderMap) -> Option<String> {
        let router = self.inner.config.session_router.as_ref()?;
        if headers.contains_key(forward::FORWARDED_HEADER) {
            return None;
        }
        let tag = forward::tag_of(sid)?;
        if tag == router.tag() {
            return None;
        }
        for _ in 0..OWNER_WAIT_STEPS {
            if let Some(owner) = router.owner(tag) {
                return Some(owner);
            }
            if !router.settling() {
                return None;
            }
            tokio::time::sleep(OWNER_WAIT_STEP).await;
        }
        router.owner(tag)
    }

    /// While draining, a new session is opened on another live node: the
    /// handshake is forwarded there. `None` when there is none.
    async fn handshake_elsewhere<B>(&self, req: Request<B>) -> Option<Response<ResponseBody>>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let router = self.inner.config.session_router.as_ref()?;
        if req.headers().contains_key(forward::FORWARDED_HEADER) {
            return None;
        }
        let peer = router.peer()?;
        let config = &self.inner.config;
        self.inner
            .forwarded
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match forward::forward(req, &peer, config).await {
            Ok(response) => Some(response),
            Err(e) => {
                tracing::debug!(%peer, error = %e, "handshake not forwarded while draining");
                None
            }
        }
    }

    /// Creates a session, queues its open packet and starts its heartbeat.
    pub(super) fn open(
        &self,
        sid: Sid,
        info: RequestInfo,
        transport: TransportKind,
    ) -> Arc<Session<H>> {
        let config = &self.inner.config;
        let session = Arc::new(Session::new(
            sid,
            Arc::new(info),
            transport,
            self.inner.clone(),
        ));
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
