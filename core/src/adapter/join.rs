//! `JoinFuture`: a join applied at once on this node, which resolves once
//! it takes effect cluster-wide.
//!
//! `socket.join(room)` puts the socket in the room on this node before it
//! returns. In a cluster whose broker routes rooms one by one (Switchyard's
//! Redis format, RabbitMQ), the node may also need a new subscription to
//! hear the room's broadcasts from other nodes; the future resolves once the
//! broker confirmed it (at once when none was needed). Awaiting it before
//! telling anyone "joined" closes the window in which a broadcast from
//! another node would miss the new member; not awaiting it is Node's
//! behaviour. A join refused by a limit resolves with the refusal at once.

use crate::adapter::BoxFuture;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Why a join was refused or not confirmed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The socket would be in more rooms than allowed.
    #[error("a socket may be in at most {0} rooms")]
    TooManyRooms(usize),
    /// A room name is longer than allowed.
    #[error("room names are at most {0} bytes")]
    NameTooLong(usize),
    /// The join is applied on this node, but the cluster did not confirm
    /// it (the broker refused or is unreachable, or nodes did not answer):
    /// broadcasts from other nodes may miss it until the broker recovers.
    #[error("the join was not confirmed cluster-wide: {0}")]
    Unconfirmed(String),
}

/// A join in progress (see the module docs). Dropping it does not undo the
/// join: it only stops waiting for the confirmation.
pub struct JoinFuture(State);

enum State {
    Ready(Option<Result<(), JoinError>>),
    Waiting(BoxFuture<Result<(), JoinError>>),
}

impl JoinFuture {
    /// A join that needed no confirmation.
    pub fn ready() -> Self {
        JoinFuture(State::Ready(Some(Ok(()))))
    }

    /// A join refused at once.
    pub fn refused(error: JoinError) -> Self {
        JoinFuture(State::Ready(Some(Err(error))))
    }

    /// A join waiting for `confirmation`.
    pub fn waiting(
        confirmation: impl Future<Output = Result<(), JoinError>> + Send + 'static,
    ) -> Self {
        JoinFuture(State::Waiting(Box::pin(confirmation)))
    }

    /// The refusal, when the join was refused at once; `None` when it was
    /// applied here (confirmed cluster-wide or not yet).
    pub fn refusal(&self) -> Option<&JoinError> {
        match &self.0 {
            State::Ready(Some(Err(e))) => Some(e),
            _ => None,
        }
    }

    /// Whether the join was applied here (not refused by a limit).
    pub fn is_applied(&self) -> bool {
        self.refusal().is_none()
    }

    /// Joins another join: resolves once both did, with the first error.
    pub fn and(self, other: JoinFuture) -> JoinFuture {
        match (self.0, other.0) {
            (State::Ready(Some(Ok(()))), other) | (other, State::Ready(Some(Ok(())))) => {
                JoinFuture(other)
            }
            (a, b) => JoinFuture::waiting(async move {
                let (a, b) = (JoinFuture(a).await, JoinFuture(b).await);
                a.and(b)
            }),
        }
    }
}

impl Future for JoinFuture {
    type Output = Result<(), JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            State::Ready(result) => Poll::Ready(result.take().unwrap_or(Ok(()))),
            State::Waiting(future) => future.as_mut().poll(cx),
        }
    }
}

impl std::fmt::Debug for JoinFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            State::Ready(result) => f.debug_tuple("JoinFuture").field(result).finish(),
            State::Waiting(_) => f.write_str("JoinFuture(waiting)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_ready_refused_or_when_confirmed() {
        assert_eq!(JoinFuture::ready().await, Ok(()));
        let refused = JoinFuture::refused(JoinError::TooManyRooms(3));
        assert_eq!(refused.refusal(), Some(&JoinError::TooManyRooms(3)));
        assert_eq!(refused.await, Err(JoinError::TooManyRooms(3)));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let waiting = JoinFuture::waiting(async move {
            let _ = rx.await;
            Ok(())
        });
        assert!(waiting.is_applied());
        let both = waiting.and(JoinFuture::refused(JoinError::NameTooLong(1)));
        tx.send(()).unwrap();
        assert_eq!(both.await, Err(JoinError::NameTooLong(1)));
    }
}
