//! `FifoTimer`: many timeouts of one fixed length, served by one task.
//!
//! Every session of a server waits the same ping interval, the same ping
//! timeout, the same connect timeout. With a fixed delay, deadlines are
//! scheduled in the order they fall due, so a FIFO queue is already sorted:
//! scheduling is a push, firing is a pop, and one task serves a whole server
//! where a timer per session would cost a heap entry and a wakeup each.
//! Cancelled timeouts are not removed; the callback sees they are stale.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A queue of timeouts that all last `delay`.
pub(crate) struct FifoTimer<T: Send + 'static> {
    shared: Arc<Shared<T>>,
    delay: Duration,
    fire: Arc<dyn Fn(T, Instant) + Send + Sync>,
    started: AtomicBool,
}

struct Shared<T> {
    queue: Mutex<VecDeque<(Instant, T)>>,
    wake: Notify,
    stopped: AtomicBool,
}

impl<T: Send + 'static> FifoTimer<T> {
    /// A timer calling `fire(item, deadline)` once `delay` has passed since
    /// `schedule` (or since the start given to `schedule_from`).
    pub fn new(delay: Duration, fire: impl Fn(T, Instant) + Send + Sync + 'static) -> Self {
        FifoTimer {
            shared: Arc::new(Shared {
                queue: Mutex::new(VecDeque::new()),
                wake: Notify::new(),
                stopped: AtomicBool::new(false),
            }),
            delay,
            fire: Arc::new(fire),
            started: AtomicBool::new(false),
        }
    }

    /// Schedules `item` to fire after the timer's delay.
    pub fn schedule(&self, item: T) {
        self.schedule_from(item, None);
    }

    /// Schedules `item` to fire the timer's delay after `start` (a deadline
    /// measured from an earlier event, such as a ping's own deadline), or
    /// after now. A deadline before one already queued fires with it.
    pub fn schedule_from(&self, item: T, start: Option<Instant>) {
        self.start();
        let was_empty = {
            let mut queue = self.shared.queue.lock();
            // `now` is read under the lock so deadlines stay in queue order.
            let mut at = start.unwrap_or_else(Instant::now) + self.delay;
            if let Some((last, _)) = queue.back() {
                at = at.max(*last);
            }
            queue.push_back((at, item));
            queue.len() == 1
        };
        if was_empty {
            self.shared.wake.notify_one();
        }
    }

    fn start(&self) {
        if self.started.load(Ordering::Acquire) || self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = self.shared.clone();
        let fire = self.fire.clone();
        tokio::spawn(async move {
            let mut due = Vec::new();
            while !shared.stopped.load(Ordering::Acquire) {
                let next = shared.queue.lock().front().map(|(at, _)| *at);
                match next {
                    None => shared.wake.notified().await,
                    Some(at) => {
                        tokio::time::sleep_until(at).await;
                        let now = Instant::now();
                        {
                            let mut queue = shared.queue.lock();
                            while queue.front().is_some_and(|(at, _)| *at <= now) {
                                if let Some(entry) = queue.pop_front() {
                                    due.push(entry);
                                }
                            }
                        }
                        // Callbacks run without the lock: they may schedule again.
                        for (at, item) in due.drain(..) {
                            fire(item, at);
                        }
                    }
                }
            }
        });
    }
}

impl<T: Send + 'static> Drop for FifoTimer<T> {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    #[tokio::test(start_paused = true)]
    async fn fires_in_order_after_the_delay() {
        let fired = Arc::new(StdMutex::new(Vec::new()));
        let log = fired.clone();
        let start = Instant::now();
        let timer = FifoTimer::new(Duration::from_millis(100), move |n: u32, _| {
            log.lock().unwrap().push((n, start.elapsed().as_millis()));
        });
        timer.schedule(1);
        tokio::time::sleep(Duration::from_millis(30)).await;
        timer.schedule(2);
        tokio::time::sleep(Duration::from_millis(200)).await;
        timer.schedule(3);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(*fired.lock().unwrap(), vec![(1, 100), (2, 130), (3, 330)]);
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_can_count_from_an_earlier_start() {
        let fired = Arc::new(StdMutex::new(Vec::new()));
        let log = fired.clone();
        let start = Instant::now();
        let timer = FifoTimer::new(Duration::from_millis(100), move |n: u32, at: Instant| {
            log.lock().unwrap().push((n, (at - start).as_millis()));
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        timer.schedule_from(1, Some(start));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            *fired.lock().unwrap(),
            vec![(1, 100)],
            "due 100 ms after the start, not after the call"
        );
    }
}
