//! `PendingRooms`: room subscriptions on their way, and the outcome the
//! joins of those rooms wait for.

use parking_lot::Mutex;
use std::collections::HashMap;
use switchyard_core::Room;
use switchyard_core::adapter::JoinError;
use tokio::sync::watch;

/// The outcome of a subscription: `None` while on its way.
pub(crate) type Outcome = Option<Result<(), String>>;

/// Room subscriptions on their way, with the confirmation their joins wait for.
#[derive(Default)]
pub(crate) struct PendingRooms(pub(crate) Mutex<HashMap<Room, watch::Receiver<Outcome>>>);

/// Waits until an outcome is known.
pub(crate) async fn outcome(mut rx: watch::Receiver<Outcome>) -> Result<(), JoinError> {
    loop {
        if let Some(result) = rx.borrow().clone() {
            return result.map_err(JoinError::Unconfirmed);
        }
        if rx.changed().await.is_err() {
            return Err(JoinError::Unconfirmed("the cluster is closing".into()));
        }
    }
}
