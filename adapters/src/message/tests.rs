//! Round trips of every message and refusals of malformed ones.
use super::*;
use bytes::Bytes;
use switchyard_core::value::to_msgpack;
use switchyard_core::{BroadcastFlags, Handshake, Sid, object};

fn round_trip(body: Body) {
    let msg = ClusterMessage {
        uid: "0123456789abcdef".into(),
        nsp: "/chat".into(),
        body,
    };
    let back = ClusterMessage::decode(&msg.encode()).unwrap();
    assert_eq!(back, msg);
}

#[test]
fn every_message_type_round_trips() {
    for body in targeting_bodies()
        .into_iter()
        .chain(answer_bodies())
        .chain(switchyard_bodies())
    {
        round_trip(body);
    }
}

/// Targeting with rooms, exceptions and flags.
fn sample_opts() -> BroadcastOptions {
    BroadcastOptions {
        rooms: vec!["a".into()],
        except: vec!["b".into()],
        flags: BroadcastFlags {
            volatile: true,
            timeout: Some(std::time::Duration::from_millis(300)),
            ..Default::default()
        },
    }
}

/// One socket's description, with handshake, rooms and data.
fn sample_socket() -> SocketInfo {
    SocketInfo {
        id: Sid::from("s1"),
        handshake: Handshake {
            auth: object! { "user" => "ann" },
            ..Handshake::default()
        },
        rooms: vec!["s1".into(), "a".into()],
        data: object! { "level" => 2 },
        user: None,
        transport: Some("websocket".into()),
        client_id: Some("0123456789ab".into()),
    }
}

/// The messages that act on targeted sockets (and the heartbeats).
fn targeting_bodies() -> Vec<Body> {
    let opts = sample_opts();
    let packet = Packet::event(
        "/chat",
        "msg",
        vec![
            object! { "bin" => bytes::Bytes::from_static(&[1, 2]) },
            3.into(),
        ],
    );
    vec![
        Body::InitialHeartbeat,
        Body::Heartbeat,
        Body::Broadcast {
            packet: packet.clone(),
            opts: opts.clone(),
            request_id: None,
        },
        Body::Broadcast {
            packet,
            opts: opts.clone(),
            request_id: Some("r1".into()),
        },
        Body::SocketsJoin {
            opts: opts.clone(),
            rooms: vec!["x".into()],
        },
        Body::SocketsLeave {
            opts: opts.clone(),
            rooms: vec!["x".into()],
        },
        Body::DisconnectSockets {
            opts: opts.clone(),
            close: true,
        },
        Body::FetchSockets {
            opts,
            request_id: "r2".into(),
        },
    ]
}

/// Node's requests and answers.
fn answer_bodies() -> Vec<Body> {
    let socket = sample_socket();
    vec![
        Body::FetchSocketsResponse {
            request_id: "r2".into(),
            sockets: vec![socket],
        },
        Body::ServerSideEmit {
            event: "hello".into(),
            args: vec![1.into()],
            request_id: Some("r3".into()),
        },
        Body::ServerSideEmitResponse {
            request_id: "r3".into(),
            value: "ok".into(),
        },
        Body::BroadcastClientCount {
            request_id: "r1".into(),
            count: 7,
        },
        Body::BroadcastAck {
            request_id: "r1".into(),
            value: Value::Null,
        },
        Body::AdapterClose,
        Body::Sockets {
            rooms: vec!["a".into()],
            request_id: "r4".into(),
        },
        Body::SocketsResponse {
            request_id: "r4".into(),
            ids: vec!["s1".into()],
        },
        Body::AllRooms {
            request_id: "r5".into(),
        },
        Body::AllRoomsResponse {
            request_id: "r5".into(),
            rooms: vec!["a".into()],
        },
    ]
}

/// Switchyard's own messages.
fn switchyard_bodies() -> Vec<Body> {
    vec![
        Body::RecoverableBroadcast {
            packet: Packet::event("/chat", "e", vec![Value::from("off1")]),
            opts: BroadcastOptions::default(),
            offset: "off1".into(),
        },
        Body::RestoreSession {
            pid: "p1".into(),
            offset: "off1".into(),
            request_id: "r6".into(),
        },
        Body::RestoreSessionResponse {
            request_id: "r6".into(),
            session: object! { "session" => Value::Null },
        },
        Body::PresenceUpdate {
            user: "ann".into(),
            count: 2,
        },
        Body::PresenceSnapshot {
            users: vec![("ann".into(), 2), ("bob".into(), 1)],
        },
        Body::PresenceSnapshot { users: Vec::new() },
        Body::NodeAddress {
            tag: "0a1b2c3d".into(),
            address: "10.0.0.5:3000".into(),
        },
    ]
}

#[test]
fn malformed_or_foreign_bytes_are_errors() {
    let cases: Vec<Bytes> = vec![
        Bytes::from_static(b"hello"),
        Bytes::from_static(b"{\"uid\":\"x\"}"),
        Bytes::new(),
        Bytes::from(to_msgpack(
            &object! { "uid" => "a", "nsp" => "/", "type" => 99 },
        )),
        Bytes::from(to_msgpack(
            &object! { "uid" => "a", "nsp" => "/", "type" => 3, "data" => 1 },
        )),
        Bytes::from(to_msgpack(
            &object! { "uid" => "a", "nsp" => "/", "type" => 3,
            "data" => object! { "packet" => object! { "type" => 0 }, "opts" => object! {} } },
        )),
        Bytes::from(to_msgpack(
            &object! { "uid" => 5, "nsp" => "/", "type" => 2 },
        )),
        Bytes::from(to_msgpack(
            &object! { "uid" => "a", "nsp" => "/", "type" => 9, "data" => object! { "packet" => Value::Array(vec![]) } },
        )),
        Bytes::from(to_msgpack(&Value::Array(vec![]))),
    ];
    for case in cases {
        assert!(ClusterMessage::decode(&case).is_err(), "{case:?}");
    }
}

#[test]
fn hostile_lengths_and_counts_from_the_broker_are_bounded() {
    // Nested arrays each claiming almost the whole message: refused before
    // anything is reserved beyond what the input holds.
    let mut nested = vec![0x84, 0xa3, b'u', b'i', b'd', 0xa1, b'a'];
    nested.extend_from_slice(&[0xa3, b'n', b's', b'p', 0xa1, b'/']);
    nested.extend_from_slice(&[
        0xa4, b't', b'y', b'p', b'e', 0x03, 0xa4, b'd', b'a', b't', b'a',
    ]);
    let body = 1 << 20;
    for level in 0..64u32 {
        nested.push(0xdd);
        nested.extend_from_slice(&(body - level * 5).to_be_bytes());
    }
    nested.resize(nested.len() + body as usize, 0);
    assert!(ClusterMessage::decode(&Bytes::from(nested)).is_err());
    // Counts that would overflow a sum decode; their users saturate.
    let count = Bytes::from(to_msgpack(&object! {
        "uid" => "a", "nsp" => "/", "type" => 21,
        "data" => object! { "ann" => u64::MAX, "bob" => u64::MAX },
    }));
    assert!(matches!(
        ClusterMessage::decode(&count).map(|m| m.body),
        Ok(Body::PresenceSnapshot { .. })
    ));
}
