//! `PublisherRoutes`: which dispatch worker handles a publisher's next
//! message, so that one publisher's messages are handled one after the
//! other, in order, while different publishers' run on different workers.
//!
//! A publisher stays on its worker while any of its messages is queued or
//! being handled there. Once that worker has finished them all, the
//! publisher's next message may go to the least loaded worker: nothing of
//! it is left to overtake. Hashing publishers onto workers would need no
//! state, but a handful of nodes would often share a worker while another
//! idles (with 8 publishers on 2 workers, a 7 to 1 split is not rare).

use smol_str::SmolStr;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Publishers remembered before the idle ones are forgotten.
const REMEMBERED: usize = 1_024;

/// The reader's routing table.
pub(crate) struct PublisherRoutes {
    /// Messages routed to each worker so far.
    routed: Vec<u64>,
    /// Messages each worker has finished, counted by the worker.
    finished: Vec<Arc<AtomicU64>>,
    /// Each publisher's worker, and the count of messages routed there
    /// once its last message was. At most [`REMEMBERED`] entries.
    publishers: HashMap<SmolStr, (usize, u64)>,
    /// When every remembered publisher is busy, a new one is not
    /// remembered: it goes to the first worker, as unknown publishers do,
    /// and so does every publisher not remembered until that worker has
    /// finished this many messages (so none of theirs is overtaken).
    overflow_last: u64,
}

impl PublisherRoutes {
    /// Routes for `workers` workers (at least one); each worker counts what
    /// it finished in its entry of [`PublisherRoutes::finished_counters`].
    pub(crate) fn new(workers: usize) -> PublisherRoutes {
        let workers = workers.max(1);
        PublisherRoutes {
            routed: vec![0; workers],
            finished: (0..workers).map(|_| Arc::new(AtomicU64::new(0))).collect(),
            publishers: HashMap::new(),
            overflow_last: 0,
        }
    }

    /// The counters the workers add each finished message to, in worker order.
    pub(crate) fn finished_counters(&self) -> &[Arc<AtomicU64>] {
        &self.finished
    }

    /// The worker of the next message of `publisher`; messages whose
    /// publisher is unknown all go to the first worker, in arrival order.
    pub(crate) fn route(&mut self, publisher: Option<&str>) -> usize {
        let Some(publisher) = publisher else {
            self.routed[0] += 1;
            return 0;
        };
        let known = self.publishers.contains_key(publisher);
        if !known && self.publishers.len() >= REMEMBERED {
            self.forget_idle();
        }
        let remember = known || self.publishers.len() < REMEMBERED;
        let worker = match self.publishers.get(publisher) {
            Some(&(worker, last)) if !self.is_done(worker, last) => worker,
            Some(&(worker, _)) if self.load(worker) == self.least_load() => worker,
            None if !remember || !self.is_done(0, self.overflow_last) => 0,
            _ => self.least_loaded(),
        };
        self.routed[worker] += 1;
        let last = self.routed[worker];
        if !remember {
            // A flood of publishers (a hostile peer can name any): the
            // table stays bounded, the order holds.
            self.overflow_last = last;
        } else if let Some(route) = self.publishers.get_mut(publisher) {
            *route = (worker, last);
        } else {
            self.publishers
                .insert(SmolStr::new(publisher), (worker, last));
        }
        worker
    }

    /// Whether `worker` finished everything up to its `last`-th message.
    fn is_done(&self, worker: usize, last: u64) -> bool {
        self.finished[worker].load(Ordering::Acquire) >= last
    }

    /// Messages routed to `worker` and not finished yet.
    fn load(&self, worker: usize) -> u64 {
        let finished = self.finished[worker].load(Ordering::Acquire);
        self.routed[worker].saturating_sub(finished)
    }

    fn least_load(&self) -> u64 {
        (0..self.routed.len())
            .map(|w| self.load(w))
            .min()
            .unwrap_or(0)
    }

    /// The least loaded worker, the first of equals.
    fn least_loaded(&self) -> usize {
        (0..self.routed.len())
            .min_by_key(|&w| self.load(w))
            .unwrap_or(0)
    }

    /// Forgets the publishers with nothing left in a queue: where their
    /// next message goes is free again.
    fn forget_idle(&mut self) {
        let finished: Vec<u64> = self
            .finished
            .iter()
            .map(|f| f.load(Ordering::Acquire))
            .collect();
        self.publishers
            .retain(|_, &mut (worker, last)| finished[worker] < last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(routes: &PublisherRoutes, worker: usize, n: u64) {
        routes.finished_counters()[worker].fetch_add(n, Ordering::Release);
    }

    #[test]
    fn a_publisher_stays_on_its_worker_while_it_has_messages_there() {
        let mut routes = PublisherRoutes::new(2);
        assert_eq!(routes.route(Some("a")), 0);
        assert_eq!(routes.route(Some("b")), 1);
        // "a" has two messages waiting on worker 0, worker 1 finished "b":
        // "a" still goes to 0, though 1 is idle.
        assert_eq!(routes.route(Some("a")), 0);
        finish(&routes, 1, 1);
        assert_eq!(routes.route(Some("a")), 0);
        finish(&routes, 0, 2);
        // One message of "a" left on worker 0.
        assert_eq!(routes.route(Some("a")), 0);
    }

    #[test]
    fn an_idle_publisher_moves_to_a_less_loaded_worker() {
        let mut routes = PublisherRoutes::new(2);
        assert_eq!(routes.route(Some("a")), 0);
        finish(&routes, 0, 1);
        // "a" is done; with equal loads it keeps its worker.
        assert_eq!(routes.route(Some("a")), 0);
        finish(&routes, 0, 1);
        assert_eq!(routes.route(Some("b")), 0);
        assert_eq!(routes.route(Some("b")), 0);
        // Worker 0 is busy with "b": idle "a" moves to worker 1.
        assert_eq!(routes.route(Some("a")), 1);
    }

    #[test]
    fn new_publishers_spread_and_unknown_ones_share_the_first_worker() {
        let mut routes = PublisherRoutes::new(4);
        let workers: Vec<usize> = ["a", "b", "c", "d"]
            .into_iter()
            .map(|p| routes.route(Some(p)))
            .collect();
        assert_eq!(workers, [0, 1, 2, 3]);
        for _ in 0..3 {
            assert_eq!(routes.route(None), 0);
        }
        assert_eq!(PublisherRoutes::new(0).route(Some("a")), 0);
    }

    #[test]
    fn a_flood_of_busy_publishers_is_bounded_and_keeps_each_order() {
        let mut routes = PublisherRoutes::new(2);
        // Workers stalled: nothing finishes, every publisher stays busy.
        let mut first = HashMap::new();
        for round in 0..2 {
            for p in 0..REMEMBERED * 10 {
                let name = format!("p{p}");
                let worker = routes.route(Some(&name));
                let was = *first.entry(name).or_insert(worker);
                assert_eq!(
                    worker, was,
                    "round {round}: publisher p{p} moved while busy"
                );
            }
        }
        assert!(routes.publishers.len() <= REMEMBERED);
        // The flood went to worker 0; once it drains, new publishers spread again.
        let routed = routes.routed.clone();
        finish(&routes, 0, routed[0]);
        finish(&routes, 1, routed[1]);
        let spread: std::collections::HashSet<usize> = (0..8)
            .map(|p| routes.route(Some(&format!("new{p}"))))
            .collect();
        assert_eq!(spread.len(), 2, "new publishers all on one worker");
    }

    #[test]
    fn idle_publishers_are_forgotten_busy_ones_kept() {
        let mut routes = PublisherRoutes::new(2);
        routes.route(Some("busy"));
        for p in 0..REMEMBERED * 2 {
            let worker = routes.route(Some(&format!("p{p}")));
            finish(&routes, worker, 1);
        }
        assert!(routes.publishers.len() <= REMEMBERED);
        // "busy" still has its message on worker 0.
        assert_eq!(routes.publishers.get("busy").map(|r| r.0), Some(0));
        assert_eq!(routes.route(Some("busy")), 0);
    }
}
