//! Running handler futures: inline until they first wait, then as a task.
//!
//! Handlers are async closures. Each runs inline, in the order its packet
//! arrived, until its first `.await` that is not ready; only then is the
//! rest spawned as a task. So a handler that answers at once (most do)
//! answers in order and costs no task, as in Node where a listener runs
//! synchronously; a handler that waits does not hold up the connection.

use crate::vocab::BoxFuture;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

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
