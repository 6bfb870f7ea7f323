//! What the server processes spent, read from `/proc`: CPU time (user and
//! system) and resident memory, for CPU per message and memory per client.

use serde::Serialize;
use std::time::Instant;

/// Clock ticks per second of `/proc/<pid>/stat` (Linux's USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds a process (all threads) used so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields count from after its ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU of the server processes over a measured window.
pub struct CpuWindow {
    pids: Vec<u32>,
    start: Vec<f64>,
    started: Instant,
}

/// What the servers spent over a window.
#[derive(Debug, Default, Serialize)]
pub struct ServerCpu {
    /// CPU seconds, all server processes.
    pub cpu_seconds: f64,
    /// Wall-clock seconds of the window.
    pub wall_seconds: f64,
    /// CPU per unit of work (delivery, ack), microseconds.
    pub cpu_us_per_unit: Option<f64>,
    /// Resident memory at the end, KiB, all server processes.
    pub rss_kib: Option<u64>,
}

impl CpuWindow {
    /// Starts measuring `pids` (none: nothing is measured).
    pub fn start(pids: &[u32]) -> CpuWindow {
        CpuWindow {
            pids: pids.to_vec(),
            start: pids
                .iter()
                .map(|p| cpu_seconds(*p).unwrap_or(0.0))
                .collect(),
            started: Instant::now(),
        }
    }

    /// Ends the window; `units` of work were done in it.
    pub fn finish(&self, units: u64) -> Option<ServerCpu> {
        if self.pids.is_empty() {
            return None;
        }
        let cpu: f64 = self
            .pids
            .iter()
            .zip(&self.start)
            .map(|(pid, start)| cpu_seconds(*pid).unwrap_or(*start) - start)
            .sum();
        let rss: Option<u64> = self.pids.iter().map(|p| rss_kib(*p)).sum();
        Some(ServerCpu {
            cpu_seconds: cpu,
            wall_seconds: self.started.elapsed().as_secs_f64(),
            cpu_us_per_unit: (units > 0).then(|| cpu * 1e6 / units as f64),
            rss_kib: rss,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).is_some());
        assert!(rss_kib(pid).unwrap_or(0) > 0);
        assert_eq!(cpu_seconds(u32::MAX), None);
    }
}
