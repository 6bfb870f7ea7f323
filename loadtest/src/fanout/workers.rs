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

use super::settings::FanoutArgs;
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
        send(&mut worker.stdin, &format!("worker {i} {count}")).await?;
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
    let line = receive(&mut lines, None, "the coordinator").await?;
    let (index, count) = pair(&line, "worker")?;
    Ok((index, count, lines, Box::new(write)))
}

/// The two numbers of a `<word> <a> <b>` line.
fn pair<T: std::str::FromStr>(line: &str, word: &str) -> Result<(T, T), String> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(w), Some(a), Some(b)) if w == word => match (a.parse(), b.parse()) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            _ => Err(format!("bad line {line:?}")),
        },
        _ => Err(format!("{line:?} is not {word:?}")),
    }
}

/// Writes one line and flushes it.
async fn send(out: &mut Writer, line: &str) -> Result<(), String> {
    out.write_all(format!("{line}\n").as_bytes())
        .await
        .map_err(|e| format!("writing a line: {e}"))?;
    out.flush()
        .await
        .map_err(|e| format!("writing a line: {e}"))
}

/// Reads one line from `who`, within `limit` when given.
async fn receive(lines: &mut Reader, limit: Option<Duration>, who: &str) -> Result<String, String> {
    let next = lines.next_line();
    let read = match limit {
        Some(limit) => tokio::time::timeout(limit, next)
            .await
            .map_err(|_| format!("{who} did not answer in time"))?,
        None => next.await,
    };
    match read {
        Ok(Some(line)) => Ok(line),
        Ok(None) => Err(format!("{who} closed early")),
        Err(e) => Err(format!("reading {who}: {e}")),
    }
}

impl Worker {
    /// Waits for `ready <joined> <failed>`.
    pub async fn ready(&mut self, limit: Duration) -> Result<(usize, usize), String> {
        let line = receive(&mut self.lines, Some(limit), "a worker").await?;
        pair(&line, "ready")
    }

    /// Tells the worker to stop and takes its tally.
    pub async fn finish(mut self, totals: Totals) -> Result<Tally, String> {
        let stop = format!("stop {} {}", totals.rooms, totals.all);
        send(&mut self.stdin, &stop).await?;
        let line = receive(&mut self.lines, Some(Duration::from_secs(120)), "a worker").await?;
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
    let (joined, failed) = subscribers.ready(args.ready_limit(count)).await;
    send(&mut out, &format!("ready {joined} {failed}")).await?;
    let line = receive(&mut lines, None, "the coordinator").await?;
    let (rooms, all) = pair(&line, "stop")?;
    let tally = subscribers.finish(Totals { rooms, all }).await;
    let tally = serde_json::to_string(&tally).map_err(|e| e.to_string())?;
    send(&mut out, &tally).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_lines_carry_a_word_and_two_numbers() {
        assert_eq!(pair::<usize>("ready 12 0", "ready"), Ok((12, 0)));
        assert_eq!(pair::<u64>("stop 600 60", "stop"), Ok((600, 60)));
        for bad in ["ready 12", "stop 1 2", "ready x 1", "ready -1 0", ""] {
            assert!(pair::<usize>(bad, "ready").is_err(), "{bad}");
        }
    }
}
