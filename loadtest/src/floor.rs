//! `floor`: what the kernel charges for the work every server must do, to
//! read server numbers against. One thread writes `size`-byte messages to
//! `sockets` loopback connections round-robin (`write`), or answers
//! closed-loop echoes over them with one read and one write each (`echo`),
//! while another thread plays the clients; the measured thread's own CPU
//! time per message is the floor.
//!
//! Pin the process to two cores (`taskset -c 0,1`) so that each thread
//! has one.

use crate::Outcome;
use serde::Serialize;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the floor measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FloorMode {
    /// One write per message (fan-out's floor).
    Write,
    /// One read and one write per message (echo's floor).
    Echo,
}

/// Settings of the floor measurement.
#[derive(Debug, Clone, clap::Args)]
pub struct FloorArgs {
    /// What to measure.
    #[arg(long, value_enum, default_value_t = FloorMode::Write)]
    pub mode: FloorMode,
    /// Loopback connections.
    #[arg(long, default_value_t = 1000)]
    pub sockets: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// How long to measure, in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// `write` only: rounds per second, each one message to every socket
    /// and then a pause, as a fan-out at this rate writes (the kernel then
    /// wakes idle readers, which a saturated run rarely does); 0: as fast
    /// as possible.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
}

/// What the floor measured.
#[derive(Debug, Serialize)]
pub struct FloorReport {
    /// Scenario name.
    pub scenario: &'static str,
    /// `write` or `echo`.
    pub mode: &'static str,
    /// Rounds per second of a paced `write` run (0: as fast as possible).
    pub rate: f64,
    /// Messages handled by the measured thread.
    pub messages: u64,
    /// Its CPU seconds (user and system).
    pub cpu_seconds: f64,
    /// CPU per message, microseconds: the floor.
    pub cpu_us_per_message: f64,
    /// Messages per second.
    pub messages_per_sec: f64,
}

/// CPU seconds of the calling thread so far.
fn thread_cpu() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/thread-self/stat") else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs the measurement.
pub async fn run(args: &FloorArgs) -> Result<Outcome, String> {
    let args = args.clone();
    let report = tokio::task::spawn_blocking(move || measure(&args))
        .await
        .map_err(|e| e.to_string())??;
    let human = format!(
        "floor ({}{}): {} messages in {:.2} CPU s of the measured thread: {:.2} µs CPU per message ({:.0}/s)",
        report.mode,
        if report.rate > 0.0 {
            format!(", {}/s", report.rate)
        } else {
            String::new()
        },
        report.messages,
        report.cpu_seconds,
        report.cpu_us_per_message,
        report.messages_per_sec
    );
    Ok(Outcome {
        json: serde_json::to_value(&report).map_err(|e| e.to_string())?,
        human,
        loss: 0.0,
    })
}

/// Measures on this thread while another plays the clients.
fn measure(args: &FloorArgs) -> Result<FloorReport, String> {
    let io = |e: std::io::Error| e.to_string();
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let (sockets, size, mode) = (args.sockets, args.size.max(1), args.mode);
    let run_for = Duration::from_secs_f64(args.duration);
    // The clients: a runtime of their own on another thread.
    let peer = std::thread::spawn(move || play_clients(addr, sockets, size, mode));
    let mut streams: Vec<TcpStream> = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        let (stream, _) = listener.accept().map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        streams.push(stream);
    }
    let message = vec![b'x'; size];
    let mut buf = vec![0u8; size];
    let (mut messages, cpu_start, started) = (0u64, thread_cpu(), Instant::now());
    let pause = (mode == FloorMode::Write && args.rate > 0.0)
        .then(|| Duration::from_secs_f64(1.0 / args.rate));
    let mut next_round = started;
    'run: loop {
        if let Some(pause) = pause {
            next_round += pause;
            if started.elapsed() >= run_for {
                break 'run;
            }
            std::thread::sleep(next_round.saturating_duration_since(Instant::now()));
        }
        for stream in &mut streams {
            match mode {
                FloorMode::Write => stream.write_all(&message).map_err(io)?,
                FloorMode::Echo => {
                    stream.read_exact(&mut buf).map_err(io)?;
                    stream.write_all(&buf).map_err(io)?;
                }
            }
            messages += 1;
            if messages % 1024 == 0 && started.elapsed() >= run_for {
                break 'run;
            }
        }
    }
    let (cpu, wall) = (thread_cpu() - cpu_start, started.elapsed().as_secs_f64());
    drop(streams);
    let _ = peer.join();
    Ok(FloorReport {
        scenario: "floor",
        mode: match mode {
            FloorMode::Write => "write",
            FloorMode::Echo => "echo",
        },
        rate: pause.map_or(0.0, |_| args.rate),
        messages,
        cpu_seconds: cpu,
        cpu_us_per_message: cpu * 1e6 / messages.max(1) as f64,
        messages_per_sec: messages as f64 / wall.max(1e-9),
    })
}

/// The clients: `sockets` connections to `addr` that read what the measured
/// thread writes, or send it messages to echo, until it hangs up.
fn play_clients(
    addr: SocketAddr,
    sockets: usize,
    size: usize,
    mode: FloorMode,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let mut tasks = Vec::new();
        for _ in 0..sockets {
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            tasks.push(tokio::spawn(play_client(stream, size, mode)));
        }
        for task in tasks {
            let _ = task.await;
        }
        Ok(())
    })
}

/// One client connection, until the measured thread hangs up.
async fn play_client(mut stream: tokio::net::TcpStream, size: usize, mode: FloorMode) {
    let mut buf = vec![0u8; 64 * 1024];
    let message = vec![b'x'; size];
    loop {
        match mode {
            FloorMode::Write => {
                if matches!(stream.read(&mut buf).await, Ok(0) | Err(_)) {
                    return;
                }
            }
            FloorMode::Echo => {
                if stream.write_all(&message).await.is_err()
                    || stream.read_exact(&mut buf[..size]).await.is_err()
                {
                    return;
                }
            }
        }
    }
}
