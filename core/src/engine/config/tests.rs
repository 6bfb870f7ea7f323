//! Tests of the engine settings.

use super::*;

#[test]
fn parses_transport_lists() {
    assert_eq!(
        Transports::parse("websocket").unwrap(),
        Transports {
            polling: false,
            websocket: true
        }
    );
    assert_eq!(
        Transports::parse("polling, websocket").unwrap(),
        Transports::default()
    );
    assert!(Transports::parse("").is_err());
    assert!(Transports::parse("webtransport").is_err());
}

#[test]
fn cookie_matches_node_serialization() {
    assert_eq!(
        CookieConfig::default().header_value("abc"),
        "io=abc; Path=/; HttpOnly; SameSite=Lax"
    );
}

#[test]
fn cors_echoes_allowed_origins_only() {
    let any = CorsConfig::any();
    assert_eq!(any.allow_origin(Some("http://a")), Some("http://a"));
    let list = CorsConfig {
        origins: vec!["http://a".into()],
        ..Default::default()
    };
    assert_eq!(list.allow_origin(Some("http://a")), Some("http://a"));
    assert_eq!(list.allow_origin(Some("http://b")), None);
    assert_eq!(list.allow_origin(None), None);
}
