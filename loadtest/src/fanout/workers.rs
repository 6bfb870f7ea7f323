//! Fanout over several processes (`--workers N`): one process can open
//! about 20,000 files, so big runs spread their subscribers over worker
//! processes. The coordinator starts the workers (this program again, with
//! `--worker i`) — or, with `--listen`, waits for N workers started
//! elsewhere with `--coordinator host:port` (containers, other hosts),
//! telling each `worker <i> <N>` — then waits until each says `ready
//! <joined> <failed>`, publishes, writes `stop <room messages> <messages
//! to everyone>` to each and merges the tallies they answer (one JSON line
//! each). Every worker is given the same scenario flags.
//! Subscriber i belongs to worker i mod N and keeps its source address
//! (127.0.0.x) and room; latency is stamped with the wall clock, which the
//! processes of one machine share.

use super::FanoutArgs;
use super::subscribers::{self, Tally, Totals};
use crate::Common;
use crate::client::Target;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, Lines};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

/// Lines from the other side.
pub type Reader = Lines<BufReader<Box<dyn AsyncRead + Unpin + Send>>>;
/// Lines to the other side.
pub type Writer = Box<dyn AsyncWrite + Unpin + Send>;

/// A worker: a child process and its pipes, or a connection.
pub struct Worker {
    child: Option<Child>,
    stdin: Writer,
    lines: Reader,
}

fn reader(read: impl AsyncRead + Unpin + Send + 'static) -> Reader {
    BufReader::new(Box::new(read) as Box<dyn AsyncRead + Unpin + Send>).lines()
}

/// Starts `count` workers with this process's own arguments.
pub fn spawn(count: usize) -> Result<Vec<Worker>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    (0..count)
        .map(|i| {
            let mut child = Command::new(&exe)
                .args(&args)
                .args(["--worker", &i.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot start worker {i}: {e}"))?;
            let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                return Err(format!("worker {i} has no pipes"));
            };
            Ok(Worker {
                child: Some(child),
                stdin: Box::new(stdin),
                lines: reader(stdout),
            })
        })
        .collect()
}

/// Waits on `listen` for `count` workers started with `--coordinator`.
pub async fn accept(listen: &str, count: usize, limit: Duration) -> Result<Vec<Worker>, String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let mut workers = Vec::with_capacity(count);
    for i in 0..count {
        let (stream, _) = tokio::time::timeout(limit, listener.accept())
            .await
            .map_err(|_| format!("{i} of {count} workers came"))?
            .map_err(|e| format!("accepting a worker: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let mut worker = Worker {
            child: None,
            stdin: Box::new(write),
            lines: reader(read),
        };
        worker.send(&format!("worker {i} {count}\n")).await?;
        workers.push(worker);
    }
    Ok(workers)
}

/// Connects to the coordinator (trying for a minute): the worker's index,
/// the number of workers, and the lines to and from the coordinator.
pub async fn join(coordinator: &str) -> Result<(usize, usize, Reader, Writer), String> {
    let by = Instant::now() + Duration::from_secs(60);
    let stream = loop {
        match TcpStream::connect(coordinator).await {
            Ok(stream) => break stream,
            Err(e) if Instant::now() > by => {
                return Err(format!("cannot reach the coordinator {coordinator}: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    let (read, write) = stream.into_split();
    let mut lines = reader(read);
    let line = lines
        .next_line()
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("worker"), Some(i), Some(n)) => Ok((
            i.parse().map_err(|_| format!("bad line {line:?}"))?,
            n.parse().map_err(|_| format!("bad line {line:?}"))?,
            lines,
            Box::new(write),
        )),
        _ => Err(format!("the coordinator said {line:?}")),
    }
}

impl Worker {
    async fn send(&mut self, line: &str) -> Result<(), String> {
        self.stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("writing to a worker: {e}"))?;
        self.stdin
            .flush()
            .await
            .map_err(|e| format!("writing to a worker: {e}"))
    }

    async fn line(&mut self, limit: Duration) -> Result<String, String> {
        match tokio::time::timeout(limit, self.lines.next_line()).await {
            Ok(Ok(Some(line))) => Ok(line),
            Ok(Ok(None)) => Err("a worker exited early".into()),
            Ok(Err(e)) => Err(format!("reading a worker: {e}")),
            Err(_) => Err("a worker did not answer in time".into()),
        }
    }

    /// Waits for `ready <joined> <failed>`.
    pub async fn ready(&mut self, limit: Duration) -> Result<(usize, usize), String> {
        let line = self.line(limit).await?;
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("ready"), Some(joined), Some(failed)) => Ok((
                joined.parse().map_err(|_| format!("bad line {line:?}"))?,
                failed.parse().map_err(|_| format!("bad line {line:?}"))?,
            )),
            _ => Err(format!("a worker said {line:?}, not ready")),
        }
    }

    /// Tells the worker to stop and takes its tally.
    pub async fn finish(mut self, totals: Totals) -> Result<Tally, String> {
        self.send(&format!("stop {} {}\n", totals.rooms, totals.all))
            .await?;
        let line = self.line(Duration::from_secs(120)).await?;
        let tally = serde_json::from_str(&line).map_err(|e| format!("a worker's tally: {e}"))?;
        if let Some(child) = &mut self.child {
            let _ = child.wait().await;
        }
        Ok(tally)
    }
}

/// Runs worker `index` of `workers`: its share of the subscribers, until
/// the coordinator (`lines`, `out`) tells it to stop.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    common: &Common,
    args: &FanoutArgs,
    targets: &[Target],
    (index, workers): (usize, usize),
    totals: Totals,
    mut lines: Reader,
    mut out: Writer,
) -> Result<(), String> {
    let workers = workers.max(1);
    let mine: Vec<usize> = (0..args.subscribers)
        .filter(|i| i % workers == index)
        .collect();
    let count = mine.len();
    let subscribers = subscribers::start(
        common,
        args,
        targets,
        mine,
        args.connect_rate / workers as f64,
        totals,
    )
    .await;
    let (joined, failed) = subscribers.ready(super::ready_limit(args, count)).await;
    say(&mut out, &format!("ready {joined} {failed}")).await?;
    let line = lines
        .next_line()
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let mut words = line.split_whitespace().skip(1).map(str::parse::<u64>);
    let (Some(Ok(rooms)), Some(Ok(all))) = (words.next(), words.next()) else {
        return Err(format!("the coordinator said {line:?}, not stop"));
    };
    let tally = subscribers.finish(Totals { rooms, all }).await;
    let tally = serde_json::to_string(&tally).map_err(|e| e.to_string())?;
    say(&mut out, &tally).await
}

async fn say(out: &mut Writer, line: &str) -> Result<(), String> {
    out.write_all(format!("{line}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    out.flush().await.map_err(|e| e.to_string())
}
