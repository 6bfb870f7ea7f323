//! Reading the bytes the Node packages produce (fixtures made with
//! notepack.io 3.0.1, as `@socket.io/redis-adapter` 8.3 and
//! `@socket.io/redis-emitter` 5.1 encode), and refusing malformed ones.
#![allow(clippy::unwrap_used)]

use super::*;
use std::time::Duration;
use switchyard_cluster::message::{Body, EMITTER_UID};
use switchyard_core::protocol::PacketKind;
use switchyard_core::{Room, Value};

fn format() -> NodeFormat {
    NodeFormat::new("socket.io", false)
}

pub(super) fn hex(text: &str) -> Bytes {
    let digits: Vec<u8> = text.bytes().collect();
    Bytes::from(
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect::<Vec<u8>>(),
    )
}

fn decode(channel: &str, payload: Bytes) -> Result<ClusterMessage, MessageError> {
    format().decode(&Delivery {
        channel: channel.into(),
        payload,
    })
}

fn json_bytes(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

fn event(packet: &switchyard_core::protocol::Packet) -> (&str, &[Value]) {
    match &packet.kind {
        PacketKind::Event { name, args, .. } => (name.as_str(), args.as_slice()),
        other => panic!("not an event: {other:?}"),
    }
}

/// `notepack.encode(["abc123", {type: 2, data: ["news", {n: 1.5, big: 12345678901, s: "é"},
/// Buffer.from([1, 2, 3]), null, true], nsp: "/chat"}, {rooms: ["r1"], except: ["x"],
/// flags: {volatile: true}}])`
pub(super) const NODE_BROADCAST: &str = "93a66162633132338\
3a47479706502a46461746195a46e65777383a16ecb3ff8000000000000a3626967cf00000002dfdc1c35a173a2c3a9c4\
03010203c0c3a36e7370a52f6368617483a5726f6f6d7391a27231a665786365707491a178a5666c61677381a8766f6c\
6174696c65c3";

#[test]
fn reads_a_node_servers_broadcast() {
    let message = decode("socket.io#/chat#r1#", hex(NODE_BROADCAST)).unwrap();
    assert_eq!(message.uid, "abc123");
    assert_eq!(message.nsp, "/chat");
    let Body::Broadcast {
        packet,
        opts,
        request_id: None,
    } = message.body
    else {
        panic!("{message:?}")
    };
    let (name, args) = event(&packet);
    assert_eq!(name, "news");
    assert_eq!(args[0].get("n").and_then(Value::as_f64), Some(1.5));
    assert_eq!(
        args[0].get("big").and_then(Value::as_u64),
        Some(12_345_678_901)
    );
    assert_eq!(args[0].get("s").and_then(Value::as_str), Some("é"));
    assert_eq!(args[1], Value::Binary(Bytes::from_static(&[1, 2, 3])));
    assert_eq!(args[2..], [Value::Null, Value::Bool(true)]);
    assert_eq!(opts.rooms, vec![Room::from("r1")]);
    assert_eq!(opts.except, vec![Room::from("x")]);
    assert!(opts.flags.volatile);
}

#[test]
fn reads_an_emitters_broadcast_with_a_date_as_json_would_print_it() {
    // notepack.encode(["emitter", {type: 2, data: ["t", new Date(0)], nsp: "/"},
    // {rooms: [], except: [], flags: {}}])
    let bytes = "93a7656d697474657283a47479706502a46461746192a174d7000000000000000000a36e7370a12f83a5\
726f6f6d7390a665786365707490a5666c61677380";
    let message = decode("socket.io#/#", hex(bytes)).unwrap();
    assert_eq!(message.uid, EMITTER_UID);
    let Body::Broadcast { packet, .. } = &message.body else {
        panic!("{message:?}")
    };
    assert_eq!(event(packet).1, [Value::from("1970-01-01T00:00:00.000Z")]);
}

#[test]
fn reads_acknowledged_broadcasts_and_their_acks() {
    // notepack.encode({uid: "abc123", requestId: "req1", type: 7, packet: {type: 2,
    // data: ["ping"], nsp: "/"}, opts: {rooms: [], except: [], flags: {timeout: 1000}}})
    let request = "85a3756964a6616263313233a9726571756573744964a472657131a47479706507a67061636b657483a4\
7479706502a46461746191a470696e67a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c616773\
81a774696d656f7574cd03e8";
    let message = decode("socket.io-request#/#", hex(request)).unwrap();
    let Body::Broadcast {
        packet,
        opts,
        request_id: Some(id),
    } = message.body
    else {
        panic!()
    };
    assert_eq!((event(&packet).0, id.as_str()), ("ping", "req1"));
    assert_eq!(opts.flags.timeout, Some(Duration::from_millis(1000)));

    // notepack.encode({type: 9, requestId: "req1", packet: ["pong", Buffer.from([9])]})
    let ack = "83a47479706509a9726571756573744964a472657131a67061636b657492a4706f6e67c40109";
    let message = decode("socket.io-response#/#", hex(ack)).unwrap();
    let expected = Value::Array(vec![
        Value::from("pong"),
        Value::Binary(Bytes::from_static(&[9])),
    ]);
    assert_eq!(
        message.body,
        Body::BroadcastAck {
            request_id: "req1".into(),
            value: expected
        }
    );
}

#[test]
fn reads_json_requests_with_and_without_a_uid() {
    reads_json_joins_and_leaves();
    reads_json_disconnects_and_fetches();
    reads_json_emits_and_queries();
}

fn reads_json_joins_and_leaves() {
    let join = decode(
        "socket.io-request#/#",
        json_bytes(r#"{"type":2,"opts":{"rooms":["a"],"except":["b"]},"rooms":["c","d"]}"#),
    )
    .unwrap();
    assert_eq!(join.uid, EMITTER_UID, "emitters send no uid");
    let Body::SocketsJoin { opts, rooms } = join.body else {
        panic!()
    };
    assert_eq!(
        (opts.rooms, opts.except, rooms),
        (
            vec!["a".into()],
            vec!["b".into()],
            vec!["c".into(), "d".into()]
        )
    );

    let leave = decode(
        "socket.io-request#/#",
        json_bytes(r#"{"uid":"n1","type":3,"opts":{"rooms":[],"except":[]},"rooms":["c"]}"#),
    )
    .unwrap();
    assert_eq!(leave.uid, "n1");
    assert!(matches!(leave.body, Body::SocketsLeave { .. }));
}

fn reads_json_disconnects_and_fetches() {
    let disconnect = decode(
        "socket.io-request#/admin#",
        json_bytes(r#"{"type":4,"opts":{"rooms":["r"],"except":[]},"close":true}"#),
    )
    .unwrap();
    assert_eq!(disconnect.nsp, "/admin");
    assert!(matches!(
        disconnect.body,
        Body::DisconnectSockets { close: true, .. }
    ));

    let fetch = decode(
        "socket.io-request#/#",
        json_bytes(r#"{"uid":"n1","requestId":"q","type":5,"opts":{"rooms":["r"],"except":[]}}"#),
    )
    .unwrap();
    assert!(matches!(fetch.body, Body::FetchSockets { ref request_id, .. } if request_id == "q"));
}

fn reads_json_emits_and_queries() {
    let emit = decode(
        "socket.io-request#/#",
        json_bytes(r#"{"uid":"n1","requestId":"q2","type":6,"data":["hello",1,{"a":[true]}]}"#),
    )
    .unwrap();
    let Body::ServerSideEmit {
        event,
        args,
        request_id,
    } = emit.body
    else {
        panic!()
    };
    assert_eq!(
        (event.as_str(), args.len(), request_id.as_deref()),
        ("hello", 2, Some("q2"))
    );

    let sockets = decode(
        "socket.io-request#/#",
        json_bytes(r#"{"uid":"n1","requestId":"q3","type":0,"rooms":["r"]}"#),
    )
    .unwrap();
    assert_eq!(
        sockets.body,
        Body::Sockets {
            rooms: vec!["r".into()],
            request_id: "q3".into()
        }
    );
    let rooms = decode(
        "socket.io-request#/#",
        json_bytes(r#"{"uid":"n1","requestId":"q4","type":1}"#),
    )
    .unwrap();
    assert_eq!(
        rooms.body,
        Body::AllRooms {
            request_id: "q4".into()
        }
    );
}

#[test]
fn reads_json_responses_on_the_shared_and_the_specific_channel() {
    reads_json_fetch_responses();
    reads_json_counts_and_emit_answers();
    reads_json_ids_and_rooms();
}

fn reads_json_fetch_responses() {
    // A Node server's fetchSockets answer: no data, Node's handshake fields.
    let fetched = r#"{"requestId":"q","sockets":[{"id":"s1","handshake":{"headers":{"host":"x"},
        "time":"Wed Nov 25 2026","address":"::1","xdomain":false,"secure":false,"issued":1700000000000,
        "url":"/socket.io/?EIO=4","query":{"EIO":"4"},"auth":{}},"rooms":["s1","r"]}]}"#;
    let message = decode("socket.io-response#/#", json_bytes(fetched)).unwrap();
    let Body::FetchSocketsResponse {
        request_id,
        sockets,
    } = message.body
    else {
        panic!()
    };
    assert_eq!(request_id, "q");
    assert_eq!(sockets[0].id.as_str(), "s1");
    assert_eq!(sockets[0].rooms, vec![Room::from("s1"), Room::from("r")]);
    assert_eq!(sockets[0].data, Value::Null);
    assert_eq!(sockets[0].handshake.issued, 1_700_000_000_000);

    let empty = decode(
        "socket.io-response#/#n1#",
        json_bytes(r#"{"requestId":"q","sockets":[]}"#),
    )
    .unwrap();
    assert_eq!(empty.nsp, "/");
    assert_eq!(
        empty.body,
        Body::FetchSocketsResponse {
            request_id: "q".into(),
            sockets: Vec::new()
        }
    );
}

fn reads_json_counts_and_emit_answers() {
    let count = decode(
        "socket.io-response#/chat#n1#",
        json_bytes(r#"{"type":8,"requestId":"q","clientCount":3}"#),
    )
    .unwrap();
    assert_eq!(count.nsp, "/chat");
    assert_eq!(
        count.body,
        Body::BroadcastClientCount {
            request_id: "q".into(),
            count: 3
        }
    );

    let answer = decode(
        "socket.io-response#/#",
        json_bytes(r#"{"type":6,"requestId":"q","data":"pong"}"#),
    )
    .unwrap();
    assert_eq!(
        answer.body,
        Body::ServerSideEmitResponse {
            request_id: "q".into(),
            value: Value::from("pong")
        }
    );
}

fn reads_json_ids_and_rooms() {
    let ids = decode(
        "socket.io-response#/#",
        json_bytes(r#"{"requestId":"q","sockets":["a","b"]}"#),
    )
    .unwrap();
    assert_eq!(
        ids.body,
        Body::SocketsResponse {
            request_id: "q".into(),
            ids: vec!["a".into(), "b".into()]
        }
    );
    let rooms = decode(
        "socket.io-response#/#",
        json_bytes(r#"{"requestId":"q","rooms":["a"]}"#),
    )
    .unwrap();
    assert_eq!(
        rooms.body,
        Body::AllRoomsResponse {
            request_id: "q".into(),
            rooms: vec!["a".into()]
        }
    );
}

#[test]
fn refuses_malformed_and_foreign_messages() {
    let cases: Vec<(&str, Bytes)> = vec![
        ("socket.io#/#", Bytes::from_static(b"\xc1")),
        (
            "socket.io#/#",
            hex(&NODE_BROADCAST[..NODE_BROADCAST.len() / 2]),
        ),
        ("socket.io#/#", Bytes::new()),
        ("socket.io#/#", hex("92a161a162")),
        ("socket.io#/#", hex("93a16180c0")),
        ("socket.io-request#/#", json_bytes("{not json")),
        ("socket.io-request#/#", json_bytes(r#"{"type":42}"#)),
        ("socket.io-request#/#", json_bytes(r#"{"type":"2"}"#)),
        ("socket.io-request#/#", json_bytes(r#"[1,2]"#)),
        (
            "socket.io-request#/#",
            json_bytes(r#"{"type":2,"sid":"abc","room":"r"}"#),
        ),
        (
            "socket.io-request#/#",
            json_bytes(r#"{"type":5,"opts":{"rooms":[],"except":[]}}"#),
        ),
        (
            "socket.io-request#/#",
            json_bytes(r#"{"type":6,"data":[]}"#),
        ),
        (
            "socket.io-request#/#",
            json_bytes(r#"{"type":2,"opts":{"rooms":[1],"except":[]},"rooms":[]}"#),
        ),
        ("socket.io-response#/#", json_bytes(r#"{"sockets":[]}"#)),
        ("socket.io-response#/#", json_bytes(r#"{"requestId":"q"}"#)),
        (
            "socket.io-response#/#",
            json_bytes(r#"{"requestId":"q","sockets":[{"id":1}]}"#),
        ),
        ("other#/#", hex(NODE_BROADCAST)),
    ];
    for (channel, bytes) in cases {
        assert!(
            decode(channel, bytes.clone()).is_err(),
            "{channel} {bytes:?} must be refused"
        );
    }
}
