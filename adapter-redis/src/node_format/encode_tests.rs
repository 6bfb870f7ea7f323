//! What we send: where it goes, and that it reads back the same.
#![allow(clippy::unwrap_used)]

use super::*;
use std::time::Duration;
use switchyard_cluster::message::Body;
use switchyard_core::protocol::PacketKind;
use switchyard_core::{BroadcastFlags, BroadcastOptions, Handshake, Room, SocketInfo, Value};

fn format() -> NodeFormat {
    NodeFormat::new("socket.io", false)
}

fn decode(channel: &str, payload: Bytes) -> Result<ClusterMessage, MessageError> {
    format().decode(&Delivery {
        channel: channel.into(),
        payload,
    })
}

fn packet(name: &str, args: Vec<Value>) -> switchyard_core::protocol::Packet {
    switchyard_core::protocol::Packet {
        ns: "/chat".into(),
        kind: PacketKind::Event {
            name: name.into(),
            args,
            ack: None,
        },
    }
}

fn opts() -> BroadcastOptions {
    BroadcastOptions {
        rooms: vec!["a".into(), "b".into()],
        except: vec!["c".into()],
        flags: BroadcastFlags {
            timeout: Some(Duration::from_millis(250)),
            ..BroadcastFlags::default()
        },
    }
}

fn socket_info() -> SocketInfo {
    SocketInfo {
        id: "s1".into(),
        handshake: Handshake {
            address: "127.0.0.1".into(),
            issued: 5,
            ..Handshake::default()
        },
        rooms: vec!["s1".into(), "a".into()],
        data: Value::from("x"),
        user: None,
        transport: None,
        client_id: None,
    }
}

/// The requests (and broadcasts) we send.
fn requests() -> Vec<Body> {
    let args = vec![Value::Binary(Bytes::from_static(&[0, 255])), Value::from(7)];
    vec![
        Body::Broadcast {
            packet: packet("e", args.clone()),
            opts: opts(),
            request_id: None,
        },
        Body::Broadcast {
            packet: packet("e", args.clone()),
            opts: opts(),
            request_id: Some("r".into()),
        },
        Body::SocketsJoin {
            opts: BroadcastOptions {
                flags: BroadcastFlags::default(),
                ..opts()
            },
            rooms: vec!["x".into()],
        },
        Body::SocketsLeave {
            opts: BroadcastOptions {
                flags: BroadcastFlags::default(),
                ..opts()
            },
            rooms: vec!["x".into()],
        },
        Body::DisconnectSockets {
            opts: BroadcastOptions {
                flags: BroadcastFlags::default(),
                ..opts()
            },
            close: true,
        },
        Body::FetchSockets {
            opts: BroadcastOptions {
                flags: BroadcastFlags::default(),
                ..opts()
            },
            request_id: "r".into(),
        },
        Body::ServerSideEmit {
            event: "e".into(),
            args: vec![Value::from(1)],
            request_id: None,
        },
        Body::ServerSideEmit {
            event: "e".into(),
            args: Vec::new(),
            request_id: Some("r".into()),
        },
        Body::Sockets {
            rooms: vec!["a".into()],
            request_id: "r".into(),
        },
        Body::AllRooms {
            request_id: "r".into(),
        },
    ]
}

/// The responses we send.
fn responses() -> Vec<Body> {
    vec![
        Body::FetchSocketsResponse {
            request_id: "r".into(),
            sockets: vec![socket_info()],
        },
        Body::SocketsResponse {
            request_id: "r".into(),
            ids: vec!["s1".into()],
        },
        Body::AllRoomsResponse {
            request_id: "r".into(),
            rooms: vec!["a".into()],
        },
        Body::ServerSideEmitResponse {
            request_id: "r".into(),
            value: Value::from("ok"),
        },
        Body::BroadcastClientCount {
            request_id: "r".into(),
            count: 2,
        },
        Body::BroadcastAck {
            request_id: "r".into(),
            value: Value::Binary(Bytes::from_static(&[1])),
        },
    ]
}

/// Every message we send reads back the same; responses without our uid.
#[test]
fn what_we_send_reads_back_the_same() {
    let node = NodeId::from("0123456789abcdef");
    for body in requests() {
        let message = ClusterMessage {
            uid: node.clone(),
            nsp: "/chat".into(),
            body,
        };
        let (channel, bytes) = format().encode(&message, Destination::Everyone).unwrap();
        let name = channel_name("socket.io", &channel);
        assert_eq!(decode(&name, bytes).unwrap(), message, "through {name}");
    }
    for body in responses() {
        let message = ClusterMessage {
            uid: node.clone(),
            nsp: "/chat".into(),
            body,
        };
        let (channel, bytes) = format()
            .encode(&message, Destination::Node(&"requester".into()))
            .unwrap();
        assert_eq!(channel, Channel::Responses("/chat".into()));
        let decoded = decode(&channel_name("socket.io", &channel), bytes).unwrap();
        assert_eq!(decoded.body, message.body);
        assert_eq!(decoded.uid, "", "Node's responses carry no uid");
    }
}

/// Encodes `body` from node `n` on `/` with key `k`: the channel's name
/// and the bytes.
fn send(body: Body, to: Destination<'_>, specific: bool) -> Option<(String, Bytes)> {
    let message = ClusterMessage {
        uid: NodeId::from("n"),
        nsp: "/".into(),
        body,
    };
    NodeFormat::new("k", specific)
        .encode(&message, to)
        .map(|(channel, bytes)| (channel_name("k", &channel), bytes))
}

fn broadcast(rooms: Vec<Room>) -> Body {
    Body::Broadcast {
        packet: packet("e", Vec::new()),
        opts: BroadcastOptions {
            rooms,
            ..Default::default()
        },
        request_id: None,
    }
}

#[test]
fn messages_go_where_node_sends_them() {
    broadcasts_go_to_the_room_or_the_namespace();
    requests_and_responses_go_where_node_sends_them();
    switchyard_messages_go_where_only_switchyard_listens();
}

fn broadcasts_go_to_the_room_or_the_namespace() {
    let room = Room::from("r");
    let (channel, bytes) = send(
        broadcast(vec![room.clone()]),
        Destination::Room(&room),
        false,
    )
    .unwrap();
    assert_eq!(channel, "k#/#r#");
    assert_eq!(
        bytes[0], 0x93,
        "a broadcast is a three-element MessagePack array"
    );
    assert_eq!(
        send(broadcast(Vec::new()), Destination::Everyone, false)
            .unwrap()
            .0,
        "k#/#"
    );
}

fn requests_and_responses_go_where_node_sends_them() {
    let join = send(
        Body::SocketsJoin {
            opts: BroadcastOptions::default(),
            rooms: Vec::new(),
        },
        Destination::Everyone,
        false,
    )
    .unwrap();
    assert_eq!(join.0, "k-request#/#");
    assert_eq!(join.1[0], b'{', "join requests are JSON");

    let count = Body::BroadcastClientCount {
        request_id: "q".into(),
        count: 1,
    };
    assert_eq!(
        send(count.clone(), Destination::Node(&"them".into()), false)
            .unwrap()
            .0,
        "k-response#/#"
    );
    assert_eq!(
        send(count, Destination::Node(&"them".into()), true)
            .unwrap()
            .0,
        "k-response#/#them#"
    );
    let answer = Body::ServerSideEmitResponse {
        request_id: "q".into(),
        value: Value::Null,
    };
    assert_eq!(
        send(answer, Destination::Node(&"them".into()), true)
            .unwrap()
            .0,
        "k-response#/#",
        "Node answers server-side emits on the shared channel"
    );
}

/// Node's servers send no heartbeats; Switchyard nodes send theirs, and
/// presence, where only they listen, in their own encoding.
fn switchyard_messages_go_where_only_switchyard_listens() {
    for body in [
        Body::Heartbeat,
        Body::InitialHeartbeat,
        Body::AdapterClose,
        Body::PresenceUpdate {
            user: "ann".into(),
            count: 1,
        },
    ] {
        let (channel, bytes) = send(body.clone(), Destination::Everyone, false).unwrap();
        assert_eq!(channel, "k-switchyard#/#");
        let decoded = NodeFormat::new("k", false)
            .decode(&Delivery {
                channel,
                payload: bytes,
            })
            .unwrap();
        assert_eq!(decoded.body, body);
    }
}

/// Node's servers never see a recovery offset among the arguments; a
/// Switchyard node gets it back at the end.
#[test]
fn recoverable_broadcasts_carry_their_offset_in_the_options() {
    let message = ClusterMessage {
        uid: "n".into(),
        nsp: "/chat".into(),
        body: Body::RecoverableBroadcast {
            packet: packet("e", vec![Value::from(1), Value::from("off1")]),
            opts: opts(),
            offset: "off1".into(),
        },
    };
    let (channel, bytes) = format().encode(&message, Destination::Everyone).unwrap();
    let Some(Value::Array(parts)) = switchyard_core::value::from_msgpack(&bytes).unwrap() else {
        panic!("not an array");
    };
    assert_eq!(
        parts[1].get("data"),
        Some(&Value::Array(vec![Value::from("e"), Value::from(1)]))
    );
    assert_eq!(parts[2].get("offset"), Some(&Value::from("off1")));
    let decoded = decode(&channel_name("socket.io", &channel), bytes).unwrap();
    assert_eq!(decoded, message);
}
