//! Connecting to NATS: the client's options (authentication, TLS,
//! reconnection), the seed servers, and the connection's life, counted and
//! logged.

use crate::config::{NatsConfig, NatsError};
use async_nats::{ConnectOptions, Event};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use switchyard_cluster::BrokerCounters;

/// Connects a client as `config` says; its events are counted in `counters`.
pub(crate) async fn connect_client(
    config: &NatsConfig,
    counters: &Arc<BrokerCounters>,
) -> Result<async_nats::Client, NatsError> {
    let options = options(config, counters).await?;
    let failed = |reason: String| NatsError::Connect {
        url: redact(&config.url),
        reason,
    };
    // A comma-separated list of seeds: any one of them up is enough to
    // start, and the servers announce the rest of their cluster.
    let servers = config
        .url
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| url.parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(e.to_string()))?;
    if servers.is_empty() {
        return Err(failed("no server URL".into()));
    }
    options
        .connect(servers)
        .await
        .map_err(|e| failed(e.to_string()))
}

/// The client's options: its name, reconnection without end, and the
/// credentials and TLS settings of `config`.
async fn options(
    config: &NatsConfig,
    counters: &Arc<BrokerCounters>,
) -> Result<ConnectOptions, NatsError> {
    let max_delay = config.max_reconnect_delay;
    let mut options = ConnectOptions::new()
        .name(config.name.clone().unwrap_or_else(|| "switchyard".into()))
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .reconnect_delay_callback(move |attempts| {
            Duration::from_millis(attempts as u64 * 100).min(max_delay)
        })
        .event_callback(events(counters.clone()));
    if let Some(path) = &config.credentials_file {
        options = options.credentials_file(path).await?;
    }
    if let Some(token) = &config.token {
        options = options.token(token.clone());
    }
    if config.require_tls {
        options = options.require_tls(true);
    }
    if let Some(ca) = &config.root_certificate {
        options = options.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &config.client_certificate {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    Ok(options)
}

/// Counts and logs the connection's life (the callback must stay quick:
/// the client drops events it cannot queue).
fn events(
    counters: Arc<BrokerCounters>,
) -> impl Fn(Event) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
    let connected_before = Arc::new(AtomicBool::new(false));
    move |event| {
        let counters = counters.clone();
        let connected_before = connected_before.clone();
        Box::pin(async move {
            match event {
                Event::Connected => {
                    if connected_before.swap(true, Ordering::AcqRel) {
                        counters.recovery();
                        tracing::info!(
                            broker = "nats",
                            "reconnected to NATS; subscriptions restored"
                        );
                    }
                }
                Event::Disconnected => {
                    counters.outage();
                    tracing::warn!(
                        broker = "nats",
                        "connection to NATS lost; reconnecting (local delivery goes on)"
                    );
                }
                Event::SlowConsumer(_) => {
                    counters.lost(1);
                    tracing::warn!(
                        broker = "nats",
                        "slow consumer: NATS dropped an incoming message"
                    );
                }
                Event::ServerError(e) => {
                    tracing::warn!(broker = "nats", error = %e, "NATS server error")
                }
                Event::ClientError(e) => {
                    tracing::debug!(broker = "nats", error = %e, "NATS client error")
                }
                other => tracing::debug!(broker = "nats", event = %other, "NATS event"),
            }
        })
    }
}

pub(crate) fn redact(urls: &str) -> String {
    urls.split(',')
        .map(redact_one)
        .collect::<Vec<_>>()
        .join(",")
}

fn redact_one(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}
