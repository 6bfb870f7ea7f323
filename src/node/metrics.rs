//! `/metrics`: the node's counters, gauges and histograms in Prometheus'
//! text format, kept by the `metrics` facade's Prometheus recorder
//! (`metrics-exporter-prometheus`) installed at start. The libraries record
//! their own as things happen (`switchyard_core::metrics::names`, the
//! cluster's and brokers'); the gauges that describe the present (sessions,
//! sockets, nodes) and the totals other parts keep are set at each scrape.

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use switchyard_cluster::Cluster;
use switchyard_core::SocketIo;
use switchyard_core::limits::Refused;
use switchyard_core::metrics::names;

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets, in seconds.
const SECONDS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Installs the process's metrics recorder (once; later calls do nothing).
pub fn install() {
    RECORDER.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
            .and_then(|b| b.install_recorder());
        match builder {
            Ok(handle) => {
                describe();
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "no metrics recorder: nothing is exported");
                None
            }
        }
    });
}

/// Describes every metric, and starts at 0 those that rates are computed
/// from.
fn describe() {
    describe_traffic();
    describe_cluster();
    describe_present();
    describe_broker();
    switchyard_core::metrics::register();
    for name in [
        "switchyard_cluster_requests_total",
        "switchyard_cluster_responses_total",
        "switchyard_cluster_request_timeouts_total",
    ] {
        counter!(name).increment(0);
    }
    for reason in Refused::all() {
        // Present from the start, at 0, so that rates can be computed.
        counter!("switchyard_refused_total", "reason" => reason.as_str()).absolute(reason.count());
    }
}

/// The sessions, packets, acknowledgements and refusals of clients.
fn describe_traffic() {
    describe_counter!(
        names::HANDSHAKES,
        "Engine.IO sessions opened, by transport."
    );
    describe_counter!(names::DISCONNECTS, "Engine.IO sessions closed, by reason.");
    describe_counter!(
        names::PACKETS_RECEIVED,
        "Engine.IO packets received from clients."
    );
    describe_counter!(
        names::BYTES_RECEIVED,
        "Bytes of the packets received from clients."
    );
    describe_counter!(names::PACKETS_SENT, "Packets queued for clients.");
    describe_counter!(
        names::BYTES_SENT,
        "Bytes of the packets queued for clients."
    );
    describe_counter!(
        names::PACKETS_WRITTEN_DIRECTLY,
        "Of the packets sent, those written to a WebSocket by the task that produced them (not queued for the connection's task)."
    );
    describe_counter!(names::BROADCASTS, "Broadcasts delivered on this node.");
    describe_counter!(
        names::VOLATILE_DROPPED,
        "Volatile packets dropped for clients not ready."
    );
    describe_counter!(names::ACKS, "Acknowledgements waited for, by result.");
    describe_counter!(names::RECOVERIES, "Connection state recoveries, by result.");
    describe_histogram!(
        names::OUTGOING_WAIT,
        "Time from a packet's emit (a broadcast's emit on this node, or its arrival from the broker) to the start of its write to the socket."
    );
    describe_counter!(
        "switchyard_refused_total",
        "Requests refused and clients cut off past a limit, by reason."
    );
}

/// The messages and requests exchanged with the other nodes.
fn describe_cluster() {
    describe_counter!(
        "switchyard_cluster_messages_received_total",
        "Cluster messages of other nodes taken from the broker, by kind."
    );
    describe_counter!(
        "switchyard_cluster_requests_total",
        "Requests this node sent to the other nodes."
    );
    describe_counter!(
        "switchyard_cluster_responses_total",
        "Responses other nodes sent to this node."
    );
    describe_counter!(
        "switchyard_cluster_request_timeouts_total",
        "Requests that timed out with answers missing."
    );
    describe_histogram!(
        "switchyard_broker_publish_seconds",
        "Time to hand queued messages to the broker."
    );
}

/// The gauges set at each scrape: what the node holds now.
fn describe_present() {
    describe_gauge!(
        "switchyard_sessions",
        "Engine.IO sessions open on this node, by transport."
    );
    describe_gauge!(
        "switchyard_sockets",
        "Sockets connected to this node, by namespace."
    );
    describe_gauge!(
        "switchyard_rooms",
        "Rooms with members on this node, by namespace (each socket's own room included)."
    );
    describe_gauge!(
        "switchyard_pending_acks",
        "Acknowledgements the server awaits from its clients, by namespace."
    );
    describe_gauge!(
        "switchyard_recovery_entries",
        "Connection state recovery: packets and sessions kept in this node's memory, by namespace."
    );
    describe_gauge!(
        "switchyard_cluster_pending_requests",
        "Requests to other nodes still waiting for answers, by namespace."
    );
    describe_gauge!(
        "switchyard_online_users",
        "Users online in the cluster, by namespace."
    );
    describe_gauge!(
        "switchyard_cluster_nodes",
        "Other nodes this node hears from."
    );
    describe_gauge!(
        "switchyard_tokio_tasks",
        "Tasks alive in the node's runtime (a leak shows as growth at a steady load)."
    );
    describe_gauge!(
        "switchyard_ready",
        "1 while the node is ready for new clients (/readyz)."
    );
}

/// The forwarded requests and the broker connection's troubles.
fn describe_broker() {
    describe_counter!(
        "switchyard_forwarded_requests_total",
        "Requests forwarded to the node owning their session."
    );
    describe_counter!(
        "switchyard_broker_outages_total",
        "Times the broker connection was lost."
    );
    describe_counter!(
        "switchyard_broker_recoveries_total",
        "Times it was restored."
    );
    describe_counter!(
        "switchyard_broker_publish_failures_total",
        "Messages that could not be published."
    );
    describe_counter!(
        "switchyard_broker_lost_incoming_total",
        "Incoming messages the broker client dropped."
    );
    describe_counter!(
        "switchyard_cluster_skipped_messages_total",
        "Malformed or foreign cluster messages skipped."
    );
}

/// The metrics of a node, as Prometheus reads them.
pub fn render(io: &SocketIo, cluster: Option<&Cluster>) -> String {
    let Some(Some(handle)) = RECORDER.get() else {
        return String::new();
    };
    let stats = io.stats();
    gauge!("switchyard_sessions", "transport" => "polling").set(stats.polling_sessions as f64);
    gauge!("switchyard_sessions", "transport" => "websocket")
        .set(stats.sessions.saturating_sub(stats.polling_sessions) as f64);
    counter!("switchyard_forwarded_requests_total").absolute(stats.forwarded_requests);
    counter!(names::PACKETS_RECEIVED).absolute(stats.packets_received);
    counter!(names::BYTES_RECEIVED).absolute(stats.bytes_received);
    counter!(names::PACKETS_SENT).absolute(stats.packets_sent);
    counter!(names::BYTES_SENT).absolute(stats.bytes_sent);
    counter!(names::PACKETS_WRITTEN_DIRECTLY).absolute(stats.packets_written_directly);
    for ns in io.namespaces() {
        let name = ns.name().to_string();
        let held = ns.stats();
        gauge!("switchyard_sockets", "namespace" => name.clone()).set(held.sockets as f64);
        gauge!("switchyard_rooms", "namespace" => name.clone()).set(held.rooms as f64);
        gauge!("switchyard_pending_acks", "namespace" => name.clone())
            .set(held.pending_acks as f64);
        gauge!("switchyard_recovery_entries", "namespace" => name.clone())
            .set(held.recovery_entries as f64);
        gauge!("switchyard_cluster_pending_requests", "namespace" => name.clone())
            .set(held.pending_requests as f64);
        gauge!("switchyard_online_users", "namespace" => name).set(ns.online_users().len() as f64);
    }
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        gauge!("switchyard_tokio_tasks").set(runtime.metrics().num_alive_tasks() as f64);
    }
    let ready = super::health::not_ready(io, cluster).is_none();
    gauge!("switchyard_ready").set(if ready { 1.0 } else { 0.0 });
    if let Some(cluster) = cluster {
        let broker = cluster.broker().stats();
        let kind = cluster.broker().kind();
        gauge!("switchyard_cluster_nodes").set(cluster.node_count() as f64);
        counter!("switchyard_broker_outages_total", "broker" => kind).absolute(broker.outages);
        counter!("switchyard_broker_recoveries_total", "broker" => kind)
            .absolute(broker.recoveries);
        counter!("switchyard_broker_publish_failures_total", "broker" => kind)
            .absolute(broker.publish_failures);
        counter!("switchyard_broker_lost_incoming_total", "broker" => kind)
            .absolute(broker.lost_incoming);
        counter!("switchyard_cluster_skipped_messages_total", "broker" => kind)
            .absolute(cluster.skipped_messages());
    }
    handle.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn renders_what_the_server_counts() {
        install();
        let io = SocketIo::default();
        io.of("/chat");
        let text = render(&io, None);
        for line in [
            "# TYPE switchyard_sessions gauge",
            "switchyard_sessions{transport=\"polling\"} 0",
            "switchyard_sockets{namespace=\"/chat\"} 0",
            "switchyard_forwarded_requests_total 0",
            "switchyard_refused_total{reason=\"client_buffer\"}",
            "switchyard_ready 1",
            "switchyard_acks_total{result=\"timeout\"} 0",
            "switchyard_recoveries_total{result=\"recovered\"} 0",
            "switchyard_cluster_request_timeouts_total 0",
            "# TYPE switchyard_tokio_tasks gauge",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
