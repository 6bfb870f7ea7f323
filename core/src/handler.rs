//! Handlers: what user code registers, and how it is run.
//!
//! Handlers are async closures. Each runs inline, in the order its packet
//! arrived, until its first `.await` that is not ready; only then is the
//! rest spawned as a task. So a handler that answers at once (most do)
//! answers in order and costs no task, as in Node where a listener runs
//! synchronously; a handler that waits does not hold up the connection.

use crate::adapter::BoxFuture;
use crate::socket::{DisconnectReason, Socket};
use crate::value::Value;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Called when a socket connects to a namespace.
pub trait ConnectHandler: Send + Sync + 'static {
    /// Handles a new socket.
    fn call(&self, socket: Socket) -> BoxFuture<()>;
}

impl<F, Fut> ConnectHandler for F
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket) -> BoxFuture<()> {
        Box::pin(self(socket))
    }
}

/// Called for an event from the client.
pub trait EventHandler: Send + Sync + 'static {
    /// Handles one event.
    fn call(&self, socket: Socket, event: crate::socket::Event) -> BoxFuture<()>;
}

impl<F, Fut> EventHandler for F
where
    F: Fn(Socket, crate::socket::Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket, event: crate::socket::Event) -> BoxFuture<()> {
        Box::pin(self(socket, event))
    }
}

/// Called when a socket leaves a namespace.
pub trait DisconnectHandler: Send + Sync + 'static {
    /// Handles a disconnection.
    fn call(&self, socket: Socket, reason: DisconnectReason) -> BoxFuture<()>;
}

impl<F, Fut> DisconnectHandler for F
where
    F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket, reason: DisconnectReason) -> BoxFuture<()> {
        Box::pin(self(socket, reason))
    }
}

/// A namespace middleware: runs before a socket connects and may refuse it.
pub trait Middleware: Send + Sync + 'static {
    /// Checks a connecting socket (its handshake and auth are readable, its
    /// data writable).
    fn call(&self, socket: Socket) -> BoxFuture<Result<(), ConnectError>>;
}

impl<F, Fut> Middleware for F
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
{
    fn call(&self, socket: Socket) -> BoxFuture<Result<(), ConnectError>> {
        Box::pin(self(socket))
    }
}

/// Called for an event another server sent with `server_side_emit`.
pub trait ServerEventHandler: Send + Sync + 'static {
    /// Handles the event; `ack`, when present, answers the emitting server.
    fn call(&self, args: Vec<Value>, ack: Option<ServerAck>) -> BoxFuture<()>;
}

impl<F, Fut> ServerEventHandler for F
where
    F: Fn(Vec<Value>, Option<ServerAck>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, args: Vec<Value>, ack: Option<ServerAck>) -> BoxFuture<()> {
        Box::pin(self(args, ack))
    }
}

/// The answer to another server's `server_side_emit`.
pub struct ServerAck(Box<dyn FnOnce(Value) + Send>);

impl ServerAck {
    /// Wraps the function that delivers the answer.
    pub fn new(f: impl FnOnce(Value) + Send + 'static) -> Self {
        ServerAck(Box::new(f))
    }

    /// Sends the answer.
    pub fn send(self, value: Value) {
        (self.0)(value)
    }
}

/// A middleware's refusal, sent as CONNECT_ERROR `{message, data}`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    /// Shown to the client as `err.message`.
    pub message: String,
    /// Shown to the client as `err.data`.
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with a message.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds details for the client.
    pub fn with_data(mut self, data: impl Into<Value>) -> Self {
        self.data = Some(data.into());
        self
    }
}

/// Runs a handler's future inline until it first waits, then spawns the
/// rest. A panic in user code is caught and logged, never unwinds into the
/// connection.
pub(crate) fn run(future: BoxFuture<()>) {
    let mut future = future;
    let mut cx = Context::from_waker(Waker::noop());
    match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))) {
        Ok(Poll::Ready(())) => {}
        Ok(Poll::Pending) => {
            tokio::spawn(CatchUnwind(future));
        }
        Err(_) => tracing::error!("a handler panicked; the connection goes on"),
    }
}

struct CatchUnwind(BoxFuture<()>);

impl Future for CatchUnwind {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(p) => p,
            Err(_) => {
                tracing::error!("a handler panicked; the connection goes on");
                Poll::Ready(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn ready_handlers_finish_inline_in_order() {
        let log = Arc::new(parking_lot::Mutex::new(Vec::new()));
        for i in 0..5 {
            let log = log.clone();
            run(Box::pin(async move { log.lock().push(i) }));
        }
        assert_eq!(*log.lock(), vec![0, 1, 2, 3, 4], "no task was needed");
    }

    #[tokio::test]
    async fn waiting_handlers_continue_in_a_task() {
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        run(Box::pin(async move {
            d.fetch_add(1, Ordering::SeqCst);
            let _ = rx.await;
            d.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(
            done.load(Ordering::SeqCst),
            1,
            "ran inline up to the first wait"
        );
        tx.send(()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while done.load(Ordering::SeqCst) < 2 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn panics_are_contained() {
        run(Box::pin(async { panic!("user bug") }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        run(Box::pin(async move {
            let _ = rx.await;
            panic!("late user bug");
        }));
        tx.send(()).unwrap();
        tokio::task::yield_now().await;
    }
}
