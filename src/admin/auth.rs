//! Admin UI logins: a username and a password checked against a bcrypt
//! hash, answered with a session id the UI keeps and sends back instead of
//! the password when it reconnects.
//!
//! A session id is `<expiry>.<nonce>.<mac>`: an HMAC-SHA256, keyed by the
//! configured hash, of its expiry and nonce. Every node configured with
//! the same hash accepts it — the UI may reconnect through any node, with
//! no shared store — until it expires (24 hours, as Node's `RedisStore`)
//! or the hash changes.
//!
//! bcrypt is slow on purpose: checks run on the blocking pool, one at a
//! time, and logins are limited per node (5 per second, bursts of 10), so
//! a flood of guesses costs one core at most and is refused past the rate.

use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use switchyard_core::limits::{Rate, Refused, TokenBucket};

/// How long a session id is accepted.
const SESSION_TTL: Duration = Duration::from_secs(24 * 3600);

/// Password checks per second on one node.
const LOGIN_RATE: Rate = Rate {
    per_second: 5.0,
    burst: 10,
};

/// Checks credentials and session ids.
pub(crate) struct Credentials {
    username: String,
    password_hash: String,
    logins: Mutex<TokenBucket>,
    /// One bcrypt check at a time.
    checking: tokio::sync::Semaphore,
}

/// Why a login was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Wrong username, password or session id (the UI shows this text).
    Invalid,
    /// Over the login rate.
    TooMany,
}

impl Credentials {
    /// Checks that `password_hash` is a bcrypt hash.
    pub(crate) fn new(username: String, password_hash: String) -> Result<Self, String> {
        password_hash
            .parse::<bcrypt::HashParts>()
            .map_err(|e| e.to_string())?;
        Ok(Credentials {
            username,
            password_hash,
            logins: Mutex::new(TokenBucket::new(LOGIN_RATE)),
            checking: tokio::sync::Semaphore::new(1),
        })
    }

    /// A valid session id; else the username and password (a new session
    /// id is returned).
    pub(crate) async fn login(
        &self,
        session_id: Option<&str>,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<Option<String>, Refusal> {
        if let Some(id) = session_id
            && self.session_valid(id, now())
        {
            return Ok(None);
        }
        let (Some(username), Some(password)) = (username, password) else {
            return Err(Refusal::Invalid);
        };
        if !self.logins.lock().take(LOGIN_RATE) {
            return Err(Refusal::TooMany);
        }
        // bcrypt reads at most 72 bytes; a longer password is refused
        // rather than silently truncated.
        if username != self.username || password.len() > 72 {
            return Err(Refusal::Invalid);
        }
        let _permit = self
            .checking
            .acquire()
            .await
            .map_err(|_| Refusal::Invalid)?;
        let (password, hash) = (password.to_owned(), self.password_hash.clone());
        let matches = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        if !matches {
            return Err(Refusal::Invalid);
        }
        Ok(Some(self.new_session(now())))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // Any key length is accepted by HMAC.
        <Hmac<Sha256> as Mac>::new_from_slice(self.password_hash.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
    }

    fn new_session(&self, now: u64) -> String {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).unwrap_or_else(|e| {
            // Without the OS generator the id is still unforgeable (the
            // MAC), only less unique.
            tracing::warn!(error = %e, "no random bytes for an Admin UI session id");
        });
        let head = format!("{:x}.{}", now + SESSION_TTL.as_secs(), hex::encode(nonce));
        let mut mac = self.mac();
        mac.update(head.as_bytes());
        format!("{head}.{}", hex::encode(mac.finalize().into_bytes()))
    }

    fn session_valid(&self, id: &str, now: u64) -> bool {
        if id.len() > 128 {
            return false;
        }
        let Some((head, tag)) = id.rsplit_once('.') else {
            return false;
        };
        let Some(expiry) = head
            .split_once('.')
            .and_then(|(expiry, _)| u64::from_str_radix(expiry, 16).ok())
        else {
            return false;
        };
        let Ok(tag) = hex::decode(tag) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(head.as_bytes());
        mac.verify_slice(&tag).is_ok() && now < expiry
    }
}

/// Logs and counts a refused login.
pub(crate) fn refused(refusal: &Refusal, address: &str) {
    let why = match refusal {
        Refusal::Invalid => "invalid credentials",
        Refusal::TooMany => "too many logins",
    };
    switchyard_core::refused!(Refused::AdminLogin, %address, why, "Admin UI login refused");
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        // Cost 4: the lowest bcrypt allows, fast in tests.
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        Credentials::new("admin".into(), hash).unwrap()
    }

    #[test]
    fn refuses_a_hash_that_is_not_bcrypt() {
        assert!(Credentials::new("admin".into(), "s3cret".into()).is_err());
    }

    #[tokio::test]
    async fn logs_in_with_the_password_then_with_the_session_id() {
        let c = credentials();
        let id = c
            .login(None, Some("admin"), Some("s3cret"))
            .await
            .unwrap()
            .expect("a new session id");
        assert_eq!(c.login(Some(&id), None, None).await, Ok(None));
        assert_eq!(
            c.login(None, Some("admin"), Some("wrong")).await,
            Err(Refusal::Invalid)
        );
        assert_eq!(
            c.login(None, Some("root"), Some("s3cret")).await,
            Err(Refusal::Invalid)
        );
    }

    #[test]
    fn session_ids_are_unforgeable_and_expire() {
        let c = credentials();
        let id = c.new_session(1_000);
        assert!(c.session_valid(&id, 1_000));
        assert!(!c.session_valid(&id, 1_000 + SESSION_TTL.as_secs()));
        // Another expiry with the same MAC is refused.
        let (_, rest) = id.split_once('.').unwrap();
        assert!(!c.session_valid(&format!("ffffffffff.{rest}"), 1_000));
        // Another hash (another cluster, or a changed password) refuses it.
        let other = Credentials::new("admin".into(), bcrypt::hash("s3cret", 4).unwrap()).unwrap();
        assert!(!other.session_valid(&id, 1_000));
        for junk in ["", ".", "a.b.c", "1.2.zz", &"9".repeat(500)] {
            assert!(!c.session_valid(junk, 1_000), "{junk}");
        }
    }

    #[tokio::test]
    async fn limits_password_checks() {
        let c = credentials();
        let mut refused = 0;
        for _ in 0..20 {
            if c.login(None, Some("admin"), Some("wrong")).await == Err(Refusal::TooMany) {
                refused += 1;
            }
        }
        assert!(refused >= 9, "past the burst of 10: {refused}");
    }
}
