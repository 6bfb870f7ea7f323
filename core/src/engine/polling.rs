//! HTTP long-polling: a GET waits for queued packets, a POST delivers the
//! client's packets. One GET and one POST at a time per session; an
//! overlapping request closes the session, as in Node.

use super::packet::{Incoming, NOOP, encode_payload, parse_payload};
use super::request::BoxError;
use super::response::{Responder, ResponseBody};
use super::session::{PollAnswer, Protocol, Session};
use super::v3;
use super::{CloseReason, EngineHandler};
use crate::limits::Refused;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use std::sync::Arc;

/// Answers a GET with queued packets, waiting for some if there are none.
pub(super) async fn get<H: EngineHandler>(
    session: Arc<Session<H>>,
    responder: &Responder<'_>,
    handshake: bool,
) -> Response<ResponseBody> {
    if !session.begin_get() {
        tracing::debug!(sid = %session.sid(), "overlapping poll from client");
        session.close(CloseReason::TransportError);
        return responder.status(StatusCode::BAD_REQUEST);
    }
    let mut pending = PendingGet {
        session: &session,
        answered: false,
    };
    let answer = std::future::poll_fn(|cx| session.poll_get(cx)).await;
    pending.answered = true;
    drop(pending);
    let noop = [NOOP];
    let frames = match &answer {
        PollAnswer::Frames(frames) => &frames[..],
        PollAnswer::Noop => &noop[..],
    };
    let (body, binary) = match session.protocol() {
        Protocol::V4 => (encode_payload(frames), false),
        Protocol::V3 => v3::encode_payload(frames, session.takes_binary()),
    };
    if session.is_closed() {
        // The last packets of a closed session are collected: forget it.
        session.engine.remove(session.sid());
    }
    let cookie = session
        .engine
        .config
        .cookie
        .as_ref()
        .filter(|_| handshake)
        .map(|c| (c, session.sid().as_str()));
    responder.payload(body, binary, cookie)
}

/// A GET in progress. If the client goes away before it is answered (the
/// request future is dropped), the session fails, as Node's "poll
/// connection closed prematurely".
struct PendingGet<'a, H: EngineHandler> {
    session: &'a Arc<Session<H>>,
    answered: bool,
}

impl<H: EngineHandler> Drop for PendingGet<'_, H> {
    fn drop(&mut self) {
        self.session.end_get();
        if !self.answered && !self.session.is_closed() {
            tracing::debug!(sid = %self.session.sid(), "poll connection closed prematurely");
            self.session.close(CloseReason::TransportError);
        }
    }
}

/// Reads a POST body and delivers its packets in order.
pub(super) async fn post<H, B>(
    session: Arc<Session<H>>,
    req: Request<B>,
    responder: &Responder<'_>,
) -> Response<ResponseBody>
where
    H: EngineHandler,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    if !session.begin_post() {
        tracing::debug!(sid = %session.sid(), "overlapping data request from client");
        session.close(CloseReason::TransportError);
        return responder.status(StatusCode::BAD_REQUEST);
    }
    let _slot = PostSlot(&session);
    let (body, binary) = match read_body(&session, req).await {
        Ok(read) => read,
        Err(failed) => return fail(&session, responder, failed),
    };
    if session.is_closed() {
        // A closed session waiting for its last poll ignores data.
        return responder.ok();
    }
    let packets = match parse_body(&session, &body, binary) {
        Some(packets) => packets,
        None => {
            let failed = Failed {
                reason: CloseReason::ParseError,
                status: StatusCode::BAD_REQUEST,
                why: "polling body is not UTF-8",
            };
            return fail(&session, responder, failed);
        }
    };
    for packet in packets {
        match packet {
            Ok(packet) => session.receive(packet),
            Err(e) => {
                crate::refused!(Refused::Malformed, sid = %session.sid(), error = %e, "invalid packet");
                session.close(CloseReason::ParseError);
                return responder.status(StatusCode::BAD_REQUEST);
            }
        }
        if session.is_closed() {
            break;
        }
    }
    responder.ok()
}

/// Why a POST failed: how its session closes and what the client hears.
struct Failed {
    reason: CloseReason,
    status: StatusCode,
    why: &'static str,
}

/// Closes the session for a failed POST and answers with its status.
fn fail<H: EngineHandler>(
    session: &Arc<Session<H>>,
    responder: &Responder<'_>,
    failed: Failed,
) -> Response<ResponseBody> {
    let Failed {
        reason,
        status,
        why,
    } = failed;
    tracing::debug!(sid = %session.sid(), %reason, "{why}");
    session.close(reason);
    responder.status(status)
}

/// Reads a POST body within the size and time limits: the body, and
/// whether it is a v3 binary payload.
async fn read_body<H, B>(
    session: &Arc<Session<H>>,
    req: Request<B>,
) -> Result<(Bytes, bool), Failed>
where
    H: EngineHandler,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let limit = session.engine.config.max_http_buffer_size;
    let failed = |reason: CloseReason, status: StatusCode, why: &'static str| {
        Err(Failed {
            reason,
            status,
            why,
        })
    };
    let binary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == v3::BINARY_PAYLOAD);
    if binary && session.protocol() == Protocol::V4 {
        return failed(
            CloseReason::TransportError,
            StatusCode::BAD_REQUEST,
            "binary polling bodies are not protocol v4",
        );
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        crate::refused!(Refused::MessageSize, sid = %session.sid(), max = limit, "polling body too large");
        return failed(
            CloseReason::TransportError,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload too large",
        );
    }
    let timeout = session.engine.config.http.request_timeout;
    let collected = tokio::time::timeout(timeout, Limited::new(req.into_body(), limit).collect());
    match collected.await {
        Ok(Ok(collected)) => Ok((collected.to_bytes(), binary)),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            crate::refused!(Refused::MessageSize, sid = %session.sid(), max = limit, "polling body too large");
            failed(
                CloseReason::TransportError,
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload too large",
            )
        }
        Ok(Err(_)) => failed(
            CloseReason::TransportError,
            StatusCode::BAD_REQUEST,
            "data request closed prematurely",
        ),
        Err(_) => {
            crate::refused!(Refused::RequestTimeout, sid = %session.sid(), "polling body not received within the request timeout");
            failed(
                CloseReason::TransportError,
                StatusCode::REQUEST_TIMEOUT,
                "request timeout",
            )
        }
    }
}

/// The packets of a POST body, each parsed or why it is not; `None` when
/// a v4 body is not UTF-8.
fn parse_body<H: EngineHandler>(
    session: &Session<H>,
    body: &Bytes,
    binary: bool,
) -> Option<Vec<Result<Incoming, String>>> {
    Some(match session.protocol() {
        Protocol::V4 => {
            let Ok(text) = std::str::from_utf8(body) else {
                crate::refused!(Refused::Malformed, sid = %session.sid(), "polling body is not UTF-8");
                return None;
            };
            parse_payload(text)
                .map(|p| p.map_err(|e| e.to_string()))
                .collect()
        }
        Protocol::V3 => {
            let packets = if binary {
                v3::decode_binary_payload(body)
            } else {
                match std::str::from_utf8(body) {
                    Ok(text) => v3::decode_text_payload(text),
                    Err(_) => vec![Err(v3::PayloadError::NotUtf8)],
                }
            };
            packets
                .into_iter()
                .map(|p| p.map_err(|e| e.to_string()))
                .collect()
        }
    })
}

struct PostSlot<'a, H: EngineHandler>(&'a Arc<Session<H>>);

impl<H: EngineHandler> Drop for PostSlot<'_, H> {
    fn drop(&mut self) {
        self.0.end_post();
    }
}
