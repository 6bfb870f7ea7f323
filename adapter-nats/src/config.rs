//! `NatsConfig`: how to reach NATS, and `NatsError`, why the broker could
//! not start.

use std::path::PathBuf;
use std::time::Duration;

/// How to reach NATS.
#[derive(Clone, Debug)]
pub struct NatsConfig {
    /// Server URL, e.g. `nats://127.0.0.1:4222`, `nats://user:pass@host:4222`,
    /// `tls://host:4222`, or several separated by commas (the seeds of a
    /// NATS cluster: any one reachable is enough).
    pub url: String,
    /// Subject prefix; clusters with different prefixes share one server.
    pub prefix: String,
    /// A `.creds` file (JWT and nkey).
    pub credentials_file: Option<PathBuf>,
    /// An authentication token.
    pub token: Option<String>,
    /// Require TLS.
    pub require_tls: bool,
    /// A CA certificate (PEM) to trust.
    pub root_certificate: Option<PathBuf>,
    /// A client certificate and its key (PEM), for mutual TLS.
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    /// The connection's name, shown by the server.
    pub name: Option<String>,
    /// Longest wait between reconnection attempts.
    pub max_reconnect_delay: Duration,
    /// Replicas of the JetStream streams connection state recovery keeps
    /// (created with this count; 3 on a clustered JetStream keeps them
    /// through the loss of a server). Streams that exist keep theirs.
    pub stream_replicas: usize,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            url: "nats://127.0.0.1:4222".into(),
            prefix: "socket.io".into(),
            credentials_file: None,
            token: None,
            require_tls: false,
            root_certificate: None,
            client_certificate: None,
            name: None,
            max_reconnect_delay: Duration::from_secs(2),
            stream_replicas: 1,
        }
    }
}

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// The credentials file could not be read.
    #[error("cannot read the NATS credentials file: {0}")]
    Credentials(#[from] std::io::Error),
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect {
        /// The URL tried.
        url: String,
        /// Why it failed.
        reason: String,
    },
}
