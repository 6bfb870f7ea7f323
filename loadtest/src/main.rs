//! `switchyard-loadtest`: many real Socket.IO clients against any Socket.IO
//! v4 server that implements the bench contract (`echo`, `join`, `leave`,
//! `publish`), with latency percentiles. Every scenario is bounded in
//! count and time.
//!
//! ```text
//! switchyard-loadtest --url http://127.0.0.1:3000 connect --clients 10000 --rate 2000 --hold 10
//! switchyard-loadtest --url http://127.0.0.1:3000 echo --clients 100 --duration 10
//! switchyard-loadtest --url http://127.0.0.1:3000 fanout --subscribers 1000 --rate 200
//! switchyard-loadtest --url http://127.0.0.1:3001 --url http://127.0.0.1:3002 --source-addresses 64 \
//!     fanout --workers 6 --subscribers 100000 --rooms 100 --rate 10 --all-rate 1
//! switchyard-loadtest --url http://127.0.0.1:3000 churn --concurrency 50 --duration 30
//! switchyard-loadtest floor --sockets 1000 --size 100 --duration 5
//! ```

// A command-line tool: its report goes to standard output.
#![allow(clippy::print_stdout)]

mod churn;
mod client;
mod connect;
mod echo;
mod fanout;
mod floor;
mod polling;
mod server;
mod stats;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

/// Options every scenario shares.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Server URLs (at least one); clients are spread over them round-robin.
    #[arg(long, global = true)]
    pub url: Vec<String>,
    /// Socket.IO path.
    #[arg(long, default_value = "/socket.io/", global = true)]
    pub path: String,
    /// Spread clients over 127.0.0.1 … 127.0.0.N as source addresses (each
    /// address has its own ephemeral port range).
    #[arg(long, default_value_t = 1, global = true)]
    pub source_addresses: u8,
    /// Fail (exit 1) when more than this fraction of deliveries is lost.
    #[arg(long, default_value_t = 0.0, global = true)]
    pub max_loss: f64,
    /// Print the report as JSON (no progress bars).
    #[arg(long, global = true)]
    pub json: bool,
    /// Share of clients (0 to 1) that use HTTP long-polling instead of WebSocket.
    #[arg(long, default_value_t = 0.0, global = true)]
    pub polling_share: f64,
    /// Server process ids (repeatable): their CPU per message and memory
    /// are reported.
    #[arg(long, global = true)]
    pub server_pid: Vec<u32>,
}

impl Common {
    /// The transport of client `i`: the polling share, spread evenly.
    pub fn transport(&self, i: usize) -> client::Transport {
        let share = self.polling_share.clamp(0.0, 1.0);
        if ((i + 1) as f64 * share).floor() > (i as f64 * share).floor() {
            client::Transport::Polling
        } else {
            client::Transport::WebSocket
        }
    }

    /// The servers, resolved.
    pub async fn targets(&self) -> Result<Vec<client::Target>, String> {
        let mut targets = Vec::new();
        for url in &self.url {
            targets.push(
                client::Target::resolve(url, &self.path)
                    .await
                    .map_err(|e| e.0)?,
            );
        }
        if targets.is_empty() {
            return Err("give at least one --url".into());
        }
        Ok(targets)
    }

    /// The source address of client `i`.
    pub fn source_address(&self, i: usize) -> Option<IpAddr> {
        (self.source_addresses > 1).then(|| {
            IpAddr::V4(Ipv4Addr::new(
                127,
                0,
                0,
                1 + (i % self.source_addresses as usize) as u8,
            ))
        })
    }
}

/// `, server CPU 12.3 µs per delivery, RSS 45 MiB` when servers are watched.
pub fn server_line(server: Option<&server::ServerCpu>, unit: &str) -> String {
    let Some(server) = server else {
        return String::new();
    };
    let mut line = format!(
        "\nserver: {:.2} CPU s over {:.1} s",
        server.cpu_seconds, server.wall_seconds
    );
    if let Some(us) = server.cpu_us_per_unit {
        line.push_str(&format!(", {us:.2} µs CPU per {unit}"));
    }
    if let Some(rss) = server.rss_kib {
        line.push_str(&format!(", RSS {:.1} MiB", rss as f64 / 1024.0));
    }
    line
}

/// A progress bar, hidden with `--json`.
pub fn progress(common: &Common, total: u64, what: &str) -> ProgressBar {
    if common.json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {what} {{per_sec}}"))
    {
        bar.set_style(style);
    }
    bar
}

/// Prints `line` above the progress bar, or on stderr when the bar is
/// hidden (JSON output, or stderr not a terminal): errors are never lost.
pub fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

#[derive(Parser)]
#[command(name = "switchyard-loadtest", version, about)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Ramp clients up, hold them idle: connect times, failures, server memory.
    Connect(connect::ConnectArgs),
    /// Clients emit with acks in a closed loop: acks/s and round-trip times.
    Echo(echo::EchoArgs),
    /// Subscribers in a room, a publisher at a fixed rate: delivery latency and loss.
    Fanout(fanout::FanoutArgs),
    /// Clients connecting and disconnecting continuously (soak test).
    Churn(churn::ChurnArgs),
    /// The kernel's cost of one small loopback write, to read the others against.
    Floor(floor::FloorArgs),
}

/// What a scenario measured: for machines, for people, and its loss.
pub struct Outcome {
    /// The report as JSON.
    pub json: serde_json::Value,
    /// The report for people.
    pub human: String,
    /// Fraction of expected messages lost.
    pub loss: f64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let common = &cli.common;
    if let Scenario::Fanout(args) = &cli.scenario
        && args.is_worker()
    {
        return match fanout::worker(common, args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("switchyard-loadtest worker: {e}");
                ExitCode::from(2)
            }
        };
    }
    let result = match &cli.scenario {
        Scenario::Connect(args) => connect::run(common, args).await,
        Scenario::Echo(args) => echo::run(common, args).await,
        Scenario::Fanout(args) => fanout::run(common, args).await,
        Scenario::Churn(args) => churn::run(common, args).await,
        Scenario::Floor(args) => floor::run(args).await,
    };
    match result {
        Ok(outcome) => {
            if common.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&outcome.json).unwrap_or_default()
                );
            } else {
                println!("{}", outcome.human);
            }
            if outcome.loss > common.max_loss {
                eprintln!(
                    "loss {:.6} exceeds --max-loss {}",
                    outcome.loss, common.max_loss
                );
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("switchyard-loadtest: {e}");
            ExitCode::from(2)
        }
    }
}
