//! The `switchyard` node: a server configured by flags and environment,
//! serving the bench contract on `/`, the chat demo on `/chat` and its page.

mod cli;
pub mod cluster;
mod contract;
mod demo;
pub mod health;
pub mod metrics;
pub mod ops;

pub use cli::{AdapterKind, AdminModeKind, Cli, LogFormat, ParserKind, RedisFormatKind};
pub use contract::install as install_bench_contract;
pub use demo::install as install_chat_demo;

use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use switchyard_cluster::Cluster;
use switchyard_core::SocketIo;
use tokio::net::TcpListener;

/// Why the node could not run.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("cannot serve: {0}")]
    Serve(#[from] std::io::Error),
    /// The broker could not be reached.
    #[error("{0}")]
    Broker(String),
    /// The Admin UI's settings are wrong.
    #[error("{0}")]
    Admin(String),
    /// The TLS certificate or key cannot be used.
    #[error("TLS: {0}")]
    Tls(#[from] switchyard_core::tls::TlsError),
}

/// Starts logging as the flags ask (`RUST_LOG` filters, default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The server, in the configured cluster, with the node's handlers.
pub async fn build(cli: &Cli) -> Result<(SocketIo, Option<Cluster>), NodeError> {
    build_with(cli, None).await
}

/// [`build`] for a node serving TLS: requests are forwarded to other
/// nodes over TLS too (`https://` advertised addresses).
pub async fn build_with(
    cli: &Cli,
    tls: Option<&switchyard_core::tls::Tls>,
) -> Result<(SocketIo, Option<Cluster>), NodeError> {
    // Refused before anything starts.
    let admin = cli.admin_config().map_err(NodeError::Admin)?;
    let forward_tls = match tls {
        Some(tls) => Some(tls.client_config(cli.tls_peer_ca.as_deref())?),
        None => None,
    };
    let cluster = cluster::join(cli).await?;
    let mut config = cli.server_config();
    config.engine.forward_tls = forward_tls;
    if let Some(cluster) = &cluster {
        config = config.adapter(cluster.clone());
        if cli.advertised_address().is_some() {
            // Requests for other nodes' sessions go to their owner.
            config = config.session_router(Arc::new(cluster.clone()));
        }
    }
    let io = SocketIo::new(config);
    install_bench_contract(&io);
    install_chat_demo(&io);
    if cli.ops {
        tracing::warn!(
            "serving /ops: any client may run cluster operations (tests and demos only)"
        );
        ops::install(&io.of("/ops"), label(cli, cluster.as_ref()));
    }
    if let Some(admin) = admin {
        crate::admin::instrument(&io, admin).map_err(|e| NodeError::Admin(e.to_string()))?;
    }
    Ok((io, cluster))
}

/// A name for this node: `--node-id`, or the cluster id.
pub fn label(cli: &Cli, cluster: Option<&Cluster>) -> String {
    cli.node_id
        .clone()
        .or_else(|| cluster.map(|c| c.uid().to_string()))
        .unwrap_or_else(|| "single".into())
}

/// The HTTP routes around Socket.IO: the demo page, the client bundle, the
/// health checks and, unless `--admin-listen` moves them, the metrics.
pub fn routes(cli: &Cli, io: &SocketIo, cluster: Option<&Cluster>) -> axum::Router {
    let client_js = Arc::new(cli.client_js.clone());
    let public = axum::Router::new()
        .route("/", get(demo::page))
        .route(
            "/socket.io.min.js",
            get(move || {
                let path = client_js.clone();
                async move { demo::client_bundle(&path).await }
            }),
        )
        .merge(health_routes(io, cluster));
    let public = if cli.admin_ui {
        let dir = crate::admin::ui::find(cli.admin_ui_dir.as_deref());
        match &dir {
            Some(dir) => tracing::info!(dir = %dir.display(), "Admin UI at /admin/"),
            None => tracing::warn!(
                "the Admin UI's files were not found (npm install @socket.io/admin-ui@0.5.1, or --admin-ui-dir): /admin/ answers 404; the hosted UI can still connect"
            ),
        }
        public.merge(crate::admin::ui::routes(dir))
    } else {
        public
    };
    if cli.admin_listen.is_some() {
        public
    } else {
        public.merge(metrics_routes(io, cluster))
    }
}

/// `/healthz` and `/readyz`.
pub fn health_routes(io: &SocketIo, cluster: Option<&Cluster>) -> axum::Router {
    let (io, cluster) = (io.clone(), cluster.cloned());
    axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let answer = health::readyz(&io, cluster.as_ref());
                async move { answer }
            }),
        )
}

/// `/metrics`.
pub fn metrics_routes(io: &SocketIo, cluster: Option<&Cluster>) -> axum::Router {
    let (io, cluster) = (io.clone(), cluster.cloned());
    axum::Router::new().route(
        "/metrics",
        get(move || {
            let text = metrics::render(&io, cluster.as_ref());
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    text,
                )
            }
        }),
    )
}

/// Serves the metrics and health checks on `--admin-listen`, when set.
async fn serve_admin(
    cli: &Cli,
    io: &SocketIo,
    cluster: Option<&Cluster>,
) -> Result<Option<switchyard_core::Listening>, NodeError> {
    let Some(addr) = &cli.admin_listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| NodeError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local = listener.local_addr()?;
    let app = metrics_routes(io, cluster).merge(health_routes(io, cluster));
    let listening = switchyard_core::serve(listener, app)?;
    tracing::info!(addr = %local, "metrics and health on the admin address");
    Ok(Some(listening))
}

/// Runs a node until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn run(cli: Cli) -> Result<(), NodeError> {
    init_logging(cli.log_format);
    metrics::install();
    raise_open_file_limit();
    let tls = match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => Some(switchyard_core::tls::Tls::from_pem_files(cert, key)?),
        _ => None,
    };
    let (io, cluster) = build_with(&cli, tls.as_ref()).await?;
    let addr = format!("{}:{}", cli.host, cli.port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| NodeError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local: SocketAddr = listener.local_addr()?;
    let app = tower_layer::Layer::layer(&io.layer(), routes(&cli, &io, cluster.as_ref()));
    let listening = match &tls {
        Some(tls) => {
            tokio::spawn(reload_on_sighup(tls.clone()));
            switchyard_core::serve_tls(listener, app, cli.http_limits(), tls.clone())?
        }
        None => switchyard_core::serve_with(listener, app, cli.http_limits())?,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let admin = serve_admin(&cli, &io, cluster.as_ref()).await?;
    tracing::info!(
        addr = %local,
        adapter = ?cli.adapter,
        node = %label(&cli, cluster.as_ref()),
        parser = ?cli.parser,
        path = %cli.socketio_path,
        recovery = cli.recovery,
        advertise = cli.advertised_address().as_deref().unwrap_or("none"),
        "switchyard listening: demo at {scheme}://{local}/"
    );
    shutdown_signal().await;
    drain(&cli, &io, cluster.as_ref()).await;
    listening.shutdown().await;
    if let Some(admin) = admin {
        admin.shutdown().await;
    }
    io.close().await;
    if let Some(cluster) = cluster {
        cluster.broker().close().await;
    }
    Ok(())
}

/// A graceful stop: `/readyz` turns 503, new clients are sent to another
/// node, every connection is closed with "server shutting down" (clients
/// reconnect elsewhere and recover their sessions), and the node waits —
/// at most `--shutdown-timeout` — until polling clients collected their
/// close packet and, without a session store, until the sessions it keeps
/// in memory were taken by the nodes their clients came back to. It keeps
/// serving the cluster (forwarded requests, recovery requests) meanwhile.
pub async fn drain(cli: &Cli, io: &SocketIo, cluster: Option<&Cluster>) {
    let started = std::time::Instant::now();
    tracing::info!(
        sessions = io.client_count(),
        timeout_ms = cli.shutdown_timeout,
        "draining"
    );
    io.drain();
    let timeout = std::time::Duration::from_millis(cli.shutdown_timeout);
    // Waited for while it makes progress: polling clients collecting their
    // close packet, kept sessions taken by the nodes their clients came back
    // to. A client that never received an event has no offset and cannot
    // recover (as with Node), and one that gave up polling never collects:
    // theirs would be waited for in vain.
    let mut last_progress = std::time::Instant::now();
    let mut left = usize::MAX;
    while !io.drained() && started.elapsed() < timeout {
        let kept = kept_sessions(io);
        let now = kept + io.client_count();
        if now < left {
            last_progress = std::time::Instant::now();
        }
        left = now;
        // Live polling clients collect their close packet at once (their
        // next GET is pending or about to be sent); a session whose client
        // went away never does. Kept sessions wait for clients to retry.
        let quiet = if kept > 0 { DRAIN_QUIET } else { COLLECT_QUIET };
        if last_progress.elapsed() >= quiet {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let kept = kept_sessions(io);
    if kept > 0 {
        tracing::warn!(
            kept,
            "sessions kept here for recovery were not taken: they end with this node"
        );
    }
    if let Some(cluster) = cluster {
        // What the closed sockets kept for recovery is in the broker.
        cluster.broker().flush().await;
    }
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        left = io.client_count(),
        complete = io.drained(),
        "drained; leaving"
    );
}

/// How long a draining node waits once nothing left (clients retry after
/// 0.5–1.5 s, then after about 2 s more).
const DRAIN_QUIET: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a draining node with no kept session waits once no polling
/// client collected its close packet.
const COLLECT_QUIET: std::time::Duration = std::time::Duration::from_secs(1);

fn kept_sessions(io: &SocketIo) -> usize {
    io.namespaces()
        .iter()
        .map(|ns| ns.adapter().kept_sessions())
        .sum()
}

/// Raises the soft open-file limit to the hard one: each client holds a
/// file, and the soft limit is often far below what the system allows.
fn raise_open_file_limit() {
    #[cfg(unix)]
    if let Ok((_, hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        match rlimit::increase_nofile_limit(hard) {
            Ok(limit) => tracing::debug!(limit, "open-file limit"),
            Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
        }
    }
}

/// Reloads the certificate and key on each SIGHUP (renewed certificates);
/// a failed reload keeps the current ones.
async fn reload_on_sighup(tls: switchyard_core::tls::Tls) {
    #[cfg(unix)]
    {
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(hup) => hup,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGHUP: certificates are not reloaded");
                return;
            }
        };
        while hup.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!(?tls, "TLS certificate reloaded"),
                Err(e) => {
                    tracing::warn!(error = %e, "TLS certificate not reloaded: the current one stays")
                }
            }
        }
    }
    #[cfg(not(unix))]
    drop(tls);
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch SIGTERM");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
