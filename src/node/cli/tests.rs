//! The flags' defaults and what they configure.

use super::*;
use std::time::Duration;
use switchyard_core::Parser as WireFormat;
use switchyard_core::engine::{EngineConfig, HttpLimits, Transports};
use switchyard_core::limits::ClientLimits;

#[test]
fn defaults_match_node() {
    let cli = Cli::parse_from(["switchyard"]);
    let config = cli.server_config();
    assert_eq!(cli.port, 3000);
    assert_eq!(config.engine.ping_interval, Duration::from_secs(25));
    assert_eq!(config.engine.ping_timeout, Duration::from_secs(20));
    assert_eq!(config.connect_timeout, Duration::from_secs(45));
    assert!(config.engine.cors.is_none());
    assert!(config.connection_state_recovery.is_none());
    // The limits' defaults are the library's.
    assert_eq!(config.limits, ClientLimits::default());
    assert_eq!(config.engine.http, HttpLimits::default());
    let engine = EngineConfig::default();
    assert_eq!(
        config.engine.max_client_buffer_bytes,
        engine.max_client_buffer_bytes
    );
    assert_eq!(config.engine.session_rate_per_address, None);
}

#[test]
fn the_advertised_address_defaults_to_the_listening_one() {
    let parse =
        |args: &[&str]| Cli::parse_from([&["switchyard"], args].concat()).advertised_address();
    assert_eq!(parse(&[]).as_deref(), Some("127.0.0.1:3000"));
    assert_eq!(parse(&["--host", "0.0.0.0"]), None);
    assert_eq!(
        parse(&["--host", "::1", "--port", "4000"]).as_deref(),
        Some("[::1]:4000")
    );
    assert_eq!(
        parse(&["--host", "0.0.0.0", "--advertise", "node-1:3000"]).as_deref(),
        Some("node-1:3000")
    );
    assert_eq!(parse(&["--advertise", "none"]), None);
}

#[test]
fn heartbeats_of_zero_milliseconds_are_refused() {
    for flag in ["--heartbeat-interval", "--heartbeat-timeout"] {
        let refused = Cli::try_parse_from(["switchyard", flag, "0"]);
        assert!(refused.is_err(), "{flag} 0 accepted");
        assert!(Cli::try_parse_from(["switchyard", flag, "1"]).is_ok());
    }
}

#[test]
fn recovery_is_a_flag() {
    let cli = Cli::parse_from([
        "switchyard",
        "--recovery",
        "--recovery-max-disconnection",
        "5000",
    ]);
    let recovery = cli.server_config().connection_state_recovery.expect("on");
    assert_eq!(recovery.max_disconnection_duration, Duration::from_secs(5));
    assert!(recovery.skip_middlewares);
}

#[test]
fn flags_configure_the_server() {
    let cli = Cli::parse_from([
        "switchyard",
        "--cors-origin",
        "http://a,http://b",
        "--transports",
        "websocket",
        "--parser",
        "msgpack",
        "--ping-interval",
        "300",
    ]);
    let config = cli.server_config();
    assert_eq!(
        config.engine.cors.unwrap().origins,
        ["http://a", "http://b"]
    );
    assert_eq!(
        config.engine.transports,
        Transports {
            polling: false,
            websocket: true
        }
    );
    assert_eq!(config.parser, WireFormat::MsgPack);
    assert_eq!(config.engine.ping_interval, Duration::from_millis(300));
    let any = Cli::parse_from(["switchyard", "--cors-origin", "*"]).server_config();
    assert!(
        any.engine.cors.unwrap().origins.is_empty(),
        "* means any origin"
    );
}
