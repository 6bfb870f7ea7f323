//! Token buckets: a sustained rate with bursts, per client and per address.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::time::Instant;

/// A rate limit: `per_second` sustained, up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: f64,
    /// Most tokens held (the largest burst).
    pub burst: u32,
}

impl Rate {
    /// `per_second`, with bursts of `burst` (at least 1).
    pub fn new(per_second: f64, burst: u32) -> Self {
        Rate {
            per_second: per_second.max(0.0),
            burst: burst.max(1),
        }
    }
}

/// One bucket: starts full, refills at the rate.
#[derive(Clone, Copy, Debug)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: Rate) -> Self {
        TokenBucket {
            tokens: f64::from(rate.burst),
            last: Instant::now(),
        }
    }

    /// Takes a token if there is one.
    pub fn take(&mut self, rate: Rate) -> bool {
        self.take_at(rate, Instant::now())
    }

    fn take_at(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * rate.per_second).min(f64::from(rate.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket would be full again by `now` (it can be forgotten).
    fn full_at(&self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * rate.per_second >= f64::from(rate.burst)
    }
}

const SHARDS: usize = 16;
/// Addresses a shard tracks before it forgets those whose bucket is full
/// again (they are as good as new).
const SHARD_SOFT_CAP: usize = 4096;

/// A bucket per client address, for the rate of new sessions. Memory stays
/// bounded: buckets that refilled are forgotten as the table grows.
pub struct AddressRates {
    rate: Rate,
    shards: Vec<Mutex<HashMap<IpAddr, TokenBucket>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl AddressRates {
    /// An empty table for `rate`.
    pub fn new(rate: Rate) -> Self {
        AddressRates {
            rate,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
        }
    }

    /// Takes a token for `address`.
    pub fn take(&self, address: IpAddr) -> bool {
        let shard = &self.shards[(self.hasher.hash_one(address) as usize) % SHARDS];
        let now = Instant::now();
        let mut table = shard.lock();
        if table.len() >= SHARD_SOFT_CAP {
            let rate = self.rate;
            table.retain(|_, bucket| !bucket.full_at(rate, now));
            if table.len() >= SHARD_SOFT_CAP {
                // Every tracked address is mid-burst: too many to tell apart.
                // Refuse rather than grow without bound.
                return false;
            }
        }
        table
            .entry(address)
            .or_insert_with(|| TokenBucket::new(self.rate))
            .take_at(self.rate, now)
    }

    /// How many addresses are tracked.
    pub fn tracked(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_a_burst_then_the_rate() {
        let rate = Rate::new(10.0, 3);
        let start = Instant::now();
        let mut bucket = TokenBucket {
            tokens: 3.0,
            last: start,
        };
        assert!((0..3).all(|_| bucket.take_at(rate, start)));
        assert!(!bucket.take_at(rate, start));
        assert!(bucket.take_at(rate, start + Duration::from_millis(100)));
        assert!(!bucket.take_at(rate, start + Duration::from_millis(150)));
        // Never more than the burst, however long it waited.
        let later = start + Duration::from_secs(3600);
        assert!((0..3).all(|_| bucket.take_at(rate, later)));
        assert!(!bucket.take_at(rate, later));
    }

    #[test]
    fn tracks_addresses_apart_and_forgets_refilled_ones() {
        let rates = AddressRates::new(Rate::new(1000.0, 1));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(rates.take(a));
        assert!(!rates.take(a));
        assert!(rates.take(b));
        for i in 0..(SHARDS * SHARD_SOFT_CAP * 2) as u32 {
            rates.take(IpAddr::from(i.to_be_bytes()));
            if i % 1000 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        assert!(rates.tracked() <= SHARDS * SHARD_SOFT_CAP);
    }
}
