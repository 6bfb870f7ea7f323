//! Routing of one HTTP request to the handshake, a polling exchange or a
//! WebSocket upgrade, with the checks and error codes of Node's engine.io
//! (`verify`): transport, then session id, then handshake method, then the
//! `allow_request` hook, then the protocol version.

use super::query::{parse_query, query_param};
use super::request::{BoxError, RemoteAddr, RequestInfo};
use super::response::{ContentEncoding, EngineError, Responder, ResponseBody, is_preflight};
use super::router::{FORWARDED_HEADER, tag_of};
use super::session::TransportKind;
use super::{Engine, EngineHandler, forward, polling, upgrade, ws};
use crate::limits::Refused;
use http::{Method, Request, Response, StatusCode, header};
use std::sync::Arc;

/// How long a request for an unknown owner waits while the node settles.
const OWNER_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(50);
const OWNER_WAIT_STEPS: usize = 40;

/// How one request is answered: its responder (CORS, compression), and
/// whether it asks for a WebSocket, whose refusals are plain text.
struct Answer<'a> {
    responder: Responder<'a>,
    is_upgrade: bool,
}

impl Answer<'_> {
    /// Refuses the request with one of Node's errors.
    fn refuse(
        &self,
        error: EngineError,
        message: Option<&str>,
        status: Option<StatusCode>,
    ) -> Response<ResponseBody> {
        tracing::debug!(
            code = error as u8,
            message = message.unwrap_or(error.message()),
            "request refused"
        );
        if self.is_upgrade {
            self.responder
                .upgrade_refused(message.unwrap_or(error.message()))
        } else {
            self.responder.error(error, message, status)
        }
    }
}

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
        let answer = Answer {
            responder,
            is_upgrade: ws::is_upgrade_request(req.headers()),
        };
        let transport = match query_param(&query, "transport") {
            Some("polling") if config.transports.polling => TransportKind::Polling,
            Some("websocket") if config.transports.websocket => TransportKind::WebSocket,
            _ => return answer.refuse(EngineError::UnknownTransport, None, None),
        };
        match query_param(&query, "sid") {
            Some(sid) => self.serve_session(req, sid, transport, &answer).await,
            None => self.handshake(req, query, transport, &answer).await,
        }
    }

    /// A request of an open session: a poll, a POST or an upgrade probe;
    /// forwarded to its owner when another node has it.
    async fn serve_session<B>(
        &self,
        req: Request<B>,
        sid: &str,
        transport: TransportKind,
        answer: &Answer<'_>,
    ) -> Response<ResponseBody>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let session = self
            .inner
            .get(sid)
            .filter(|session| !session.close_if_pong_overdue());
        let Some(session) = session else {
            if let Some(owner) = self.owner_of(sid, req.headers()).await {
                self.inner
                    .forwarded
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return match forward::forward(req, &owner, &self.inner.config).await {
                    Ok(response) => response,
                    Err(e) => {
                        // The owner is gone: the client reconnects.
                        tracing::debug!(%sid, %owner, error = %e, "forwarding failed");
                        answer.refuse(EngineError::UnknownSid, None, None)
                    }
                };
            }
            return answer.refuse(EngineError::UnknownSid, None, None);
        };
        if answer.is_upgrade {
            if transport != TransportKind::WebSocket {
                return answer.refuse(EngineError::BadRequest, None, None);
            }
            return upgrade::probe(self, req, session, &answer.responder);
        }
        if session.transport() != transport {
            return answer.refuse(EngineError::BadRequest, None, None);
        }
        match *req.method() {
            Method::GET => polling::get(session, &answer.responder, false).await,
            Method::POST => polling::post(session, req, &answer.responder).await,
            _ => answer.refuse(EngineError::BadRequest, None, None),
        }
    }

    /// A request without a session id: a handshake, checked as Node checks
    /// it, then a new session over polling or WebSocket.
    async fn handshake<B>(
        &self,
        req: Request<B>,
        query: Vec<(String, String)>,
        transport: TransportKind,
        answer: &Answer<'_>,
    ) -> Response<ResponseBody>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let config = &self.inner.config;
        if req.method() != Method::GET {
            return answer.refuse(EngineError::BadHandshakeMethod, None, None);
        }
        if self
            .inner
            .draining
            .load(std::sync::atomic::Ordering::Acquire)
        {
            if let Some(response) = self.handshake_elsewhere(req).await {
                return response;
            }
            return answer.refuse(
                EngineError::Forbidden,
                Some("Server is shutting down"),
                Some(StatusCode::SERVICE_UNAVAILABLE),
            );
        }
        if transport == TransportKind::WebSocket && !answer.is_upgrade {
            return answer.refuse(EngineError::BadRequest, None, None);
        }
        let req = match self.allow(req, answer).await {
            Ok(req) => req,
            Err(refused) => return refused,
        };
        match query_param(&query, "EIO") {
            Some("4") => {}
            Some("3") if config.allow_eio3 => {}
            _ => return answer.refuse(EngineError::UnsupportedProtocolVersion, None, None),
        }
        if let (Some(rates), Some(address)) = (
            &self.inner.session_rates,
            req.extensions().get::<RemoteAddr>(),
        ) && !rates.take(address.0.ip())
        {
            crate::refused!(Refused::SessionRate, peer = %address.0, "new sessions too fast from one address: handshake refused");
            return answer.refuse(
                EngineError::Forbidden,
                Some("Too many new sessions from this address"),
                Some(StatusCode::TOO_MANY_REQUESTS),
            );
        }
        match transport {
            TransportKind::Polling => {
                let (parts, _) = req.into_parts();
                let session = self.open(
                    self.new_sid(),
                    Arc::new(RequestInfo::from_parts(&parts, query)),
                    transport,
                );
                polling::get(session, &answer.responder, true).await
            }
            TransportKind::WebSocket => upgrade::handshake(self, req, query, &answer.responder),
        }
    }

    /// The `allow_request` hook's verdict on a handshake: the request back,
    /// or the refusal to answer with.
    async fn allow<B>(
        &self,
        req: Request<B>,
        answer: &Answer<'_>,
    ) -> Result<Request<B>, Response<ResponseBody>> {
        let Some(allow) = &self.inner.config.allow_request else {
            return Ok(req);
        };
        let (parts, body) = req.into_parts();
        if let Err(refusal) = (allow.0)(&parts).await {
            return Err(answer.refuse(
                EngineError::Forbidden,
                Some(&refusal.message),
                Some(refusal.status),
            ));
        }
        Ok(Request::from_parts(parts, body))
    }

    /// The address of the node owning `sid`, when it is another live node
    /// and the request was not forwarded already. Right after this node
    /// started, an owner not known yet is waited for a moment: its address
    /// arrives with its first messages.
    async fn owner_of(&self, sid: &str, headers: &http::HeaderMap) -> Option<String> {
        let router = self.inner.config.session_router.as_ref()?;
        if headers.contains_key(FORWARDED_HEADER) {
            return None;
        }
        let tag = tag_of(sid)?;
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
        if req.headers().contains_key(FORWARDED_HEADER) {
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
}
