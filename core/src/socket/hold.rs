//! `Hold`: what a socket being recovered receives while its missed packets
//! are looked up, kept back and delivered after them.
//!
//! A recovering socket rejoins its rooms before the missed packets are read,
//! so that nothing published meanwhile falls between the replay and live
//! delivery. What reaches it live in that window waits here; once the
//! replay is known, the CONNECT reply, the replay, then what waited (minus
//! what the replay already had, by offset) go out in that order, under the
//! hold's lock, so no live packet can come in between.

use crate::engine::Frame;
use crate::protocol::{Encoded, Packet};
use crate::recovery::offset_of;
use parking_lot::Mutex;
use smol_str::SmolStr;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

struct Held {
    encoded: Encoded,
    volatile: bool,
    offset: Option<SmolStr>,
}

/// What a held socket keeps until its release.
#[derive(Default)]
struct Holding {
    /// What goes out first: the CONNECT reply and the replay (once known).
    first: Vec<Encoded>,
    /// The replay's offsets.
    replayed: HashSet<SmolStr>,
    /// Deliveries kept back, and their bytes.
    held: Vec<Held>,
    bytes: usize,
}

/// The kept-back deliveries of one socket, while it connects (and is
/// recovered).
#[derive(Default)]
pub(crate) struct Hold {
    /// Fast path: deliveries go straight to the connection unless set.
    active: AtomicBool,
    held: Mutex<Option<Box<Holding>>>,
    /// After the release, for a moment: the replay's offsets. A live copy
    /// of a replayed packet may still be on its way from the broker (it was
    /// published just before the replay was read); it is dropped.
    /// Boxed: set for a moment after a recovery, so most sockets never
    /// allocate it.
    replayed: Mutex<Option<Box<Replayed>>>,
    recently_replayed: AtomicBool,
}

/// When a replay was released, and its offsets.
type Replayed = (Instant, HashSet<SmolStr>);

/// How long live copies of replayed packets are looked out for.
const REPLAY_ECHO: Duration = Duration::from_secs(10);

fn bytes(encoded: &Encoded) -> usize {
    encoded.frames().iter().map(Frame::len).sum()
}

/// What [`Hold::keep`] did with a delivery.
pub(crate) enum Kept {
    /// Kept back.
    Held,
    /// Not holding: deliver it now.
    Deliver,
    /// Holding, and over `max_bytes`: the client is too slow.
    Overflow,
    /// A live copy of a packet the replay already delivered: dropped.
    Duplicate,
}

impl Hold {
    /// Starts keeping deliveries back (what is kept already stays).
    pub fn begin(&self) {
        self.held.lock().get_or_insert_with(Box::default);
        self.active.store(true, Ordering::Release);
    }

    /// Sets what the release sends before what was kept back: `first` (the
    /// CONNECT reply and the replay), and the replay's offsets (`replayed`),
    /// whose live copies are dropped.
    pub fn prepare(&self, first: Vec<Encoded>, replayed: HashSet<SmolStr>) {
        if let Some(holding) = self.held.lock().as_mut() {
            holding.first = first;
            holding.replayed = replayed;
        }
    }

    /// Keeps a delivery back if holding (up to `max_bytes` in all).
    pub fn keep(
        &self,
        encoded: &Encoded,
        volatile: bool,
        packet: &Packet,
        max_bytes: usize,
    ) -> Kept {
        if !self.active.load(Ordering::Acquire) {
            return self.after_release(packet);
        }
        let mut held = self.held.lock();
        let Some(holding) = held.as_mut() else {
            drop(held);
            return self.after_release(packet);
        };
        holding.bytes = holding.bytes.saturating_add(bytes(encoded));
        if holding.bytes > max_bytes && !holding.held.is_empty() {
            return Kept::Overflow;
        }
        holding.held.push(Held {
            encoded: encoded.clone(),
            volatile,
            offset: offset_of(packet),
        });
        Kept::Held
    }

    /// Not holding: deliver, unless it is a live copy of a replayed packet.
    fn after_release(&self, packet: &Packet) -> Kept {
        if !self.recently_replayed.load(Ordering::Acquire) {
            return Kept::Deliver;
        }
        let mut replayed = self.replayed.lock();
        match replayed.as_deref() {
            Some((at, _)) if at.elapsed() > REPLAY_ECHO => {
                *replayed = None;
                self.recently_replayed.store(false, Ordering::Release);
                Kept::Deliver
            }
            Some((_, offsets)) if offset_of(packet).is_some_and(|o| offsets.contains(&o)) => {
                Kept::Duplicate
            }
            _ => Kept::Deliver,
        }
    }

    /// Ends the hold (once; later calls do nothing): `deliver` gets, in
    /// order, what [`Hold::prepare`] set first, then what was kept back and
    /// is not in the replay. Nothing delivered meanwhile can come between.
    pub fn release(&self, mut deliver: impl FnMut(&Encoded, bool)) {
        let mut held = self.held.lock();
        let Some(holding) = held.take() else {
            return;
        };
        let Holding {
            first,
            replayed,
            held: kept,
            ..
        } = *holding;
        for encoded in &first {
            deliver(encoded, false);
        }
        for h in kept {
            if h.offset.as_ref().is_none_or(|o| !replayed.contains(o)) {
                deliver(&h.encoded, h.volatile);
            }
        }
        if !replayed.is_empty() {
            *self.replayed.lock() = Some(Box::new((Instant::now(), replayed)));
            self.recently_replayed.store(true, Ordering::Release);
        }
        self.active.store(false, Ordering::Release);
    }

    /// Drops what was kept back (the recovery failed).
    pub fn abandon(&self) {
        self.held.lock().take();
        self.active.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;
    use bytes::Bytes;

    fn packet(text: &str, offset: Option<&str>) -> (Encoded, Packet) {
        let mut args = vec![Value::from(text)];
        if let Some(o) = offset {
            args.push(Value::from(o));
        }
        (
            Encoded::One(Frame::Text(Bytes::from(text.to_owned()))),
            Packet::event("/", "e", args),
        )
    }

    #[test]
    fn releases_the_replay_then_what_waited_without_duplicates() {
        let hold = Hold::default();
        let (e, p) = packet("before", Some("o0"));
        assert!(matches!(hold.keep(&e, false, &p, 1 << 20), Kept::Deliver));
        hold.begin();
        for (text, offset) in [("dup", Some("o2")), ("new", Some("o3")), ("ack", None)] {
            let (e, p) = packet(text, offset);
            assert!(matches!(hold.keep(&e, false, &p, 1 << 20), Kept::Held));
        }
        let replay: Vec<Encoded> = ["reply", "o1", "o2"]
            .into_iter()
            .map(|t| Encoded::One(Frame::Text(Bytes::from(t))))
            .collect();
        let replayed: HashSet<SmolStr> = ["o1".into(), "o2".into()].into_iter().collect();
        hold.prepare(replay, replayed);
        let mut out = Vec::new();
        hold.release(|e, _| {
            if let Frame::Text(b) = &e.frames()[0] {
                out.push(String::from_utf8_lossy(b).into_owned());
            }
        });
        assert_eq!(out, ["reply", "o1", "o2", "new", "ack"]);
        let (e, p) = packet("after", None);
        assert!(matches!(hold.keep(&e, false, &p, 1 << 20), Kept::Deliver));
        // A live copy of a replayed packet, arriving late from the broker.
        let (e, p) = packet("late copy", Some("o1"));
        assert!(matches!(hold.keep(&e, false, &p, 1 << 20), Kept::Duplicate));
        let (e, p) = packet("next", Some("o4"));
        assert!(matches!(hold.keep(&e, false, &p, 1 << 20), Kept::Deliver));
    }

    #[test]
    fn a_hold_over_its_budget_overflows() {
        let hold = Hold::default();
        hold.begin();
        let (e, p) = packet("xxxxxxxxxx", None);
        assert!(
            matches!(hold.keep(&e, false, &p, 15), Kept::Held),
            "one always fits"
        );
        assert!(matches!(hold.keep(&e, false, &p, 15), Kept::Overflow));
    }
}
