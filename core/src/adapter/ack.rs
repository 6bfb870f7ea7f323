//! Collecting the acknowledgements of a broadcast.
//!
//! Each node reports how many clients it sent the packet to; the emitter is
//! done once every expected node has reported and that many answers have
//! arrived, or when the timeout passes, keeping the answers so far.

use crate::value::Value;
use std::time::Duration;
use tokio::sync::mpsc;

use super::BoxFuture;

/// The acknowledgements of a broadcast: one value per client (its first
/// ack argument, as Node collects them).
pub type BroadcastAckFuture = BoxFuture<Result<Vec<Value>, BroadcastAckError>>;

/// Not every client answered in time.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("operation has timed out ({} of {} acknowledgements)", responses.len(), expected.map_or("?".to_string(), |e| e.to_string()))]
pub struct BroadcastAckError {
    /// The answers that did arrive.
    pub responses: Vec<Value>,
    /// How many answers were expected, when every node reported its count.
    pub expected: Option<usize>,
}

/// An event feeding an [`AckCollector`].
#[derive(Debug)]
pub enum AckEvent {
    /// A node sent the packet to this many clients.
    ClientCount(usize),
    /// One client's answer.
    Response(Value),
    /// A node left the cluster without reporting: stop expecting it.
    NodeGone,
    /// How many servers (this one included) will report, when it was not
    /// known at the start (a broker counted them after sending).
    Servers(usize),
}

/// Answers one broadcast collects at most (a node reporting nonsense
/// cannot make it grow without bound).
const MAX_RESPONSES: usize = 1_000_000;

/// Counts nodes, clients and answers until a broadcast is complete.
pub struct AckCollector {
    events: mpsc::UnboundedReceiver<AckEvent>,
    /// Servers expected to report; `None` until known.
    nodes: Option<usize>,
}

impl AckCollector {
    /// A collector expecting reports from `nodes` nodes; events come through
    /// the returned sender (clone it for each source).
    pub fn new(nodes: usize) -> (AckCollector, mpsc::UnboundedSender<AckEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            AckCollector {
                events: rx,
                nodes: Some(nodes),
            },
            tx,
        )
    }

    /// A collector that learns how many servers report from an
    /// [`AckEvent::Servers`].
    pub fn counting_later() -> (AckCollector, mpsc::UnboundedSender<AckEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            AckCollector {
                events: rx,
                nodes: None,
            },
            tx,
        )
    }

    /// Waits for completion or the timeout. Ends early, with what it has,
    /// when every sender is gone (all targeted clients disconnected).
    pub async fn collect(mut self, timeout: Duration) -> Result<Vec<Value>, BroadcastAckError> {
        let mut reported = 0;
        let mut expected_clients = 0;
        let mut responses = Vec::new();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            let all_reported = self.nodes.is_some_and(|nodes| reported >= nodes);
            if all_reported && responses.len() >= expected_clients {
                return Ok(responses);
            }
            let expected = all_reported.then_some(expected_clients);
            tokio::select! {
                event = self.events.recv() => match event {
                    // Counts come from other nodes: never trusted to add up.
                    Some(AckEvent::ClientCount(n)) => {
                        reported += 1;
                        expected_clients = expected_clients.saturating_add(n);
                    }
                    Some(AckEvent::Response(v)) => {
                        if responses.len() < MAX_RESPONSES {
                            responses.push(v);
                        }
                    }
                    Some(AckEvent::NodeGone) => self.nodes = self.nodes.map(|n| n.saturating_sub(1)),
                    Some(AckEvent::Servers(n)) => self.nodes = Some(n),
                    None => return Err(BroadcastAckError { responses, expected }),
                },
                () = &mut deadline => return Err(BroadcastAckError { responses, expected }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_from_other_nodes_cannot_overflow() {
        let (collector, tx) = AckCollector::new(2);
        tx.send(AckEvent::ClientCount(usize::MAX)).unwrap();
        tx.send(AckEvent::ClientCount(usize::MAX)).unwrap();
        tx.send(AckEvent::Response(Value::Null)).unwrap();
        drop(tx);
        let err = collector.collect(Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err.expected, Some(usize::MAX));
        assert_eq!(err.responses.len(), 1);
    }

    #[tokio::test]
    async fn completes_when_counts_and_answers_are_in() {
        let (collector, tx) = AckCollector::new(2);
        tx.send(AckEvent::ClientCount(1)).unwrap();
        tx.send(AckEvent::Response(Value::from(1))).unwrap();
        tx.send(AckEvent::ClientCount(1)).unwrap();
        tx.send(AckEvent::Response(Value::from(2))).unwrap();
        let got = collector.collect(Duration::from_secs(5)).await.unwrap();
        assert_eq!(got, vec![Value::from(1), Value::from(2)]);
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_with_the_partial_list() {
        let (collector, tx) = AckCollector::new(1);
        tx.send(AckEvent::ClientCount(2)).unwrap();
        tx.send(AckEvent::Response(Value::from("a"))).unwrap();
        let err = collector
            .collect(Duration::from_millis(100))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            BroadcastAckError {
                responses: vec![Value::from("a")],
                expected: Some(2)
            }
        );
        drop(tx);
    }

    #[tokio::test]
    async fn learns_the_server_count_after_sending() {
        let (collector, tx) = AckCollector::counting_later();
        tx.send(AckEvent::ClientCount(1)).unwrap();
        tx.send(AckEvent::Response(Value::from(1))).unwrap();
        tx.send(AckEvent::ClientCount(0)).unwrap();
        tx.send(AckEvent::Servers(2)).unwrap();
        assert_eq!(
            collector.collect(Duration::from_secs(5)).await.unwrap(),
            vec![Value::from(1)]
        );
    }

    #[tokio::test]
    async fn stops_waiting_for_nodes_that_left() {
        let (collector, tx) = AckCollector::new(2);
        tx.send(AckEvent::ClientCount(0)).unwrap();
        tx.send(AckEvent::NodeGone).unwrap();
        assert_eq!(
            collector.collect(Duration::from_secs(5)).await.unwrap(),
            vec![]
        );
    }
}
