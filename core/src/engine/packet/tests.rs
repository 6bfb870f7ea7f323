//! Tests of the v4 packet and payload codec.

use super::*;

#[test]
fn parses_each_packet_type() {
    assert_eq!(parse_text("1"), Ok(Incoming::Close));
    assert_eq!(parse_text("2probe"), Ok(Incoming::Ping { probe: true }));
    assert_eq!(parse_text("3"), Ok(Incoming::Pong));
    assert_eq!(
        parse_text("4hello"),
        Ok(Incoming::Message(Message::Text("hello".into())))
    );
    assert_eq!(
        parse_text("4"),
        Ok(Incoming::Message(Message::Text(String::new())))
    );
    assert_eq!(parse_text("5"), Ok(Incoming::Upgrade));
    assert_eq!(parse_text("6"), Ok(Incoming::Noop));
    assert_eq!(
        parse_text("bAQIDBA=="),
        Ok(Incoming::Message(Message::Binary(Bytes::from_static(&[
            1, 2, 3, 4
        ]))))
    );
}

#[test]
fn refuses_malformed_packets() {
    assert_eq!(parse_text(""), Err(PacketError::Empty));
    assert_eq!(parse_text("abc"), Err(PacketError::UnknownType('a')));
    assert_eq!(parse_text("9"), Err(PacketError::UnknownType('9')));
    assert_eq!(parse_text("0{}"), Err(PacketError::UnexpectedOpen));
    assert_eq!(parse_text("b!!!"), Err(PacketError::InvalidBase64));
    assert_eq!(parse_text("é"), Err(PacketError::UnknownType('é')));
}

#[test]
fn payloads_round_trip() {
    let frames = [
        Frame::message("hello"),
        Frame::Binary(Bytes::from_static(&[1, 2, 3, 4])),
        PING,
    ];
    let payload = encode_payload(&frames);
    assert_eq!(&payload[..], b"4hello\x1ebAQIDBA==\x1e2");
    let parsed: Vec<_> = parse_payload(std::str::from_utf8(&payload).unwrap()).collect();
    assert_eq!(parsed.len(), 3);
    assert!(
        parse_payload("4a\x1e\x1e4b").any(|p| p.is_err()),
        "an empty record is malformed"
    );
}
