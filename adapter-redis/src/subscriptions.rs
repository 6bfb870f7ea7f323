//! What the subscribing client should listen to, and making Redis agree.
//!
//! fred remembers only the subscriptions Redis accepted, and its own
//! `resubscribe_all` sends SUBSCRIBE even when there is no classic channel
//! (Redis answers "wrong number of arguments" and fred stops before the
//! shard channels). So this module keeps what the cluster asked for itself;
//! sends shard channels one hash slot per command (a Redis Cluster refuses
//! an SSUBSCRIBE whose channels span slots with CROSSSLOT); and after a
//! reconnection or a refused command, a repair task subscribes everything
//! again (and unsubscribes what was left) until Redis accepts it all.

use fred::clients::SubscriberClient;
use fred::error::Error;
use fred::interfaces::PubsubInterface;
use std::collections::BTreeSet;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;

/// The kinds of subscription, each with its own commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// SUBSCRIBE / UNSUBSCRIBE.
    Channel,
    /// PSUBSCRIBE / PUNSUBSCRIBE.
    Pattern,
    /// SSUBSCRIBE / SUNSUBSCRIBE, one hash slot per command.
    Shard,
}

/// One subscription: its kind and its channel or pattern.
pub(crate) type Target = (Kind, String);

/// The first wait of the repair task after a refused command, doubled up to
/// [`REPAIR_MAX_WAIT`].
const REPAIR_FIRST_WAIT: Duration = Duration::from_millis(100);
const REPAIR_MAX_WAIT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Wanted {
    /// What the cluster asked to listen to.
    on: BTreeSet<Target>,
    /// What it stopped listening to without Redis confirming it.
    off: BTreeSet<Target>,
}

/// The subscriptions of one subscribing client.
pub(crate) struct Subscriptions {
    client: SubscriberClient,
    wanted: parking_lot::Mutex<Wanted>,
    /// Commands go one at a time, so that a repair never subscribes again
    /// to what an unsubscription just removed.
    sending: tokio::sync::Mutex<()>,
    /// Wakes the repair task (also when this is dropped, so that it ends).
    repair: Arc<Notify>,
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        self.repair.notify_one();
    }
}

impl Subscriptions {
    /// Tracks `client`'s subscriptions; a task repairs them when asked.
    pub(crate) fn new(client: SubscriberClient) -> Arc<Subscriptions> {
        let wake = Arc::new(Notify::new());
        let subscriptions = Arc::new(Subscriptions {
            client,
            wanted: parking_lot::Mutex::new(Wanted::default()),
            sending: tokio::sync::Mutex::new(()),
            repair: wake.clone(),
        });
        tokio::spawn(repair(Arc::downgrade(&subscriptions), wake));
        subscriptions
    }

    /// Subscribes (or unsubscribes) `targets`; what Redis refuses is kept
    /// and tried again by the repair task, and the error returned.
    pub(crate) async fn change(&self, targets: Vec<Target>, subscribe: bool) -> Result<(), Error> {
        if targets.is_empty() {
            return Ok(());
        }
        let _sending = self.sending.lock().await;
        {
            let mut wanted = self.wanted.lock();
            for target in &targets {
                if subscribe {
                    wanted.off.remove(target);
                    wanted.on.insert(target.clone());
                } else {
                    wanted.on.remove(target);
                    wanted.off.insert(target.clone());
                }
            }
        }
        let result = self.send(&targets, subscribe).await;
        match &result {
            Ok(()) if !subscribe => {
                let mut wanted = self.wanted.lock();
                for target in &targets {
                    wanted.off.remove(target);
                }
            }
            Ok(()) => {}
            Err(e) => {
                let verb = if subscribe {
                    "subscription"
                } else {
                    "unsubscription"
                };
                tracing::warn!(broker = "redis", error = %e, targets = targets.len(), "{verb} refused: tried again until Redis accepts it");
                self.repair.notify_one();
            }
        }
        result
    }

    /// Asks the repair task to send every subscription again (after a
    /// reconnection, the server holds none).
    pub(crate) fn restore(&self) {
        self.repair.notify_one();
    }

    /// Sends every wanted subscription and pending unsubscription once.
    async fn resend(&self) -> Result<(), Error> {
        let _sending = self.sending.lock().await;
        let (on, off) = {
            let wanted = self.wanted.lock();
            let on: Vec<Target> = wanted.on.iter().cloned().collect();
            let off: Vec<Target> = wanted.off.iter().cloned().collect();
            (on, off)
        };
        self.send(&off, false).await?;
        {
            let mut wanted = self.wanted.lock();
            for target in &off {
                wanted.off.remove(target);
            }
        }
        self.send(&on, true).await
    }

    /// One command per kind, and per hash slot for shard channels; never an
    /// empty one.
    async fn send(&self, targets: &[Target], subscribe: bool) -> Result<(), Error> {
        for (kind, names) in commands(targets) {
            let client = &self.client;
            match (kind, subscribe) {
                (Kind::Channel, true) => client.subscribe(names).await?,
                (Kind::Channel, false) => client.unsubscribe(names).await?,
                (Kind::Pattern, true) => client.psubscribe(names).await?,
                (Kind::Pattern, false) => client.punsubscribe(names).await?,
                (Kind::Shard, true) => client.ssubscribe(names).await?,
                (Kind::Shard, false) => client.sunsubscribe(names).await?,
            }
        }
        Ok(())
    }
}

/// Groups `targets` into commands: by kind, and shard channels by hash slot.
fn commands(targets: &[Target]) -> Vec<(Kind, Vec<String>)> {
    let mut groups: std::collections::BTreeMap<(Kind, u16), Vec<String>> = Default::default();
    for (kind, name) in targets {
        let slot = match kind {
            Kind::Shard => fred::util::redis_keyslot(name.as_bytes()),
            Kind::Channel | Kind::Pattern => 0,
        };
        groups.entry((*kind, slot)).or_default().push(name.clone());
    }
    groups
        .into_iter()
        .map(|((kind, _), names)| (kind, names))
        .collect()
}

/// Sends everything again when woken, until Redis accepts it all; ends
/// once the subscriptions are dropped.
async fn repair(subscriptions: Weak<Subscriptions>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        let mut wait = REPAIR_FIRST_WAIT;
        let mut failures = 0u32;
        loop {
            let Some(current) = subscriptions.upgrade() else {
                return;
            };
            let result = current.resend().await;
            drop(current);
            match result {
                Ok(()) => {
                    if failures > 0 {
                        tracing::info!(
                            broker = "redis",
                            attempts = failures + 1,
                            "subscriptions restored"
                        );
                    }
                    break;
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 || failures.is_power_of_two() {
                        tracing::warn!(broker = "redis", error = %e, attempts = failures, retry_in_ms = wait.as_millis() as u64, "restoring the subscriptions failed: trying again");
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(REPAIR_MAX_WAIT);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_channels_are_sent_one_slot_per_command() {
        let targets: Vec<Target> = vec![
            (Kind::Shard, "socket.io-cluster#/#".into()),
            (Kind::Shard, "socket.io-cluster#/admin#".into()),
            (Kind::Shard, "socket.io-cluster#/#abc#".into()),
            (Kind::Channel, "a".into()),
            (Kind::Channel, "b".into()),
            (Kind::Pattern, "p*".into()),
        ];
        let grouped = commands(&targets);
        // Classic channels and patterns in one command each.
        assert!(grouped.contains(&(Kind::Channel, vec!["a".into(), "b".into()])));
        assert!(grouped.contains(&(Kind::Pattern, vec!["p*".into()])));
        // Every shard command stays within one slot, and all are sent.
        let shard: Vec<&Vec<String>> = grouped
            .iter()
            .filter(|(kind, _)| *kind == Kind::Shard)
            .map(|(_, names)| names)
            .collect();
        assert_eq!(shard.iter().map(|n| n.len()).sum::<usize>(), 3);
        for names in shard {
            let slot = fred::util::redis_keyslot(names[0].as_bytes());
            assert!(
                names
                    .iter()
                    .all(|n| fred::util::redis_keyslot(n.as_bytes()) == slot)
            );
        }
        assert!(commands(&[]).is_empty());
    }
}
