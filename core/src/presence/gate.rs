//! `PresenceGate`: presence events per user at a bounded rate.
//!
//! A user whose sessions come and go quickly (a flaky phone, or a client
//! reconnecting on purpose) would otherwise fire a presence event per
//! change, and each event typically costs work for every socket (the
//! handler tells them all). The gate lets a few transitions of a user
//! through at once, then holds the rest and, when the user's rate allows
//! again, fires a single event if its state differs from the last one
//! announced: the handlers hear the user's net change, not every flap.

use super::PresenceEvent;
use crate::limits::{Rate, TokenBucket};
use parking_lot::Mutex;
use smol_str::SmolStr;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Transitions of one user let through at once, then one per second.
const USER_RATE: Rate = Rate {
    per_second: 1.0,
    burst: 4,
};

struct UserState {
    bucket: TokenBucket,
    /// The state the handlers heard last.
    announced: bool,
    /// A held transition: the user's latest state.
    held: Option<bool>,
    touched: Instant,
}

/// What the gate decided for one transition.
pub(crate) enum Gate {
    /// Announce now.
    Pass(PresenceEvent),
    /// Held; the caller should call [`PresenceGate::flush`] after this wait
    /// unless a flush is already scheduled.
    Held(Duration),
    /// Held behind an earlier transition whose flush is scheduled.
    Merged,
}

/// Per-user presence rate, shared by a namespace.
#[derive(Default)]
pub(crate) struct PresenceGate {
    users: Mutex<HashMap<SmolStr, UserState>>,
}

impl PresenceGate {
    /// A transition of the user's total (online or offline).
    pub fn transition(&self, event: PresenceEvent) -> Gate {
        let now = Instant::now();
        let mut users = self.users.lock();
        if users.len() > 1024 && users.len().is_power_of_two() {
            // Forget users whose rate refilled and that hold nothing.
            users.retain(|_, u| u.held.is_some() || now.duration_since(u.touched) < REFILL);
        }
        let state = users
            .entry(event.user.clone())
            .or_insert_with(|| UserState {
                bucket: TokenBucket::new(USER_RATE),
                announced: !event.online,
                held: None,
                touched: now,
            });
        state.touched = now;
        if state.held.is_some() {
            state.held = Some(event.online);
            return Gate::Merged;
        }
        if state.bucket.take(USER_RATE) {
            state.announced = event.online;
            return Gate::Pass(event);
        }
        state.held = Some(event.online);
        Gate::Held(Duration::from_secs_f64(1.0 / USER_RATE.per_second))
    }

    /// The held transitions that differ from what was announced.
    pub fn flush(&self) -> Vec<PresenceEvent> {
        let mut users = self.users.lock();
        let mut events = Vec::new();
        for (user, state) in users.iter_mut() {
            if let Some(online) = state.held.take()
                && online != state.announced
            {
                state.announced = online;
                let _ = state.bucket.take(USER_RATE);
                events.push(PresenceEvent {
                    user: user.clone(),
                    online,
                });
            }
        }
        events
    }
}

/// How long a user's rate takes to refill completely.
const REFILL: Duration = Duration::from_secs(4);

#[cfg(test)]
mod tests {
    use super::*;

    fn event(user: &str, online: bool) -> PresenceEvent {
        PresenceEvent {
            user: SmolStr::new(user),
            online,
        }
    }

    #[test]
    fn lets_a_few_through_then_fires_the_net_change_once() {
        let gate = PresenceGate::default();
        let mut passed = 0;
        let mut held = 0;
        for i in 0..1000 {
            match gate.transition(event("flaky", i % 2 == 0)) {
                Gate::Pass(_) => passed += 1,
                Gate::Held(_) => held += 1,
                Gate::Merged => {}
            }
        }
        assert_eq!(passed, USER_RATE.burst as usize);
        assert_eq!(held, 1, "one flush scheduled for the rest");
        // 1000 transitions starting online end offline: announced last was
        // offline (4 passed: on, off, on, off), so nothing changed.
        assert!(gate.flush().is_empty());
        // Other users are not held back by this one.
        assert!(matches!(
            gate.transition(event("calm", true)),
            Gate::Pass(_)
        ));
    }

    #[test]
    fn a_held_change_fires_at_the_flush() {
        let gate = PresenceGate::default();
        for i in 0..5 {
            let _ = gate.transition(event("u", i % 2 == 0));
        }
        // on, off, on, off passed; the fifth (on) is held.
        assert_eq!(gate.flush(), vec![event("u", true)]);
        assert!(gate.flush().is_empty(), "fired once");
    }
}
