//! `/metrics`: the node's counters in Prometheus' text format, for
//! operators and load tests. Counters the libraries record through the
//! `metrics` facade (such as `switchyard_refused_total{reason}`) are kept by
//! the Prometheus recorder installed at start and rendered after these.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::fmt::Write;
use std::sync::OnceLock;
use switchyard_cluster::Cluster;
use switchyard_core::SocketIo;

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's metrics recorder (once; later calls do nothing).
pub fn install() {
    RECORDER.get_or_init(|| match PrometheusBuilder::new().install_recorder() {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "no metrics recorder: library counters are not exported");
            None
        }
    });
}

/// The counters of a node, as Prometheus reads them.
pub fn render(io: &SocketIo, cluster: Option<&Cluster>) -> String {
    let mut out = String::new();
    if let Some(Some(handle)) = RECORDER.get() {
        out.push_str(&handle.render());
    }
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let stats = io.stats();
    metric(
        "switchyard_sessions",
        "gauge",
        "Engine.IO sessions open on this node.",
        &[(String::new(), stats.sessions as u64)],
    );
    metric(
        "switchyard_forwarded_requests_total",
        "counter",
        "Requests forwarded to the node owning their session.",
        &[(String::new(), stats.forwarded_requests)],
    );
    let sockets: Vec<(String, u64)> = io
        .namespaces()
        .iter()
        .map(|ns| {
            (
                format!("{{namespace=\"{}\"}}", escape(ns.name())),
                ns.socket_count() as u64,
            )
        })
        .collect();
    metric(
        "switchyard_sockets",
        "gauge",
        "Sockets connected to this node, by namespace.",
        &sockets,
    );
    let online: Vec<(String, u64)> = io
        .namespaces()
        .iter()
        .map(|ns| {
            (
                format!("{{namespace=\"{}\"}}", escape(ns.name())),
                ns.online_users().len() as u64,
            )
        })
        .collect();
    metric(
        "switchyard_online_users",
        "gauge",
        "Users online in the cluster, by namespace.",
        &online,
    );
    if let Some(cluster) = cluster {
        let broker = cluster.broker().stats();
        let label = format!("{{broker=\"{}\"}}", cluster.broker().kind());
        for (name, help, value) in [
            (
                "switchyard_broker_outages_total",
                "Times the broker connection was lost.",
                broker.outages,
            ),
            (
                "switchyard_broker_recoveries_total",
                "Times it was restored.",
                broker.recoveries,
            ),
            (
                "switchyard_broker_publish_failures_total",
                "Messages that could not be published.",
                broker.publish_failures,
            ),
            (
                "switchyard_broker_lost_incoming_total",
                "Incoming messages the broker client dropped.",
                broker.lost_incoming,
            ),
            (
                "switchyard_cluster_skipped_messages_total",
                "Malformed or foreign cluster messages skipped.",
                cluster.skipped_messages(),
            ),
        ] {
            metric(name, "counter", help, &[(label.clone(), value)]);
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn renders_the_counters() {
        let io = SocketIo::default();
        io.of("/chat");
        let text = render(&io, None);
        assert!(
            text.contains("# TYPE switchyard_sessions gauge\nswitchyard_sessions 0\n"),
            "{text}"
        );
        assert!(
            text.contains("switchyard_sockets{namespace=\"/chat\"} 0"),
            "{text}"
        );
        assert!(text.contains("switchyard_forwarded_requests_total 0"));
    }
}
