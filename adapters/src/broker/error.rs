//! What broker operations return: a boxed future, failing with a
//! [`BrokerError`].

use std::future::Future;
use std::pin::Pin;

/// A boxed future, as brokers return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Why a broker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The broker is unreachable right now (it keeps reconnecting).
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// The broker refused the operation.
    #[error("broker refused: {0}")]
    Refused(String),
    /// The broker has been closed.
    #[error("broker closed")]
    Closed,
}
