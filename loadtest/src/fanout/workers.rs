//! Fanout over several processes (`--workers N`): one process can open
//! about 20,000 files, so big runs spread their subscribers over worker
//! processes. The coordinator starts the workers (this program again, with
//! `--worker i`), waits until each says `ready <joined> <failed>`,
//! publishes, then writes `stop <room messages> <messages to everyone>`
//! to each and merges the tallies they print (one JSON line each).
//! Subscriber i belongs to worker i mod N and keeps its source address
//! (127.0.0.x) and room; latency is stamped with the wall clock, which the
//! processes of one machine share.

use super::FanoutArgs;
use super::subscribers::{self, Tally, Totals};
use crate::Common;
use crate::client::Target;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// A worker process and its pipes.
pub struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
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
                child,
                stdin,
                lines: BufReader::new(stdout).lines(),
            })
        })
        .collect()
}

impl Worker {
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
        let stop = format!("stop {} {}\n", totals.rooms, totals.all);
        self.stdin
            .write_all(stop.as_bytes())
            .await
            .map_err(|e| format!("writing to a worker: {e}"))?;
        let line = self.line(Duration::from_secs(120)).await?;
        let tally = serde_json::from_str(&line).map_err(|e| format!("a worker's tally: {e}"))?;
        let _ = self.child.wait().await;
        Ok(tally)
    }
}

/// Runs worker `index`: its share of the subscribers, until told to stop.
pub async fn run(
    common: &Common,
    args: &FanoutArgs,
    targets: &[Target],
    index: usize,
    totals: Totals,
) -> Result<(), String> {
    let workers = args.workers.max(1);
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
    say(&format!("ready {joined} {failed}")).await?;
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let line = stdin
        .next_line()
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let mut words = line.split_whitespace().skip(1).map(str::parse::<u64>);
    let (Some(Ok(rooms)), Some(Ok(all))) = (words.next(), words.next()) else {
        return Err(format!("the coordinator said {line:?}, not stop"));
    };
    let tally = subscribers.finish(Totals { rooms, all }).await;
    say(&serde_json::to_string(&tally).map_err(|e| e.to_string())?).await
}

async fn say(line: &str) -> Result<(), String> {
    let mut out = tokio::io::stdout();
    out.write_all(format!("{line}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    out.flush().await.map_err(|e| e.to_string())
}
