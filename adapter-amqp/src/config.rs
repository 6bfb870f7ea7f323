//! `AmqpConfig`: how to reach RabbitMQ (one URL or a cluster's), and
//! `AmqpError`, why the broker could not start.

use std::time::Duration;

/// How to reach RabbitMQ.
#[derive(Clone, Debug)]
pub struct AmqpConfig {
    /// `amqp://user:pass@host:5672/%2f` (`amqps://` for TLS), or the URLs of
    /// several nodes of a RabbitMQ cluster separated by commas: the broker
    /// connects to the first that answers and, when that connection is lost,
    /// tries the next one first. A `heartbeat` query parameter is added
    /// (10 s) where absent, to notice dead peers.
    pub url: String,
    /// Exchange name prefix; clusters with different prefixes share a broker.
    pub prefix: String,
    /// Unacknowledged messages RabbitMQ may push to this node at once.
    pub prefetch: u16,
    /// Longest wait between reconnection attempts.
    pub max_reconnect_delay: Duration,
    /// How long a connection attempt may take.
    pub connect_timeout: Duration,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        AmqpConfig {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            prefix: "socket.io".into(),
            prefetch: 1000,
            max_reconnect_delay: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to RabbitMQ at {url}: {reason}")]
pub struct AmqpError {
    pub(crate) url: String,
    pub(crate) reason: String,
}

/// The comma-separated URLs of `list`, each with a heartbeat.
pub(crate) fn node_urls(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| {
            let mut url = url.to_owned();
            if !url.contains("heartbeat=") {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str("heartbeat=10");
            }
            url
        })
        .collect()
}

pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}
