//! WebSocket handshakes: a new session over WebSocket, or a polling
//! session probing an upgrade.

use super::query::parse_query;
use super::request::RequestInfo;
use super::response::{Responder, ResponseBody};
use super::session::{Protocol, Session, TransportKind};
use super::v3;
use super::ws::{self, Link, Mode, SharedTcp, deflate};
use super::{Engine, EngineHandler};
use crate::slot::ConnectionSlot;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Opens a new session over WebSocket.
pub(super) fn handshake<H: EngineHandler, B>(
    engine: &Engine<H>,
    mut req: Request<B>,
    query: Vec<(String, String)>,
    responder: &Responder<'_>,
) -> Response<ResponseBody> {
    let accept = match ws::accept_key(req.headers()) {
        Ok(accept) => accept,
        Err(why) => return responder.upgrade_refused(why),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let slot = req.extensions_mut().remove::<ConnectionSlot>();
    let (deflate, extensions) = negotiate(engine, req.headers());
    let (parts, _) = req.into_parts();
    let sid = engine.new_sid();
    let cookie = engine
        .config()
        .cookie
        .as_ref()
        .map(|c| c.header_value(&sid));
    // Boxed: what the task captures stays in it for the connection's whole
    // life, and this is needed only until the upgrade completes.
    let opening = Box::new(Opening {
        engine: engine.clone(),
        sid,
        info: RequestInfo::from_parts(&parts, query),
        deflate,
    });
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let (session, link) = opening.open();
                let timeout = session.engine.config.upgrade_timeout;
                serve(upgraded, session, Mode::Open, timeout, link).await;
            }
            Err(e) => tracing::debug!(error = %e, "websocket handshake not completed"),
        }
        // The connection stays counted while the WebSocket lives.
        drop(slot);
    });
    switching_protocols(&accept, cookie, extensions)
}

/// What opens a session once its WebSocket upgrade completes.
struct Opening<H: EngineHandler> {
    engine: Engine<H>,
    sid: crate::sid::Sid,
    info: RequestInfo,
    deflate: Option<deflate::Agreed>,
}

impl<H: EngineHandler> Opening<H> {
    /// Opens the session; returns it with how its frames are encoded.
    /// Takes the box: it is freed here, not kept by the task until the
    /// connection ends.
    fn open(self: Box<Self>) -> (Arc<Session<H>>, Link) {
        let Opening {
            engine,
            sid,
            info,
            deflate,
        } = *self;
        let session = engine.open(sid, Arc::new(info), TransportKind::WebSocket);
        let link = Link {
            takes_binary: session.takes_binary(),
            deflate,
        };
        (session, link)
    }
}

/// permessage-deflate, when the server has it on and the client offers it:
/// what was agreed, and the `Sec-WebSocket-Extensions` answer.
fn negotiate<H: EngineHandler>(
    engine: &Engine<H>,
    headers: &http::HeaderMap,
) -> (Option<deflate::Agreed>, Option<String>) {
    engine
        .config()
        .per_message_deflate
        .as_ref()
        .and_then(|config| deflate::negotiate(headers, config))
        .unzip()
}

/// Accepts a WebSocket for an existing polling session: the upgrade probe.
pub(super) fn probe<H: EngineHandler, B>(
    engine: &Engine<H>,
    mut req: Request<B>,
    session: Arc<Session<H>>,
    responder: &Responder<'_>,
) -> Response<ResponseBody> {
    let accept = match ws::accept_key(req.headers()) {
        Ok(accept) => accept,
        Err(why) => return responder.upgrade_refused(why),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let slot = req.extensions_mut().remove::<ConnectionSlot>();
    let can_upgrade = engine.config().allow_upgrades && session.begin_upgrade();
    let (deflate, extensions) = negotiate(engine, req.headers());
    let link = Link {
        takes_binary: v3::takes_binary(&parse_query(req.uri().query())),
        deflate,
    };
    let timeout = engine.config().upgrade_timeout;
    tokio::spawn(async move {
        let _slot = slot;
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(sid = %session.sid(), error = %e, "upgrade handshake not completed");
                if can_upgrade {
                    session.abort_upgrade();
                }
                return;
            }
        };
        if can_upgrade {
            serve(upgraded, session, Mode::Probe, timeout, link).await;
        } else {
            let mut io = TokioIo::new(upgraded);
            // Already upgraded or upgrading: Node accepts, then closes.
            tracing::debug!(sid = %session.sid(), "second upgrade attempt refused");
            let mut close = bytes::BytesMut::new();
            ws::frame::encode_close(&mut close, ws::frame::CLOSE_NORMAL);
            let _ = io.write_all(&close).await;
            let _ = io.shutdown().await;
        }
    });
    switching_protocols(&accept, None, extensions)
}

/// Runs the WebSocket over the upgraded connection: as a plain TCP socket
/// producers may write to directly when it is one, else through hyper.
async fn serve<H: EngineHandler>(
    upgraded: hyper::upgrade::Upgraded,
    session: Arc<Session<H>>,
    mode: Mode,
    timeout: Duration,
    link: Link,
) {
    match plain_tcp(upgraded, link, session.protocol()) {
        Ok(tcp) => ws::run(tcp, session, mode, timeout, link).await,
        Err(upgraded) => ws::run(TokioIo::new(upgraded), session, mode, timeout, link).await,
    }
}

/// The upgraded connection as a plain TCP socket that producers may write
/// to beside its task (see `ws::direct`), when it is one: served by this
/// crate's listener or by axum/hyper over `TokioIo<TcpStream>`, not TLS.
fn plain_tcp(
    upgraded: hyper::upgrade::Upgraded,
    link: Link,
    protocol: Protocol,
) -> Result<SharedTcp, hyper::upgrade::Upgraded> {
    let v3 = protocol == Protocol::V3;
    upgraded
        .downcast::<TokioIo<tokio::net::TcpStream>>()
        .map(|parts| SharedTcp::new(parts.io.into_inner(), parts.read_buf, link, v3))
}

fn switching_protocols(
    accept: &str,
    cookie: Option<String>,
    extensions: Option<String>,
) -> Response<ResponseBody> {
    let mut builder = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept);
    if let Some(cookie) = cookie {
        builder = builder.header(header::SET_COOKIE, cookie);
    }
    if let Some(extensions) = extensions {
        builder = builder.header(header::SEC_WEBSOCKET_EXTENSIONS, extensions);
    }
    builder.body(Full::new(Bytes::new())).unwrap_or_else(|_| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}
