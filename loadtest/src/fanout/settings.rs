//! The fanout scenario's settings.

use std::time::Duration;

/// Settings of the fanout scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct FanoutArgs {
    /// Subscribers, spread round-robin over the URLs (over the rooms with `--rooms`).
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Messages per second from the publisher.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Messages per second to everyone (a publish with no room), besides.
    #[arg(long, default_value_t = 0.0)]
    pub all_rate: f64,
    /// Payload size in bytes (padding included).
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// How long to publish, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Room name (with `--rooms`, the prefix of `<room>-<k>`).
    #[arg(long, default_value = "fanout")]
    pub room: String,
    /// Rooms the subscribers are spread over, each served by one node.
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// Subscribers connected per second.
    #[arg(long, default_value_t = 1000.0)]
    pub connect_rate: f64,
    /// Seconds to wait for late deliveries after the last publish.
    #[arg(long, default_value_t = 2.0)]
    pub drain: f64,
    /// Extra WebSocket subscribers that join the room, then never read:
    /// the server should cut them off past their outgoing budget while the
    /// others keep their latency. Not counted as subscribers.
    #[arg(long, default_value_t = 0)]
    pub slow_consumers: usize,
    /// Worker processes holding the subscribers (one process opens about
    /// 20,000 files); this one coordinates and publishes.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Internal: run as worker i of `--workers`.
    #[arg(long, hide = true)]
    pub worker: Option<usize>,
    /// Wait on this address for the `--workers` workers, started elsewhere
    /// with `--coordinator`, instead of starting them.
    #[arg(long)]
    pub listen: Option<String>,
    /// Run as a worker of the coordinator at this address (host:port).
    #[arg(long)]
    pub coordinator: Option<String>,
}

impl FanoutArgs {
    /// Whether this process is a worker of another.
    pub fn is_worker(&self) -> bool {
        self.worker.is_some() || self.coordinator.is_some()
    }

    /// How long `count` subscribers may take to connect and join.
    pub fn ready_limit(&self, count: usize) -> Duration {
        Duration::from_secs_f64(count as f64 / self.connect_rate.max(1.0) + 60.0)
    }
}
