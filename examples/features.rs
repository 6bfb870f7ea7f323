//! A tour of the server API, driven by the end-to-end tests (`e2e/`).
//!
//! The operations of [`switchyard::node::ops`] run on `/` (acknowledgements
//! both ways, broadcast operators, fetch/join/leave, disconnections and
//! their reasons); `/private` admits only `auth.token == "secret"` through
//! a middleware. It takes the node's flags and environment (`PORT`,
//! `PARSER`, `ADAPTER`, `PING_INTERVAL`, …), so it also runs in a cluster.
//!
//! `cargo run --example features -- --port 3001`

use clap::Parser as _;
use switchyard::node::{Cli, cluster, label, ops};
use switchyard::{ConnectError, CorsConfig, Socket, SocketIo, Value, object};

fn private_namespace(io: &SocketIo) {
    let private = io.of("/private");
    private.use_middleware(|socket: Socket| async move {
        if socket.auth().get("token").and_then(Value::as_str) == Some("secret") {
            socket
                .set_data(&object! { "trusted" => true })
                .map_err(|e| ConnectError::new(e.to_string()))
        } else {
            Err(ConnectError::new("unauthorized").with_data(object! { "code" => 401 }))
        }
    });
    private.on_connection(|socket: Socket| async move {
        let _ = socket.emit("welcome", &socket.data_value());
    });
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    switchyard::node::init_logging(cli.log_format);
    let cluster = cluster::join(&cli).await?;
    let mut config = cli.server_config().cors(CorsConfig::any());
    if let Some(cluster) = &cluster {
        config = config.adapter(cluster.clone());
    }
    let io = SocketIo::new(config);
    ops::install(&io.of("/"), label(&cli, cluster.as_ref()));
    private_namespace(&io);
    let listening = io.listen((cli.host.as_str(), cli.port)).await?;
    tracing::info!(
        "features server listening on http://{}",
        listening.local_addr()
    );
    listening.wait().await;
    Ok(())
}
