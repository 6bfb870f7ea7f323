//! What the flags mean: the server's settings, the HTTP limits, the Admin
//! UI's settings and the address other nodes reach this node at.

use super::{AdminModeKind, Cli, ParserKind};
use std::time::Duration;
use switchyard_core::engine::{
    CorsConfig, EngineConfig, HttpCompression, HttpLimits, PerMessageDeflate,
};
use switchyard_core::limits::{ClientLimits, Rate};
use switchyard_core::protocol::DecodeLimits;
use switchyard_core::{Parser as WireFormat, RecoveryConfig, ServerConfig};

/// A rate from a flag pair; 0 turns it off.
fn rate(per_second: f64, burst: u32) -> Option<Rate> {
    (per_second > 0.0).then(|| Rate::new(per_second, burst))
}

impl Cli {
    /// Where other nodes reach this one, when forwarding is on.
    pub fn advertised_address(&self) -> Option<String> {
        let address = self.plain_advertised_address()?;
        // A node serving TLS is reached over TLS.
        Some(match (&self.tls_cert, address.contains("://")) {
            (Some(_), false) => format!("https://{address}"),
            _ => address,
        })
    }

    fn plain_advertised_address(&self) -> Option<String> {
        match self.advertise.as_deref() {
            Some("none") => None,
            Some(address) => Some(address.to_owned()),
            None => {
                let wildcard = self
                    .host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_unspecified());
                (!wildcard).then(|| {
                    if self.host.contains(':') && !self.host.starts_with('[') {
                        format!("[{}]:{}", self.host, self.port)
                    } else {
                        format!("{}:{}", self.host, self.port)
                    }
                })
            }
        }
    }

    /// The HTTP server's limits these flags describe.
    pub fn http_limits(&self) -> HttpLimits {
        HttpLimits {
            max_connections: self.max_connections,
            max_header_bytes: self.max_header_bytes,
            headers_timeout: Duration::from_millis(self.headers_timeout),
            request_timeout: Duration::from_millis(self.http_request_timeout),
        }
    }

    /// The Admin UI's settings, when it is on; an error when it is on
    /// without credentials (and not explicitly without a login).
    pub fn admin_config(&self) -> Result<Option<crate::admin::AdminConfig>, String> {
        if !self.admin_ui {
            return Ok(None);
        }
        let auth = crate::admin::check_auth(
            self.admin_username.as_deref(),
            self.admin_password_hash.as_deref(),
            self.admin_no_auth,
        )?;
        let mut config = crate::admin::AdminConfig::new(auth);
        config.readonly = self.admin_readonly;
        config.mode = match self.admin_mode {
            AdminModeKind::Development => crate::admin::AdminMode::Development,
            AdminModeKind::Production => crate::admin::AdminMode::Production,
        };
        config.server_id = self.node_id.clone();
        config.events_per_second = self.admin_events_per_second;
        Ok(Some(config))
    }

    /// The server settings these flags describe.
    pub fn server_config(&self) -> ServerConfig {
        let cors = (!self.cors_origin.is_empty()).then(|| CorsConfig {
            origins: self
                .cors_origin
                .iter()
                .filter(|o| o.as_str() != "*")
                .cloned()
                .collect(),
            credentials: self.cors_credentials,
            max_age: None,
        });
        ServerConfig {
            engine: EngineConfig {
                path: self.socketio_path.clone(),
                ping_interval: Duration::from_millis(self.ping_interval),
                ping_timeout: Duration::from_millis(self.ping_timeout),
                max_http_buffer_size: self.max_http_buffer_size,
                transports: self.transports,
                allow_eio3: self.allow_eio3,
                per_message_deflate: self.per_message_deflate.then_some(PerMessageDeflate {
                    threshold: self.per_message_deflate_threshold,
                    level: self.per_message_deflate_level,
                }),
                http_compression: (self.http_compression_threshold > 0).then_some(
                    HttpCompression {
                        threshold: self.http_compression_threshold,
                    },
                ),
                cors,
                write_delay: Duration::from_millis(self.write_delay_ms),
                max_client_buffer_bytes: self.max_client_buffer_bytes,
                http: self.http_limits(),
                session_rate_per_address: rate(
                    self.address_session_rate,
                    self.address_session_burst,
                ),
                ..EngineConfig::default()
            },
            limits: ClientLimits {
                decode: DecodeLimits {
                    max_elements: self.max_packet_elements,
                },
                max_handshake_bytes: self.max_handshake_bytes,
                event_rate: rate(self.event_rate, self.event_burst),
                connect_rate: rate(self.connect_rate, self.connect_burst),
                max_namespaces_per_client: self.max_namespaces_per_client,
                max_dynamic_namespaces: self.max_dynamic_namespaces,
                max_rooms_per_socket: self.max_rooms_per_socket,
                max_room_name_bytes: self.max_room_name_bytes,
            },
            connect_timeout: Duration::from_millis(self.connect_timeout),
            parser: match self.parser {
                ParserKind::Json => WireFormat::Json,
                ParserKind::Msgpack => WireFormat::MsgPack,
            },
            connection_state_recovery: self.recovery.then(|| RecoveryConfig {
                max_disconnection_duration: Duration::from_millis(self.recovery_max_disconnection),
                skip_middlewares: true,
                max_replay_bytes: self.recovery_max_replay_bytes,
            }),
            ..ServerConfig::default()
        }
    }
}
