//! The server side of the Socket.IO Admin UI (`@socket.io/admin-ui` 0.5),
//! cluster-wide.
//!
//! [`instrument`] adds the admin namespace (`/admin`): UI clients log in
//! with a username and a password checked against a bcrypt hash (then
//! with the session id they are given), hear `config` (the features this
//! server supports), `server_stats` from every node every 2 seconds (its
//! id, clients, polling clients, namespaces with their sockets, and the
//! aggregated connection, disconnection, packet and byte counts of each
//! second), and, in development mode, `all_sockets` on connection and then
//! every socket, room and event change on any node. Unless read-only they
//! may send `emit`, `join`, `leave` and `_disconnect` for the sockets of a
//! namespace, of a room, or one socket (its id is a room): these go
//! through the adapter, so a UI connected to one node acts on every node.
//!
//! Admin events are emitted on the admin namespace and so reach the UI
//! through whichever node it is connected to; while no UI is connected
//! anywhere (the namespace's presence tells), nothing is built or sent.

mod auth;
mod commands;
mod serialize;
mod stats;
pub mod ui;
mod watch;

use auth::{Credentials, Refusal};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use switchyard_core::{ConnectError, PresenceEvent, Socket, SocketIo, Value, WeakSocketIo};
use watch::Watch;

/// How the UI logs in.
#[derive(Clone, Debug)]
pub enum AdminAuth {
    /// A username and a bcrypt hash of the password (`$2b$…`).
    Basic {
        /// The username.
        username: String,
        /// The bcrypt hash of the password.
        password_hash: String,
    },
    /// Anyone who reaches the namespace is admitted (say so explicitly).
    Disabled,
}

/// What the UI is sent, as Node's `mode` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AdminMode {
    /// Every socket, room and event change, and the list of sockets (Node's
    /// default, `NODE_ENV` unset).
    #[default]
    Development,
    /// Server statistics only.
    Production,
}

/// Settings of the Admin UI's server side.
#[derive(Clone, Debug)]
pub struct AdminConfig {
    /// How the UI logs in.
    pub auth: AdminAuth,
    /// Refuses the UI's commands (it can only watch).
    pub readonly: bool,
    /// What the UI is sent.
    pub mode: AdminMode,
    /// This node's name in the UI (default `<hostname>#<pid>`).
    pub server_id: Option<String>,
    /// The admin namespace.
    pub namespace: String,
    /// Socket events (`event_received`, `event_sent`) sent to the UI per
    /// second by this node, at most; the rest are counted and dropped.
    pub events_per_second: u32,
}

impl AdminConfig {
    /// Development mode, `/admin`, 100 socket events per second.
    pub fn new(auth: AdminAuth) -> Self {
        AdminConfig {
            auth,
            readonly: false,
            mode: AdminMode::Development,
            server_id: None,
            namespace: "/admin".into(),
            events_per_second: 100,
        }
    }
}

/// Why the Admin UI could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The password hash is not a bcrypt hash.
    #[error(
        "the Admin UI password hash is not a bcrypt hash ({0}); make one with `htpasswd -bnBC 10 \"\" <password> | tr -d ':\\n'`"
    )]
    BadHash(String),
    /// The server already has an observer.
    #[error("the server already has an observer: the Admin UI cannot watch it")]
    AlreadyObserved,
}

/// The presence user of UI clients: while it is online anywhere in the
/// cluster, this node sends admin events.
const ADMIN_USER: &str = "socket.io-admin";

/// Adds the Admin UI's namespace to `io` and starts watching it.
pub fn instrument(io: &SocketIo, config: AdminConfig) -> Result<(), AdminError> {
    let credentials = credentials(&config.auth)?;
    let admin = io.of(&config.namespace);
    let development = config.mode == AdminMode::Development;
    let watch = Watch::start(
        admin.downgrade(),
        admin.name().clone(),
        development,
        config.events_per_second,
    );
    let (watching, counts) = (watch.watching.clone(), watch.counts.clone());
    if !io.observe(watch) {
        return Err(AdminError::AlreadyObserved);
    }
    let presence = watching.clone();
    admin.on_presence(move |event: PresenceEvent| {
        if event.user == ADMIN_USER {
            presence.store(event.online, Ordering::Relaxed);
        }
        async {}
    });
    admin.use_middleware(move |socket: Socket| {
        let credentials = credentials.clone();
        async move {
            if let Some(credentials) = credentials {
                log_in(&socket, &credentials).await?;
            }
            socket.set_user(ADMIN_USER);
            Ok::<(), ConnectError>(())
        }
    });
    let stats = Arc::new(stats::Stats::new(config.server_id.clone()));
    let features = features(config.readonly, development);
    let weak_io = io.downgrade();
    let first_stats = stats.clone();
    admin.on_connection(move |socket: Socket| {
        let (io, features, stats) = (weak_io.clone(), features.clone(), first_stats.clone());
        welcome(socket, io, features, stats, development)
    });
    tokio::spawn(stats::report(
        io.downgrade(),
        admin.downgrade(),
        stats,
        watching,
        counts,
    ));
    Ok(())
}

/// The login check of `auth`: none when the UI needs no login.
fn credentials(auth: &AdminAuth) -> Result<Option<Arc<Credentials>>, AdminError> {
    Ok(match auth {
        AdminAuth::Basic {
            username,
            password_hash,
        } => Some(Arc::new(
            Credentials::new(username.clone(), password_hash.clone())
                .map_err(AdminError::BadHash)?,
        )),
        AdminAuth::Disabled => {
            tracing::warn!(
                "the Admin UI needs no login: anyone who reaches it may act on every socket"
            );
            None
        }
    })
}

/// Greets a UI client that connected: its session, its commands, the
/// server's features, and this node's figures at once.
async fn welcome(
    socket: Socket,
    io: WeakSocketIo,
    features: Vec<&'static str>,
    stats: Arc<stats::Stats>,
    development: bool,
) {
    if let Some(NewSession(id)) = socket.extension::<NewSession>() {
        let _ = socket.emit("session", &id);
    }
    if !features.is_empty() && !readonly(&features) {
        commands::commands(&socket, &io);
    }
    let _ = socket.emit_args(
        "config",
        vec![switchyard_core::object! {
            "supportedFeatures" => Value::Array(features.iter().map(|f| Value::from(*f)).collect()),
        }],
    );
    let Some(io) = io.upgrade() else { return };
    // This node's figures at once; every node sends its own within
    // the next two seconds.
    let _ = socket.emit_args("server_stats", vec![stats.value(&io, Vec::new())]);
    if development {
        let _ = socket.emit_args("all_sockets", vec![stats::all_sockets(&io).await]);
    }
}

/// The session id a login made, for the connection handler to send.
#[derive(Clone)]
struct NewSession(String);

async fn log_in(socket: &Socket, credentials: &Credentials) -> Result<(), ConnectError> {
    let auth = socket.auth();
    let text = |key: &str| auth.get(key).and_then(Value::as_str);
    match credentials
        .login(text("sessionId"), text("username"), text("password"))
        .await
    {
        Ok(new_session) => {
            if let Some(id) = new_session {
                socket.insert_extension(NewSession(id));
            }
            Ok(())
        }
        Err(refusal) => {
            auth::refused(&refusal, &socket.handshake().address);
            Err(ConnectError::new(match refusal {
                // The UI shows its login form again on exactly this text.
                Refusal::Invalid => "invalid credentials",
                Refusal::TooMany => "too many login attempts, try again in a few seconds",
            }))
        }
    }
}

fn features(readonly: bool, development: bool) -> Vec<&'static str> {
    let mut features = if readonly {
        Vec::new()
    } else {
        vec![
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
        ]
    };
    features.push("AGGREGATED_EVENTS");
    if development {
        features.push("ALL_EVENTS");
    }
    features
}

fn readonly(features: &[&str]) -> bool {
    !features.contains(&"EMIT")
}

/// Checks that the UI's settings make sense before a node starts.
pub fn check_auth(
    username: Option<&str>,
    password_hash: Option<&str>,
    no_auth: bool,
) -> Result<AdminAuth, String> {
    match (username, password_hash, no_auth) {
        (Some(u), Some(h), false) => Ok(AdminAuth::Basic {
            username: u.to_owned(),
            password_hash: h.to_owned(),
        }),
        (None, None, true) => Ok(AdminAuth::Disabled),
        (_, _, true) => Err("--admin-no-auth and --admin-username/--admin-password-hash contradict each other".into()),
        _ => Err("the Admin UI needs --admin-username and --admin-password-hash (a bcrypt hash), or --admin-no-auth to run without a login".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readonly_servers_support_no_command() {
        assert_eq!(
            features(true, true),
            vec!["AGGREGATED_EVENTS", "ALL_EVENTS"]
        );
        assert!(features(false, false).contains(&"MJOIN"));
        assert!(!features(false, false).contains(&"ALL_EVENTS"));
    }

    #[test]
    fn refuses_to_start_without_credentials_unless_told() {
        assert!(check_auth(None, None, false).is_err());
        assert!(check_auth(Some("admin"), None, false).is_err());
        assert!(check_auth(Some("admin"), Some("$2b$"), true).is_err());
        assert!(matches!(
            check_auth(None, None, true),
            Ok(AdminAuth::Disabled)
        ));
        assert!(matches!(
            check_auth(Some("admin"), Some("$2b$"), false),
            Ok(AdminAuth::Basic { .. })
        ));
    }
}
