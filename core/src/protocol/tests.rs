//! Parser tests: the packets of the Socket.IO protocol test suite, and every
//! malformed shape the server must refuse.

use super::*;
use crate::engine::Frame;
use crate::object;
use crate::value::Value;
use bytes::Bytes;

fn text(frame: &Frame) -> &str {
    match frame.view() {
        crate::engine::FrameView::Text(b) => std::str::from_utf8(b).unwrap(),
        crate::engine::FrameView::Binary(_) => panic!("binary frame"),
    }
}

fn decode_packet(s: &str) -> Packet {
    match Parser::Json
        .decode_text(s, DecodeLimits::default())
        .unwrap()
    {
        Decoded::Packet(p) => p,
        Decoded::NeedsAttachments(_) => panic!("binary header"),
    }
}

#[test]
fn decodes_connect_with_and_without_namespace_and_auth() {
    assert_eq!(
        decode_packet("0"),
        Packet {
            ns: "/".into(),
            kind: PacketKind::Connect(None)
        }
    );
    assert_eq!(decode_packet("0/custom,").ns, "/custom");
    // The official suite sends `40/custom` without the trailing comma.
    assert_eq!(decode_packet("0/custom").ns, "/custom");
    let p = decode_packet(r#"0/custom,{"token":"abc"}"#);
    assert_eq!(
        p.kind,
        PacketKind::Connect(Some(object! { "token" => "abc" }))
    );
}

#[test]
fn decodes_events_and_acks() {
    let p = decode_packet(r#"2["message",1,"2",{"3":[true]}]"#);
    assert_eq!(
        p.kind,
        PacketKind::Event {
            name: "message".into(),
            args: vec![
                1.into(),
                "2".into(),
                object! { "3" => Value::Array(vec![true.into()]) }
            ],
            ack: None,
        }
    );
    let p = decode_packet(r#"2/admin,456["message-with-ack",1]"#);
    assert_eq!(p.ns, "/admin");
    assert!(matches!(p.kind, PacketKind::Event { ack: Some(456), .. }));
    let p = decode_packet(r#"3456[1,"2"]"#);
    assert_eq!(
        p.kind,
        PacketKind::Ack {
            id: 456,
            args: vec![1.into(), "2".into()]
        }
    );
    // Numeric event names are allowed and become strings.
    assert!(
        matches!(decode_packet("2[42]").kind, PacketKind::Event { ref name, .. } if name == "42")
    );
}

#[test]
fn reassembles_binary_events_and_acks() {
    let header = r#"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    let Decoded::NeedsAttachments(mut pending) = Parser::Json
        .decode_text(header, DecodeLimits::default())
        .unwrap()
    else {
        panic!("expected a binary header")
    };
    assert_eq!(pending.missing(), 2);
    assert!(pending.add(Bytes::from_static(&[1, 2, 3])).is_none());
    let packet = pending
        .add(Bytes::from_static(&[4, 5, 6]))
        .unwrap()
        .unwrap();
    let PacketKind::Event { name, args, ack } = packet.kind else {
        panic!()
    };
    assert_eq!((name.as_str(), ack), ("message", None));
    assert_eq!(
        args,
        vec![
            Value::Binary(Bytes::from_static(&[1, 2, 3])),
            Value::Binary(Bytes::from_static(&[4, 5, 6]))
        ]
    );

    let Decoded::NeedsAttachments(mut pending) = Parser::Json
        .decode_text(
            r#"61-/custom,789[{"_placeholder":true,"num":0}]"#,
            DecodeLimits::default(),
        )
        .unwrap()
    else {
        panic!()
    };
    let packet = pending.add(Bytes::from_static(b"x")).unwrap().unwrap();
    assert_eq!(packet.ns, "/custom");
    assert_eq!(
        packet.kind,
        PacketKind::Ack {
            id: 789,
            args: vec![Value::Binary(Bytes::from_static(b"x"))]
        }
    );
}

#[test]
fn encodes_as_node_does() {
    let enc = |p: &Packet| Parser::Json.encode(p).unwrap();
    let connect = Packet {
        ns: "/".into(),
        kind: PacketKind::Connect(Some(object! { "sid" => "abc" })),
    };
    assert_eq!(text(&enc(&connect).frames()[0]), r#"40{"sid":"abc"}"#);
    let connect = Packet {
        ns: "/custom".into(),
        kind: PacketKind::Connect(Some(object! { "sid" => "abc" })),
    };
    assert_eq!(
        text(&enc(&connect).frames()[0]),
        r#"40/custom,{"sid":"abc"}"#
    );
    let error = Packet {
        ns: "/random".into(),
        kind: PacketKind::ConnectError(object! { "message" => "Invalid namespace" }),
    };
    assert_eq!(
        text(&enc(&error).frames()[0]),
        r#"44/random,{"message":"Invalid namespace"}"#
    );
    let ack = Packet {
        ns: "/".into(),
        kind: PacketKind::Ack {
            id: 456,
            args: vec![1.into(), "2".into()],
        },
    };
    assert_eq!(text(&enc(&ack).frames()[0]), r#"43456[1,"2"]"#);
    let disconnect = Packet {
        ns: "/chat".into(),
        kind: PacketKind::Disconnect,
    };
    assert_eq!(text(&enc(&disconnect).frames()[0]), "41/chat,");

    let binary_ack = Packet {
        ns: "/".into(),
        kind: PacketKind::Ack {
            id: 789,
            args: vec![
                Value::Binary(Bytes::from_static(&[1, 2, 3])),
                Value::Binary(Bytes::from_static(&[4, 5, 6])),
            ],
        },
    };
    let encoded = enc(&binary_ack);
    let frames = encoded.frames();
    assert_eq!(frames.len(), 3);
    assert_eq!(
        text(&frames[0]),
        r#"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(frames[1], Frame::Binary(Bytes::from_static(&[1, 2, 3])));
}

#[test]
fn refuses_every_malformed_text_packet() {
    let cases = [
        ("", ParseError::Empty),
        ("abc", ParseError::UnknownType('a')),
        ("7", ParseError::UnknownType('7')),
        ("2{}", ParseError::InvalidPayload(2)),
        ("2[]", ParseError::InvalidPayload(2)),
        ("2", ParseError::InvalidPayload(2)),
        (r#"2[{"a":1}]"#, ParseError::InvalidPayload(2)),
        (
            r#"2["disconnect"]"#,
            ParseError::ReservedEvent("disconnect".into()),
        ),
        (
            r#"2["connect"]"#,
            ParseError::ReservedEvent("connect".into()),
        ),
        ("3[1]", ParseError::InvalidAckId),
        ("31{}", ParseError::InvalidPayload(3)),
        ("0[]", ParseError::InvalidPayload(0)),
        (r#"0"token""#, ParseError::InvalidPayload(0)),
        ("1{}", ParseError::InvalidPayload(1)),
        ("5-[\"a\"]", ParseError::IllegalAttachments),
        ("50-[\"a\"]", ParseError::IllegalAttachments),
        ("511-[\"a\"]", ParseError::IllegalAttachments),
        ("52[\"a\"]", ParseError::IllegalAttachments),
        ("6abc-[]", ParseError::IllegalAttachments),
        ("299999999999999999999999[\"a\"]", ParseError::InvalidAckId),
    ];
    for (input, expected) in cases {
        assert_eq!(
            Parser::Json
                .decode_text(input, DecodeLimits::default())
                .unwrap_err(),
            expected,
            "input {input:?}"
        );
    }
    // Invalid JSON, including the official suite's invalid ack id `42abc[...]`.
    for input in [
        r#"2abc["message-with-ack",1]"#,
        "2[1",
        "2[1]]",
        "0{",
        "2/admin,[\"a\"] x",
    ] {
        assert!(
            matches!(
                Parser::Json.decode_text(input, DecodeLimits::default()),
                Err(ParseError::InvalidJson(_))
            ),
            "input {input:?}"
        );
    }
}

#[test]
fn refuses_bad_placeholders_once_attachments_arrive() {
    for header in [
        r#"51-["a",{"_placeholder":true,"num":1}]"#,
        r#"51-["a",{"_placeholder":true,"num":"0"}]"#,
        r#"51-["a",{"_placeholder":true}]"#,
        r#"51-{}"#,
        "51-",
    ] {
        let Decoded::NeedsAttachments(mut pending) = Parser::Json
            .decode_text(header, DecodeLimits::default())
            .unwrap()
        else {
            panic!("{header}")
        };
        assert!(pending.add(Bytes::new()).unwrap().is_err(), "{header}");
    }
    assert_eq!(
        Parser::Json
            .decode_binary(Bytes::from_static(b"x"), DecodeLimits::default())
            .unwrap_err(),
        ParseError::UnexpectedBinary
    );
}

#[test]
fn msgpack_round_trips_every_packet_type() {
    let packets = [
        Packet {
            ns: "/".into(),
            kind: PacketKind::Connect(Some(object! { "token" => "t" })),
        },
        Packet {
            ns: "/".into(),
            kind: PacketKind::Connect(None),
        },
        Packet {
            ns: "/chat".into(),
            kind: PacketKind::Disconnect,
        },
        Packet {
            ns: "/".into(),
            kind: PacketKind::Event {
                name: "upload".into(),
                args: vec![object! { "file" => Bytes::from_static(&[0, 1, 2]) }],
                ack: Some(7),
            },
        },
        Packet {
            ns: "/".into(),
            kind: PacketKind::Ack {
                id: 7,
                args: vec![true.into()],
            },
        },
        Packet {
            ns: "/".into(),
            kind: PacketKind::ConnectError(object! { "message" => "no" }),
        },
    ];
    for packet in packets {
        let Encoded::One(Frame::Binary(bytes)) = Parser::MsgPack.encode(&packet).unwrap() else {
            panic!("msgpack encodes one binary frame")
        };
        assert_eq!(
            Parser::MsgPack
                .decode_binary(bytes, DecodeLimits::default())
                .unwrap(),
            packet
        );
    }
}

#[test]
fn msgpack_refuses_malformed_packets() {
    use crate::value::msgpack::write_value;
    let cases = [
        object! { "type" => 9, "nsp" => "/" },
        object! { "type" => 2, "nsp" => 1, "data" => Value::Array(vec!["a".into()]) },
        object! { "type" => 2, "nsp" => "/", "data" => "a" },
        object! { "type" => 2, "nsp" => "/", "data" => Value::Array(vec!["a".into()]), "id" => -1 },
        object! { "type" => 3, "nsp" => "/", "data" => Value::Array(vec![]) },
        object! { "type" => 1, "nsp" => "/", "data" => 1 },
        Value::Array(vec![]),
    ];
    for case in cases {
        let mut out = Vec::new();
        write_value(&mut out, &case);
        assert!(
            Parser::MsgPack
                .decode_binary(Bytes::from(out), DecodeLimits::default())
                .is_err(),
            "{case:?}"
        );
    }
    assert!(
        Parser::MsgPack
            .decode_binary(Bytes::from_static(&[0x81, 0xa4]), DecodeLimits::default())
            .is_err()
    );
    assert!(
        Parser::MsgPack
            .decode_text("2[]", DecodeLimits::default())
            .is_err()
    );
}
