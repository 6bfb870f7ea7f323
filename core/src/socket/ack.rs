//! Acknowledgements: answering the client's acks, and awaiting the
//! client's answers to ours.

use crate::adapter::AckEvent;
use crate::value::{Value, from_value};
use crate::vocab::EmitError;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Sleep;

/// Where the client's answer to one of our packets goes.
pub(crate) enum AckSink {
    /// One socket's `emit_with_ack`: all answer arguments.
    Single(oneshot::Sender<Vec<Value>>),
    /// A broadcast: the first answer argument, with the others'.
    Broadcast(mpsc::UnboundedSender<AckEvent>),
}

impl AckSink {
    pub(crate) fn resolve(self, mut args: Vec<Value>) {
        match self {
            AckSink::Single(tx) => {
                let _ = tx.send(args);
            }
            AckSink::Broadcast(tx) => {
                let first = if args.is_empty() {
                    Value::Null
                } else {
                    args.swap_remove(0)
                };
                let _ = tx.send(AckEvent::Response(first));
            }
        }
    }

    /// Whether nobody waits for this answer any more.
    pub(crate) fn is_abandoned(&self) -> bool {
        match self {
            AckSink::Single(tx) => tx.is_closed(),
            AckSink::Broadcast(tx) => tx.is_closed(),
        }
    }
}

/// Where an [`AckFuture`] takes its pending entry away when it stops
/// waiting: the socket's table of acknowledgements it awaits.
pub(crate) trait PendingAcks: Send + Sync {
    /// Forgets the acknowledgement `id`.
    fn forget(&self, id: u64);
}

/// Why no answer came back.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    /// No answer within the timeout (Node: "operation has timed out").
    #[error("operation has timed out")]
    Timeout,
    /// The socket disconnected first.
    #[error("the socket disconnected before answering")]
    Disconnected,
    /// The packet could not be sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
}

/// The client's answer to an `emit_with_ack`: all its arguments.
///
/// The packet is sent when `emit_with_ack` is called, not when this is
/// awaited; dropping it stops waiting.
pub struct AckFuture {
    state: State,
}

enum State {
    Failed(Option<AckError>),
    Waiting {
        rx: oneshot::Receiver<Vec<Value>>,
        deadline: Pin<Box<Sleep>>,
        socket: Weak<dyn PendingAcks>,
        id: u64,
    },
    Done,
}

impl AckFuture {
    pub(crate) fn failed(error: AckError) -> Self {
        AckFuture {
            state: State::Failed(Some(error)),
        }
    }

    pub(crate) fn waiting(
        rx: oneshot::Receiver<Vec<Value>>,
        timeout: std::time::Duration,
        socket: Weak<dyn PendingAcks>,
        id: u64,
    ) -> Self {
        AckFuture {
            state: State::Waiting {
                rx,
                deadline: Box::pin(tokio::time::sleep(timeout)),
                socket,
                id,
            },
        }
    }

    /// The first answer argument, converted to `T`.
    pub async fn first<T: DeserializeOwned>(self) -> Result<T, AckError> {
        let mut args = self.await?;
        let first = if args.is_empty() {
            Value::Null
        } else {
            args.swap_remove(0)
        };
        from_value(first).map_err(|e| AckError::Emit(EmitError::Serialize(e)))
    }
}

impl Future for AckFuture {
    type Output = Result<Vec<Value>, AckError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outcome = match &mut self.state {
            State::Failed(e) => Err(e.take().unwrap_or(AckError::Disconnected)),
            State::Done => Err(AckError::Disconnected),
            State::Waiting { rx, deadline, .. } => match Pin::new(rx).poll(cx) {
                Poll::Ready(Ok(args)) => {
                    crate::metrics::ack(true);
                    Ok(args)
                }
                Poll::Ready(Err(_)) => Err(AckError::Disconnected),
                Poll::Pending => match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        crate::metrics::ack(false);
                        Err(AckError::Timeout)
                    }
                    Poll::Pending => return Poll::Pending,
                },
            },
        };
        self.forget_pending();
        self.state = State::Done;
        Poll::Ready(outcome)
    }
}

impl AckFuture {
    fn forget_pending(&mut self) {
        if let State::Waiting { socket, id, .. } = &self.state
            && let Some(socket) = socket.upgrade()
        {
            socket.forget(*id);
        }
    }
}

impl Drop for AckFuture {
    fn drop(&mut self) {
        self.forget_pending();
    }
}

/// The acks a socket awaits from its client, by id: allocated on the first
/// one (most sockets of a broadcast-only app never await any).
#[derive(Default)]
// Boxed on purpose: an empty map inline costs every socket 48 bytes.
#[allow(clippy::box_collection)]
pub(crate) struct PendingAckMap(Option<Box<std::collections::HashMap<u64, AckSink>>>);

impl PendingAckMap {
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |map| map.len())
    }

    pub fn insert(&mut self, id: u64, sink: AckSink) {
        self.0.get_or_insert_default().insert(id, sink);
    }

    pub fn remove(&mut self, id: &u64) -> Option<AckSink> {
        self.0.as_mut()?.remove(id)
    }

    pub fn retain(&mut self, keep: impl FnMut(&u64, &mut AckSink) -> bool) {
        if let Some(map) = &mut self.0 {
            map.retain(keep);
        }
    }

    pub fn clear(&mut self) {
        self.0 = None;
    }
}
