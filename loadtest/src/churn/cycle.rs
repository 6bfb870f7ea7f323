//! One churn worker: its clients one after another, each connected (asking
//! for recovery after an abrupt ending), used, held, and ended in its turn.

use super::{ChurnArgs, Counters, Ending};
use crate::Common;
use crate::client::{Client, Incoming, Target};
use crate::stats::histogram;
use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The tasks holding vanished clients' connections open.
pub(super) type Vanished = Arc<parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>>;

/// What a worker shares with the run.
pub(super) struct Worker {
    /// The run's options.
    pub(super) common: Common,
    /// The servers, resolved.
    pub(super) targets: Vec<Target>,
    /// The scenario's settings.
    pub(super) args: ChurnArgs,
    /// What every worker counts.
    pub(super) counters: Arc<Counters>,
    /// Vanished clients, for the run to drop at its end.
    pub(super) vanished: Vanished,
    /// The run's progress bar, for errors.
    pub(super) bar: ProgressBar,
}

/// What a worker keeps from a session that ended abruptly: enough to ask
/// for its recovery.
struct Resume {
    pid: String,
    offset: String,
}

/// A small xorshift generator: hold times that differ per worker and cycle.
struct Spread(u64);

impl Spread {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Worker {
    /// Runs cycles until `deadline`; returns their connect times.
    pub(super) async fn run(self, worker: usize, deadline: Instant) -> Histogram<u64> {
        let (args, counters) = (&self.args, &self.counters);
        let mut times = histogram();
        let mut n = worker;
        let mut spread = Spread(0x9e37_79b9_7f4a_7c15 ^ (worker as u64 + 1));
        let mut resume: Option<Resume> = None;
        while Instant::now() < deadline {
            let ending = args.endings[(n / args.concurrency) % args.endings.len()];
            let begun = Instant::now();
            let result = self.cycle(n, ending, resume.take(), &mut spread).await;
            match result {
                Ok((connected, kept)) => {
                    let _ = times.record((connected.as_micros() as u64).max(1));
                    counters.cycles.fetch_add(1, Ordering::Relaxed);
                    counters.endings[ending as usize].fetch_add(1, Ordering::Relaxed);
                    resume = kept;
                }
                Err(e) => {
                    if counters.failures.fetch_add(1, Ordering::Relaxed) < 10 {
                        crate::say(&self.bar, format!("churn: {e}"));
                    }
                    // Not too fast when the servers refuse.
                    tokio::time::sleep(Duration::from_millis(100).min(begun.elapsed() * 2)).await;
                }
            }
            // Workers take client numbers in turns: transports,
            // source addresses and endings rotate.
            n += args.concurrency;
        }
        times
    }

    /// One client's life. Returns how long it took to connect, and what its
    /// worker needs to recover the session when it ended abruptly.
    async fn cycle(
        &self,
        n: usize,
        ending: Ending,
        resume: Option<Resume>,
        spread: &mut Spread,
    ) -> Result<(Duration, Option<Resume>), String> {
        let target = &self.targets[n % self.targets.len()];
        let begun = Instant::now();
        let auth = resume
            .as_ref()
            .map(|r| serde_json::json!({"pid": r.pid, "offset": r.offset}).to_string());
        let mut client = Client::connect(
            target,
            self.common.source_address(n),
            self.common.transport(n),
            "/",
            auth.as_deref(),
        )
        .await
        .map_err(|e| e.0)?;
        let connected = begun.elapsed();
        let pid = pid_of(client.connect_reply());
        let recovered = self.count_recovery(resume.as_ref(), pid.as_deref());
        let mut offset = resume.filter(|_| recovered).map(|r| r.offset);
        if self.args.rooms > 0 {
            self.join_and_publish(&mut client, n, recovered).await?;
        }
        self.echo(&mut client, n, recovered).await?;
        if self.args.hold > 0.0 {
            let hold = Duration::from_secs_f64(self.args.hold * (0.5 + spread.unit()));
            self.hold(&mut client, hold, &mut offset).await?;
        }
        let kept = match (pid, offset) {
            (Some(pid), Some(offset)) if ending != Ending::Clean => Some(Resume { pid, offset }),
            _ => None,
        };
        self.end(client, ending).await;
        Ok((connected, kept))
    }

    /// Counts a recovery asked for, and recovered (the server answered with
    /// the same `pid`); returns whether the session was recovered.
    fn count_recovery(&self, resume: Option<&Resume>, pid: Option<&str>) -> bool {
        let counters = &self.counters;
        match (resume, pid) {
            (Some(r), Some(pid)) => {
                counters.recovery_attempts.fetch_add(1, Ordering::Relaxed);
                let same = pid == r.pid;
                if same {
                    counters.recovered.fetch_add(1, Ordering::Relaxed);
                }
                same
            }
            (Some(_), None) => {
                counters.recovery_attempts.fetch_add(1, Ordering::Relaxed);
                false
            }
            _ => false,
        }
    }

    /// Joins client `n`'s room (a recovered session is still in it) and
    /// publishes to it.
    async fn join_and_publish(
        &self,
        client: &mut Client,
        n: usize,
        recovered: bool,
    ) -> Result<(), String> {
        let room = format!("churn-{}", (n / 3) % self.args.rooms);
        if !recovered {
            let joined = client
                .emit_with_ack(&format!(r#"["join","{room}"]"#), Duration::from_secs(10))
                .await
                .map_err(|e| format!("join: {}", e.0))?;
            if joined != "[true]" {
                return Err(format!("join answered {joined}"));
            }
        }
        client
            .emit(&format!(
                r#"["publish",{{"room":"{room}","payload":{{"n":{n}}}}}]"#
            ))
            .await
            .map_err(|e| format!("publish: {}", e.0))
    }

    /// One echo round trip.
    async fn echo(&self, client: &mut Client, n: usize, recovered: bool) -> Result<(), String> {
        let answer = client
            .emit_with_ack(r#"["echo","churn"]"#, Duration::from_secs(10))
            .await
            .map_err(|e| {
                format!(
                    "echo ({:?}, {}): {}",
                    self.common.transport(n),
                    if recovered {
                        "recovered"
                    } else {
                        "new session"
                    },
                    e.0
                )
            })?;
        if answer != r#"["churn"]"# {
            return Err(format!("wrong answer {answer}"));
        }
        Ok(())
    }

    /// Stays connected for `hold`, counting the room's messages and keeping
    /// the last offset they carry.
    async fn hold(
        &self,
        client: &mut Client,
        hold: Duration,
        offset: &mut Option<String>,
    ) -> Result<(), String> {
        let until = tokio::time::Instant::now() + hold;
        loop {
            match tokio::time::timeout_at(until, client.next()).await {
                Err(_) => return Ok(()),
                Ok(Ok(Incoming::Text(text))) if text.starts_with("42[\"msg\"") => {
                    self.counters.messages.fetch_add(1, Ordering::Relaxed);
                    if let Some(o) = last_offset(&text) {
                        *offset = Some(o);
                    }
                }
                Ok(Ok(Incoming::Closed)) => return Err("closed by the server".into()),
                Ok(Err(e)) => return Err(format!("reading: {}", e.0)),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Ends the client as its turn says.
    async fn end(&self, client: Client, ending: Ending) {
        match ending {
            Ending::Clean => client.close().await,
            Ending::Reset => client.reset(),
            Ending::Vanish => {
                let silent = Duration::from_secs_f64(self.args.vanish_for);
                let mut held = self.vanished.lock();
                held.retain(|task| !task.is_finished());
                held.push(tokio::spawn(async move {
                    tokio::time::sleep(silent).await;
                    client.reset();
                }));
            }
        }
    }
}

/// The `pid` of a CONNECT reply (`40{"sid":"…","pid":"…"}`), when the
/// server offers recovery.
fn pid_of(reply: &str) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(reply.get(2..)?).ok()?;
    Some(body.get("pid")?.as_str()?.to_owned())
}

/// The offset a recoverable event carries as its last argument.
fn last_offset(text: &str) -> Option<String> {
    let args: Vec<serde_json::Value> = serde_json::from_str(text.get(2..)?).ok()?;
    if args.len() < 3 {
        return None;
    }
    Some(args.last()?.as_str()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_pid_and_the_offset() {
        assert_eq!(pid_of(r#"40{"sid":"a","pid":"b"}"#).as_deref(), Some("b"));
        assert_eq!(pid_of(r#"40{"sid":"a"}"#), None);
        assert_eq!(
            last_offset(r#"42["msg",{"n":1},"18c-1"]"#).as_deref(),
            Some("18c-1")
        );
        assert_eq!(last_offset(r#"42["msg",{"n":1}]"#), None);
    }
}
