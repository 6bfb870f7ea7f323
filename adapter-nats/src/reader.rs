//! The ordered reader: the messages of every subscription, handed to the
//! cluster in each publisher's order.
//!
//! async-nats gives each subscription its own queue and fills them in the
//! order messages arrive on the connection. Read by one task per queue, a
//! room broadcast and a namespace broadcast of one publisher could swap;
//! so one task reads every queue, and each publisher's messages are put
//! back in its order by the stamp its writer adds (`Sy-Order:
//! <publisher>.<seq>`, see [`Stamp`]).
//!
//! A message is handed over once a full pass over the queues ran after it
//! was seen: whatever its publisher sent this node before it was queued
//! before it, so that pass found it. Every message thus waits at most two
//! passes, and a forged stamp can only reorder its own publisher's
//! messages.

use async_nats::{HeaderMap, Message, Subscriber};
use futures_util::Stream;
use smol_str::SmolStr;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use switchyard_cluster::{Delivery, random_id};
use tokio::sync::mpsc;

/// The header carrying a message's publisher and sequence number.
pub const ORDER_HEADER: &str = "Sy-Order";

/// A publisher's stamps: a random id (16 hexadecimal characters, as node
/// ids) and a count of what it published.
#[derive(Debug)]
pub struct Stamp {
    publisher: SmolStr,
    next: AtomicU64,
}

impl Stamp {
    /// A new publisher.
    pub fn new() -> Stamp {
        Stamp {
            publisher: random_id(),
            next: AtomicU64::new(0),
        }
    }

    /// The headers of the next message published.
    pub fn next(&self) -> HeaderMap {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let mut headers = HeaderMap::new();
        headers.insert(ORDER_HEADER, format!("{}.{seq}", self.publisher).as_str());
        headers
    }
}

/// Reads a stamp; anything malformed is no stamp.
fn stamp_of(message: &Message) -> Option<(u64, u64)> {
    let value = message.headers.as_ref()?.get(ORDER_HEADER)?.as_str();
    let (publisher, seq) = value.split_once('.')?;
    Some((u64::from_str_radix(publisher, 16).ok()?, seq.parse().ok()?))
}

/// What the broker tells the reader.
pub(crate) enum Control {
    /// Read this subscription too.
    Add(String, Subscriber),
    /// Stop reading it (dropping the subscriber unsubscribes).
    Remove(String),
}

struct Item {
    stamp: Option<(u64, u64)>,
    delivery: Delivery,
    /// A full pass ran since it was seen.
    confirmed: bool,
}

#[derive(Default)]
struct Reader {
    subscriptions: Vec<(String, Subscriber)>,
    /// Subject → its place in `subscriptions`.
    places: HashMap<String, usize>,
    pending: Vec<Item>,
}

impl Reader {
    /// Applies control messages, then takes what every queue holds. Ready
    /// with whether the broker is gone; pending only when there is nothing
    /// to hand over.
    fn pass(
        &mut self,
        control: &mut mpsc::UnboundedReceiver<Control>,
        cx: &mut Context<'_>,
    ) -> Poll<bool> {
        loop {
            match control.poll_recv(cx) {
                Poll::Ready(Some(Control::Add(subject, subscriber))) => {
                    if let Some(&at) = self.places.get(&subject) {
                        self.subscriptions[at].1 = subscriber;
                    } else {
                        self.places
                            .insert(subject.clone(), self.subscriptions.len());
                        self.subscriptions.push((subject, subscriber));
                    }
                }
                Poll::Ready(Some(Control::Remove(subject))) => {
                    if let Some(at) = self.places.get(&subject).copied() {
                        self.remove(at);
                    }
                }
                Poll::Ready(None) => return Poll::Ready(true),
                Poll::Pending => break,
            }
        }
        let mut ended = Vec::new();
        for (at, (_, subscriber)) in self.subscriptions.iter_mut().enumerate() {
            loop {
                match Pin::new(&mut *subscriber).poll_next(cx) {
                    Poll::Ready(Some(message)) => self.pending.push(Item {
                        stamp: stamp_of(&message),
                        delivery: Delivery {
                            channel: message.subject.to_string(),
                            payload: message.payload,
                        },
                        confirmed: false,
                    }),
                    Poll::Ready(None) => {
                        ended.push(at);
                        break;
                    }
                    Poll::Pending => break,
                }
            }
        }
        for at in ended.into_iter().rev() {
            self.remove(at);
        }
        if self.pending.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(false)
        }
    }

    /// Drops the subscription at `at` (dropping a subscriber unsubscribes).
    fn remove(&mut self, at: usize) {
        let (subject, _) = self.subscriptions.swap_remove(at);
        self.places.remove(&subject);
        if let Some((moved, _)) = self.subscriptions.get(at) {
            self.places.insert(moved.clone(), at);
        }
    }

    /// Takes what can be handed over, in order: for each publisher, its
    /// messages up to the last confirmed one, sorted by sequence and put in
    /// the places its messages took; unstamped messages once confirmed.
    fn take(&mut self) -> Vec<Delivery> {
        let mut safe: HashMap<u64, u64> = HashMap::new();
        for item in self.pending.iter().filter(|i| i.confirmed) {
            if let Some((publisher, seq)) = item.stamp {
                let last = safe.entry(publisher).or_insert(seq);
                *last = (*last).max(seq);
            }
        }
        let (ready, waiting): (Vec<Item>, Vec<Item>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|item| match item.stamp {
                Some((publisher, seq)) => safe.get(&publisher).is_some_and(|&last| seq <= last),
                None => item.confirmed,
            });
        self.pending = waiting;
        in_publisher_order(ready)
    }
}

/// Each publisher's items sorted by sequence, in the places its items took.
fn in_publisher_order(items: Vec<Item>) -> Vec<Delivery> {
    let mut places: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        if let Some((publisher, _)) = item.stamp {
            places.entry(publisher).or_default().push(i);
        }
    }
    let mut slots: Vec<Option<Item>> = items.into_iter().map(Some).collect();
    for positions in places.values().filter(|p| p.len() > 1) {
        let mut group: Vec<Item> = positions.iter().filter_map(|&i| slots[i].take()).collect();
        group.sort_by_key(|item| item.stamp.map_or(0, |(_, seq)| seq));
        for (&i, item) in positions.iter().zip(group) {
            slots[i] = Some(item);
        }
    }
    slots
        .into_iter()
        .flatten()
        .map(|item| item.delivery)
        .collect()
}

/// Reads every subscription until the broker is dropped, handing messages
/// to `incoming` in order (a full `incoming` slows reading down).
pub(crate) async fn read(
    mut control: mpsc::UnboundedReceiver<Control>,
    incoming: mpsc::Sender<Delivery>,
) {
    let mut reader = Reader::default();
    loop {
        let before = reader.pending.len();
        // Unbudgeted: a pass that stopped early would look quiet.
        let gone =
            tokio::task::unconstrained(std::future::poll_fn(|cx| reader.pass(&mut control, cx)))
                .await;
        if gone {
            return;
        }
        for item in &mut reader.pending[..before] {
            item.confirmed = true;
        }
        for delivery in reader.take() {
            if incoming.send(delivery).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(stamp: Option<(u64, u64)>, name: &str, confirmed: bool) -> Item {
        Item {
            stamp,
            delivery: Delivery {
                channel: name.into(),
                payload: bytes::Bytes::new(),
            },
            confirmed,
        }
    }

    fn names(deliveries: &[Delivery]) -> Vec<&str> {
        deliveries.iter().map(|d| d.channel.as_str()).collect()
    }

    #[test]
    fn each_publisher_is_put_back_in_order_in_its_own_places() {
        let items = vec![
            item(Some((1, 2)), "a2", true),
            item(Some((7, 9)), "b9", true),
            item(Some((1, 1)), "a1", true),
            item(None, "x", true),
            item(Some((7, 8)), "b8", true),
        ];
        let out = in_publisher_order(items);
        assert_eq!(names(&out), ["a1", "b8", "a2", "x", "b9"]);
    }

    #[test]
    fn only_what_a_full_pass_confirmed_is_handed_over() {
        let mut reader = Reader {
            pending: vec![
                item(Some((1, 5)), "a5", true),
                item(Some((1, 4)), "a4", false),
                item(Some((1, 6)), "a6", false),
                item(Some((2, 1)), "b1", false),
                item(None, "x", false),
                item(None, "y", true),
            ],
            ..Reader::default()
        };
        // a4 comes before a confirmed message of its publisher: it goes
        // too, first; a6, b1 and x wait for the next pass.
        assert_eq!(names(&reader.take()), ["a4", "a5", "y"]);
        assert_eq!(reader.pending.len(), 3);
        for item in &mut reader.pending {
            item.confirmed = true;
        }
        assert_eq!(names(&reader.take()), ["a6", "b1", "x"]);
        assert!(reader.pending.is_empty());
    }

    fn with_headers(headers: HeaderMap) -> Message {
        Message {
            subject: "s".into(),
            reply: None,
            payload: bytes::Bytes::new(),
            headers: Some(headers),
            status: None,
            description: None,
            length: 0,
        }
    }

    #[test]
    fn a_publishers_stamps_read_back_in_sequence() {
        let stamp = Stamp::new();
        let first = stamp_of(&with_headers(stamp.next())).expect("a stamp");
        let second = stamp_of(&with_headers(stamp.next())).expect("a stamp");
        assert_eq!((first.0, first.1 + 1), second);
        assert_ne!(Stamp::new().publisher, stamp.publisher);
    }

    #[test]
    fn malformed_stamps_are_no_stamps() {
        let stamped = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(ORDER_HEADER, value);
            with_headers(headers)
        };
        assert_eq!(stamp_of(&stamped("00000000000000ff.12")), Some((255, 12)));
        for bad in [
            "",
            "ff",
            "zz.1",
            "ff.-1",
            "ff.1.2",
            "ff.99999999999999999999999",
        ] {
            assert_eq!(stamp_of(&stamped(bad)), None, "{bad}");
        }
    }
}
