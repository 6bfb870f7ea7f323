//! What a fanout run measured, for machines and for people.

use super::settings::FanoutArgs;
use super::subscribers::{Tally, Totals};
use crate::Outcome;
use crate::server::ServerCpu;
use crate::stats::Percentiles;
use serde::Serialize;
use std::time::Duration;

/// What a fanout run measured.
#[derive(Debug, Serialize)]
pub struct FanoutReport {
    /// Scenario name.
    pub scenario: &'static str,
    /// Subscribers connected and joined.
    pub subscribers: usize,
    /// Rooms they were spread over.
    pub rooms: usize,
    /// Subscribers that failed to connect or join.
    pub connect_failures: usize,
    /// Messages published to rooms.
    pub published: u64,
    /// Messages published to everyone.
    pub published_to_all: u64,
    /// Processes holding the subscribers.
    pub workers: usize,
    /// Deliveries expected (each subscriber: its room's share and every
    /// message to everyone).
    pub expected: u64,
    /// Distinct deliveries.
    pub delivered: u64,
    /// Expected deliveries that never came.
    pub lost: u64,
    /// Deliveries seen twice or more.
    pub duplicates: u64,
    /// Deliveries older than one already seen by the same subscriber.
    pub out_of_order: u64,
    /// Some room messages (sequence numbers; message s went to room s mod
    /// R) that a subscriber missed.
    pub missing: Vec<u64>,
    /// Some messages to everyone that a subscriber missed.
    pub missing_to_all: Vec<u64>,
    /// Loss as a fraction of expected.
    pub loss_ratio: f64,
    /// Deliveries per second over the publishing window.
    pub deliveries_per_sec: f64,
    /// Publish-to-delivery latency, microseconds.
    pub latency_us: Percentiles,
    /// What the servers spent while publishing (CPU per delivery).
    pub server: Option<ServerCpu>,
    /// Subscribers that never read.
    pub slow_consumers: usize,
    /// Of them, those the server disconnected.
    pub slow_consumers_cut: usize,
}

impl FanoutReport {
    /// The report of a run that published `published` over `window`, with
    /// what its subscribers counted and `(slow consumers, of them cut off)`.
    pub fn new(
        args: &FanoutArgs,
        mut tally: Tally,
        published: Totals,
        workers: usize,
        window: Duration,
        server: Option<ServerCpu>,
        (slow_consumers, slow_consumers_cut): (usize, usize),
    ) -> FanoutReport {
        let (delivered, expected) = (tally.delivered, tally.expected);
        FanoutReport {
            scenario: "fanout",
            subscribers: tally.joined,
            rooms: args.rooms.max(1),
            connect_failures: tally.failed,
            published: published.rooms,
            published_to_all: published.all,
            workers,
            expected,
            delivered,
            lost: expected.saturating_sub(delivered),
            duplicates: tally.duplicates,
            out_of_order: tally.out_of_order,
            missing: std::mem::take(&mut tally.missing),
            missing_to_all: std::mem::take(&mut tally.missing_to_all),
            loss_ratio: if expected == 0 {
                0.0
            } else {
                expected.saturating_sub(delivered) as f64 / expected as f64
            },
            deliveries_per_sec: delivered as f64 / window.as_secs_f64().max(1e-9),
            latency_us: Percentiles::of(&tally.histogram()),
            server,
            slow_consumers,
            slow_consumers_cut,
        }
    }

    /// The report for machines and for people, and its loss.
    pub fn outcome(&self) -> Result<Outcome, String> {
        let slow = if self.slow_consumers > 0 {
            format!(
                "\nslow consumers: {} of {} cut off by the server",
                self.slow_consumers_cut, self.slow_consumers
            )
        } else {
            String::new()
        };
        let missing = if self.missing.is_empty() && self.missing_to_all.is_empty() {
            String::new()
        } else {
            format!(
                "\nmissed (some sequence numbers): to rooms {:?}, to everyone {:?}",
                self.missing, self.missing_to_all
            )
        };
        let human = format!(
            "fanout: {} subscribers{}{}, {} published{}, {}/{} delivered ({:.0}/s), lost {} ({:.4}%), duplicates {}, out of order {}{missing}\nlatency {}{}{slow}",
            self.subscribers,
            match self.connect_failures {
                0 => String::new(),
                n => format!(" ({n} could not connect)"),
            },
            match self.rooms {
                1 => String::new(),
                n => format!(" in {n} rooms"),
            },
            self.published,
            match self.published_to_all {
                0 => String::new(),
                n => format!(" (and {n} to everyone)"),
            },
            self.delivered,
            self.expected,
            self.deliveries_per_sec,
            self.lost,
            self.loss_ratio * 100.0,
            self.duplicates,
            self.out_of_order,
            self.latency_us.human(),
            crate::server_line(self.server.as_ref(), "delivery"),
        );
        Ok(Outcome {
            json: serde_json::to_value(self).map_err(|e| e.to_string())?,
            human,
            loss: self.loss_ratio,
        })
    }
}
