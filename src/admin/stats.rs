//! What the UI is told of the nodes: `all_sockets` on connection, and
//! every node's `server_stats` (its clients, namespaces and each second's
//! aggregated events) every two seconds.

use super::watch::{self, Counts};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use switchyard_core::{SocketIo, Value, WeakNamespace, WeakSocketIo};

/// Sockets listed in `all_sockets`, at most (the rest are left out, with a
/// warning): a list of every socket of a large cluster would be one
/// message of hundreds of megabytes.
const MAX_LISTED: usize = 5_000;

/// How often every node sends its `server_stats`.
const STATS_EVERY: Duration = Duration::from_secs(2);

/// Every socket of every namespace this node serves, cluster-wide.
pub(crate) async fn all_sockets(io: &SocketIo) -> Value {
    let mut listed = Vec::new();
    for ns in io.namespaces() {
        let (sockets, missing) = match ns.broadcast().fetch_sockets_partial().await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(ns = %ns.name(), error = %e, "Admin UI: sockets not listed");
                continue;
            }
        };
        if missing > 0 {
            tracing::warn!(ns = %ns.name(), missing, "Admin UI: some nodes did not list their sockets in time");
        }
        for socket in &sockets {
            if listed.len() == MAX_LISTED {
                tracing::warn!(max = MAX_LISTED, "Admin UI: more sockets than are listed");
                return Value::Array(listed);
            }
            listed.push(super::serialize::remote_socket(socket, ns.name()));
        }
    }
    Value::Array(listed)
}

/// What `server_stats` says of this node.
pub(crate) struct Stats {
    server_id: String,
    hostname: String,
    started: Instant,
}

impl Stats {
    pub(crate) fn new(server_id: Option<String>) -> Self {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        Stats {
            server_id: server_id.unwrap_or_else(|| format!("{hostname}#{}", std::process::id())),
            hostname,
            started: Instant::now(),
        }
    }

    pub(crate) fn value(&self, io: &SocketIo, aggregated: Vec<Value>) -> Value {
        let stats = io.stats();
        let namespaces: Vec<Value> = io
            .namespaces()
            .iter()
            .map(|ns| {
                switchyard_core::object! {
                    "name" => ns.name().as_str(),
                    "socketsCount" => ns.socket_count() as u64,
                }
            })
            .collect();
        switchyard_core::object! {
            "serverId" => self.server_id.as_str(),
            "hostname" => self.hostname.as_str(),
            "pid" => u64::from(std::process::id()),
            "uptime" => self.started.elapsed().as_secs_f64(),
            "clientsCount" => stats.sessions as u64,
            "pollingClientsCount" => stats.polling_sessions as u64,
            "aggregatedEvents" => Value::Array(aggregated),
            "namespaces" => Value::Array(namespaces),
        }
    }
}

/// Samples the counts every second and, while a UI watches, sends this
/// node's `server_stats` every two.
pub(crate) async fn report(
    io: WeakSocketIo,
    admin: WeakNamespace,
    stats: Arc<Stats>,
    watching: Arc<AtomicBool>,
    counts: Arc<Counts>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut aggregated = Vec::new();
    let mut last = None;
    let mut sent = Instant::now();
    loop {
        tick.tick().await;
        let (Some(io), Some(admin)) = (io.upgrade(), admin.upgrade()) else {
            return;
        };
        let now = io.stats();
        let traffic = [
            now.packets_received,
            now.bytes_received,
            now.packets_sent,
            now.bytes_sent,
        ];
        let second = watch::now_ms() / 1000 * 1000;
        let mut push = |kind: &str, sub: Option<&str>, count: u64| {
            if count > 0 {
                aggregated.push(switchyard_core::object! {
                    "timestamp" => second,
                    "type" => kind,
                    "subType" => sub.map_or(Value::Null, Value::from),
                    "count" => count,
                });
            }
        };
        push(
            "rawConnection",
            None,
            counts.opened.swap(0, Ordering::Relaxed),
        );
        for (reason, count) in std::mem::take(&mut *counts.closed.lock()) {
            push("rawDisconnection", Some(reason), count);
        }
        if let Some(before) = last {
            let delta = |i: usize| traffic[i].saturating_sub(before_at(&before, i));
            push("packetsIn", None, delta(0));
            push("bytesIn", None, delta(1));
            push("packetsOut", None, delta(2));
            push("bytesOut", None, delta(3));
        }
        last = Some(traffic);
        if sent.elapsed() + Duration::from_millis(100) >= STATS_EVERY {
            sent = Instant::now();
            let events = std::mem::take(&mut aggregated);
            if watching.load(Ordering::Relaxed)
                && let Err(e) = admin.emit_args("server_stats", vec![stats.value(&io, events)])
            {
                tracing::debug!(error = %e, "server_stats not sent");
            }
        }
    }
}

fn before_at(before: &[u64; 4], i: usize) -> u64 {
    before.get(i).copied().unwrap_or(0)
}
