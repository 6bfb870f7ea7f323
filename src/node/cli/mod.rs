//! The node's settings: flags, each with an environment fallback.

mod choices;
mod config;
#[cfg(test)]
mod tests;

pub use choices::{AdapterKind, AdminModeKind, LogFormat, ParserKind, RedisFormatKind};

use clap::Parser;
use clap::builder::BoolishValueParser;
use std::path::PathBuf;
use switchyard_core::engine::Transports;

/// A Switchyard node: a Socket.IO server serving the bench contract on `/`
/// and a chat demo on `/chat`, with the demo page at `/`.
#[derive(Debug, Clone, Parser)]
#[command(name = "switchyard", version, about, long_about = None)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,

    /// How nodes share broadcasts and rooms: `memory` is a single node;
    /// `redis`, `nats` and `amqp` join a cluster through that broker.
    #[arg(long, env = "ADAPTER", value_enum, default_value_t = AdapterKind::Memory)]
    pub adapter: AdapterKind,

    /// Redis URL (`redis://[user:pass@]host:port[/db]`, `rediss://` for
    /// TLS). For a Redis Cluster (or Valkey in cluster mode):
    /// `redis-cluster://[user:pass@]host:port?node=host2:port2&node=…`,
    /// listing several seeds; a plain `redis://` URL that reaches a cluster
    /// node is refused at start.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,

    /// Use sharded pub/sub (SPUBLISH/SSUBSCRIBE), for Redis Cluster: in
    /// Switchyard's format (the default with this flag), or with
    /// `--redis-format node` in the format of Node's sharded adapter
    /// (`createShardedAdapter`, `subscriptionMode: "dynamic"`).
    #[arg(long, env = "REDIS_SHARDED", value_parser = BoolishValueParser::new())]
    pub redis_sharded: bool,

    /// Wire format on Redis: `node` is `@socket.io/redis-adapter` 8.x, so
    /// Node.js servers and `@socket.io/redis-emitter` share the cluster;
    /// `switchyard` is the native format (heartbeat membership). Default:
    /// `node`, or `switchyard` with `--redis-sharded` (`node` with
    /// `--redis-sharded` is Node's sharded adapter).
    #[arg(long, env = "REDIS_FORMAT", value_enum)]
    pub redis_format: Option<RedisFormatKind>,

    /// In the Node format, answer requests on the requester's own response
    /// channel (Node's `publishOnSpecificResponseChannel`; every server must agree).
    #[arg(long, env = "REDIS_SPECIFIC_RESPONSE_CHANNEL", value_parser = BoolishValueParser::new())]
    pub redis_specific_response_channel: bool,

    /// NATS URL (`nats://[user:pass@]host:4222`, `tls://` for TLS), or the
    /// URLs of several servers of a NATS cluster separated by commas: the
    /// node starts while any one of them is up.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// Replicas of the JetStream streams that `--recovery` creates (3 on a
    /// clustered JetStream, so that recovery data survives a server).
    #[arg(long, env = "NATS_STREAM_REPLICAS", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub nats_stream_replicas: u8,

    /// A NATS credentials (`.creds`) file.
    #[arg(long, env = "NATS_CREDENTIALS")]
    pub nats_credentials: Option<PathBuf>,

    /// RabbitMQ URL (`amqp://user:pass@host:5672/%2f`, `amqps://` for TLS).
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,

    /// Prefix of every broker channel; clusters with different prefixes share a broker.
    #[arg(long, env = "PREFIX", default_value = "socket.io")]
    pub prefix: String,

    /// The address (`host:port`, or `https://host:port`, the default form
    /// when the node serves TLS) other nodes reach this one at, to forward
    /// requests for this node's sessions: load balancers then need no
    /// sticky sessions. Default `--host:--port` unless the host is a
    /// wildcard (`0.0.0.0`, `::`); `none` turns forwarding off.
    #[arg(long, env = "ADVERTISE")]
    pub advertise: Option<String>,

    /// A name for this node in logs (the protocol uses a random id).
    #[arg(long, env = "NODE_ID")]
    pub node_id: Option<String>,

    /// Interval between cluster heartbeats, in milliseconds.
    #[arg(long, env = "HEARTBEAT_INTERVAL", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub heartbeat_interval: u64,

    /// Silence after which another node is dropped, in milliseconds.
    #[arg(long, env = "HEARTBEAT_TIMEOUT", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub heartbeat_timeout: u64,

    /// How long cluster requests (fetch_sockets, server-side emits) wait, in milliseconds.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value_t = 5_000)]
    pub request_timeout: u64,

    /// Connection state recovery: a client whose connection drops gets its
    /// socket back (id, rooms, data and missed packets) when it reconnects
    /// within `--recovery-max-disconnection`, on any node of the cluster.
    #[arg(long, env = "RECOVERY", value_parser = BoolishValueParser::new())]
    pub recovery: bool,

    /// How long a lost session can be recovered, in milliseconds.
    #[arg(long, env = "RECOVERY_MAX_DISCONNECTION", default_value_t = 120_000)]
    pub recovery_max_disconnection: u64,

    /// Most bytes of missed packets a recovery replays; a client that
    /// missed more gets a fresh session (at most half the client buffer).
    #[arg(long, env = "RECOVERY_MAX_REPLAY_BYTES", default_value_t = 512 * 1024)]
    pub recovery_max_replay_bytes: usize,

    /// Serve `/metrics`, `/healthz` and `/readyz` on this address
    /// (`host:port`) instead of the public port (health stays on both, for
    /// load balancers). Default: the public port.
    #[arg(long, env = "ADMIN_LISTEN")]
    pub admin_listen: Option<String>,

    /// Serve HTTPS and WSS (rustls) with this certificate chain: PEM, the
    /// node's certificate first. Needs --tls-key. SIGHUP reloads both
    /// files without dropping a connection.
    #[arg(long, env = "TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert: PEM, PKCS#8, RSA or EC.
    #[arg(long, env = "TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Certificates (PEM) that other nodes' certificates are checked
    /// against when requests for their sessions are forwarded to them over
    /// TLS. Default: this node's own --tls-cert chain (nodes sharing a
    /// certificate, or a chain ending with the CA that signed them all).
    #[arg(long, env = "TLS_PEER_CA", requires = "tls_cert")]
    pub tls_peer_ca: Option<PathBuf>,

    /// How long a stopping node (SIGTERM) may drain, in milliseconds: it
    /// closes its clients (they reconnect elsewhere and recover), waits for
    /// them to leave and for its kept sessions to be taken, then exits.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value_t = 10_000)]
    pub shutdown_timeout: u64,

    /// Serve the `/ops` namespace: cluster operations for any client
    /// (tests, demos). Unauthenticated: never enable it in production.
    #[arg(long, env = "OPS", value_parser = BoolishValueParser::new())]
    pub ops: bool,

    /// Serve the Socket.IO Admin UI: its namespace (`/admin`, cluster-wide)
    /// and its pages at `/admin/`. Needs --admin-username and
    /// --admin-password-hash, or --admin-no-auth.
    #[arg(long, env = "ADMIN_UI", value_parser = BoolishValueParser::new())]
    pub admin_ui: bool,

    /// The Admin UI's username.
    #[arg(long, env = "ADMIN_USERNAME")]
    pub admin_username: Option<String>,

    /// A bcrypt hash of the Admin UI's password (`$2b$10$…`; make one with
    /// `htpasswd -bnBC 10 "" <password> | tr -d ':\n'`).
    #[arg(long, env = "ADMIN_PASSWORD_HASH")]
    pub admin_password_hash: Option<String>,

    /// The Admin UI can watch but not act (no emit, join, leave, disconnect).
    #[arg(long, env = "ADMIN_READONLY", value_parser = BoolishValueParser::new())]
    pub admin_readonly: bool,

    /// Run the Admin UI without a login: anyone who reaches the node may
    /// act on every socket. Never on a public address.
    #[arg(long, env = "ADMIN_NO_AUTH", value_parser = BoolishValueParser::new())]
    pub admin_no_auth: bool,

    /// What the Admin UI is sent: `development` (every socket, room and
    /// event change, and the list of sockets) or `production` (server
    /// statistics only).
    #[arg(long, env = "ADMIN_MODE", value_enum, default_value_t = AdminModeKind::Development)]
    pub admin_mode: AdminModeKind,

    /// The Admin UI's static build (default: `@socket.io/admin-ui`'s
    /// `ui/dist` in `node_modules`).
    #[arg(long, env = "ADMIN_UI_DIR")]
    pub admin_ui_dir: Option<PathBuf>,

    /// Socket events shown in the Admin UI per second, per node, at most.
    #[arg(long, env = "ADMIN_EVENTS_PER_SECOND", default_value_t = 100)]
    pub admin_events_per_second: u32,

    /// Allowed browser origins, comma-separated; `*` allows any. None: same origin only.
    #[arg(long, env = "CORS_ORIGIN", value_delimiter = ',')]
    pub cors_origin: Vec<String>,

    /// Whether cross-origin requests may carry credentials (cookies).
    #[arg(long, env = "CORS_CREDENTIALS", value_parser = BoolishValueParser::new())]
    pub cors_credentials: bool,

    /// Interval between heartbeat pings, in milliseconds.
    #[arg(long, env = "PING_INTERVAL", default_value_t = 25_000)]
    pub ping_interval: u64,

    /// Time a client has to answer a ping, in milliseconds.
    #[arg(long, env = "PING_TIMEOUT", default_value_t = 20_000)]
    pub ping_timeout: u64,

    /// Time a connection has to join a namespace, in milliseconds.
    #[arg(long, env = "CONNECT_TIMEOUT", default_value_t = 45_000)]
    pub connect_timeout: u64,

    /// Largest message or polling body, in bytes.
    #[arg(long, env = "MAX_HTTP_BUFFER_SIZE", default_value_t = 1_000_000)]
    pub max_http_buffer_size: usize,

    /// Most bytes queued for one client (every frame counted); past it
    /// volatile packets are dropped and a packet that does not fit
    /// disconnects the client. One packet always fits an empty queue.
    #[arg(long, env = "MAX_CLIENT_BUFFER_BYTES", default_value_t = 1024 * 1024)]
    pub max_client_buffer_bytes: usize,

    /// Most open connections (HTTP and WebSocket); more are answered 503.
    /// 0: the open-file limit less a reserve of 256.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 0)]
    pub max_connections: usize,

    /// Largest request head (request line and headers), in bytes; larger
    /// ones are answered 431.
    #[arg(long, env = "MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,

    /// Time a connection has to send a request head, in milliseconds.
    #[arg(long, env = "HEADERS_TIMEOUT", default_value_t = 60_000)]
    pub headers_timeout: u64,

    /// Time a client has to send a request body, in milliseconds (answered 408).
    #[arg(long, env = "HTTP_REQUEST_TIMEOUT", default_value_t = 300_000)]
    pub http_request_timeout: u64,

    /// New sessions one client address may open per second (answered 429
    /// past it); 0: unlimited. Behind a load balancer every client shares
    /// its address: leave it off there.
    #[arg(long, env = "ADDRESS_SESSION_RATE", default_value_t = 0.0)]
    pub address_session_rate: f64,

    /// Burst of new sessions one address may open at once.
    #[arg(long, env = "ADDRESS_SESSION_BURST", default_value_t = 20)]
    pub address_session_burst: u32,

    /// Events one socket may send per second (disconnected past it); 0: unlimited.
    #[arg(long, env = "EVENT_RATE", default_value_t = 0.0)]
    pub event_rate: f64,

    /// Burst of events one socket may send at once.
    #[arg(long, env = "EVENT_BURST", default_value_t = 100)]
    pub event_burst: u32,

    /// Namespace CONNECTs one connection may send per second (refused with
    /// CONNECT_ERROR past it); 0: unlimited.
    #[arg(long, env = "CONNECT_RATE", default_value_t = 5.0)]
    pub connect_rate: f64,

    /// Burst of namespace CONNECTs one connection may send at once.
    #[arg(long, env = "CONNECT_BURST", default_value_t = 20)]
    pub connect_burst: u32,

    /// Most values (array elements, object entries, scalars) one packet may
    /// decode into; a larger packet closes the connection as malformed.
    #[arg(long, env = "MAX_PACKET_ELEMENTS", default_value_t = 100_000)]
    pub max_packet_elements: usize,

    /// Most bytes one socket's handshake (headers, URL, auth) may keep.
    #[arg(long, env = "MAX_HANDSHAKE_BYTES", default_value_t = 32 * 1024)]
    pub max_handshake_bytes: usize,

    /// Namespaces one connection may join at once.
    #[arg(long, env = "MAX_NAMESPACES_PER_CLIENT", default_value_t = 32)]
    pub max_namespaces_per_client: usize,

    /// Namespaces dynamic namespaces may create in all.
    #[arg(long, env = "MAX_DYNAMIC_NAMESPACES", default_value_t = 10_000)]
    pub max_dynamic_namespaces: usize,

    /// Rooms one socket may be in (its own included).
    #[arg(long, env = "MAX_ROOMS_PER_SOCKET", default_value_t = 1024)]
    pub max_rooms_per_socket: usize,

    /// Longest room name, in bytes.
    #[arg(long, env = "MAX_ROOM_NAME_BYTES", default_value_t = 256)]
    pub max_room_name_bytes: usize,

    /// Write coalescing, in milliseconds: a WebSocket connection holds its
    /// first queued frame this long so that frames queued meanwhile share
    /// one write (0: write at once).
    #[arg(long, env = "WRITE_DELAY_MS", default_value_t = 0)]
    pub write_delay_ms: u64,

    /// Serve Socket.IO v2 clients (Engine.IO protocol v3), as Node's
    /// `allowEIO3`. Off by default: `EIO=3` is refused.
    #[arg(long, env = "ALLOW_EIO3", value_parser = BoolishValueParser::new())]
    pub allow_eio3: bool,

    /// Compress WebSocket messages with clients that offer permessage-deflate
    /// (RFC 7692), as Node's `perMessageDeflate`. Off by default.
    #[arg(long, env = "PER_MESSAGE_DEFLATE", value_parser = BoolishValueParser::new())]
    pub per_message_deflate: bool,

    /// With `--per-message-deflate`: messages smaller than this many bytes go
    /// uncompressed.
    #[arg(long, env = "PER_MESSAGE_DEFLATE_THRESHOLD", default_value_t = 1024)]
    pub per_message_deflate_threshold: usize,

    /// With `--per-message-deflate`: the zlib level, 0 (none) to 9 (best).
    /// A broadcast is compressed once for all its recipients, so higher
    /// levels cost little on fan-outs; every unicast message pays it.
    #[arg(long, env = "PER_MESSAGE_DEFLATE_LEVEL", default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub per_message_deflate_level: u32,

    /// Compress polling responses of at least this many bytes (gzip or
    /// deflate, as the client accepts), as Node's `httpCompression`; 0 turns
    /// it off.
    #[arg(long, env = "HTTP_COMPRESSION_THRESHOLD", default_value_t = 1024)]
    pub http_compression_threshold: usize,

    /// Enabled transports, comma-separated.
    #[arg(long, env = "TRANSPORTS", default_value = "polling,websocket", value_parser = Transports::parse)]
    pub transports: Transports,

    /// Wire format: `json` (socket.io-parser) or `msgpack` (socket.io-msgpack-parser).
    #[arg(long, env = "PARSER", value_enum, default_value_t = ParserKind::Json)]
    pub parser: ParserKind,

    /// Path Socket.IO answers on.
    #[arg(long = "path", env = "SOCKETIO_PATH", default_value = "/socket.io/")]
    pub socketio_path: String,

    /// The socket.io-client browser bundle served to the demo page.
    #[arg(
        long,
        env = "CLIENT_JS",
        default_value = "node_modules/socket.io-client/dist/socket.io.min.js"
    )]
    pub client_js: PathBuf,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}
