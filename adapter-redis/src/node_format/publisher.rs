//! Who published a message in Node's format, read without decoding it: the
//! uid opening a broadcast `[uid, packet, opts]`, the `uid` of a request
//! (the emitters' uid when it has none, as decoding reads it), the sender
//! of a Switchyard-only message. Responses do not say who sent them.

use super::NodeFormat;
use std::borrow::Cow;
use switchyard_cluster::Delivery;
use switchyard_cluster::format::peek;
use switchyard_cluster::message::EMITTER_UID;

/// The uid of a JSON request, everything else skipped.
#[derive(serde::Deserialize)]
struct JsonSender<'a> {
    #[serde(borrow, default)]
    uid: Option<Cow<'a, str>>,
}

impl NodeFormat {
    /// See [`WireFormat::publisher`](switchyard_cluster::WireFormat::publisher).
    pub(super) fn publisher_of<'a>(&self, delivery: &'a Delivery) -> Option<Cow<'a, str>> {
        let rest = delivery.channel.strip_prefix(self.prefix.as_str())?;
        let payload = &delivery.payload[..];
        if rest.starts_with("-switchyard#") {
            return peek::map_str(payload, "uid").ok()?.map(Cow::Borrowed);
        }
        if rest.starts_with("-request#") {
            return request_sender(payload);
        }
        if rest.starts_with('#') {
            return peek::array_first_str(payload).map(Cow::Borrowed);
        }
        // Responses, and channels decoding refuses.
        None
    }
}

/// The uid of a request: JSON, or a MessagePack map (acknowledged
/// broadcasts); emitters send none.
fn request_sender(payload: &[u8]) -> Option<Cow<'_, str>> {
    let uid = if payload.first() == Some(&b'{') {
        serde_json::from_slice::<JsonSender<'_>>(payload).ok()?.uid
    } else {
        peek::map_str(payload, "uid").ok()?.map(Cow::Borrowed)
    };
    Some(uid.unwrap_or(Cow::Borrowed(EMITTER_UID)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node_format::channel_name;
    use bytes::Bytes;
    use switchyard_cluster::message::{Body, ClusterMessage};
    use switchyard_cluster::{Channel, Destination, WireFormat};
    use switchyard_core::BroadcastOptions;
    use switchyard_core::protocol::Packet;

    fn delivery(channel: String, payload: impl Into<Bytes>) -> Delivery {
        Delivery {
            channel,
            payload: payload.into(),
        }
    }

    fn message(body: Body) -> ClusterMessage {
        ClusterMessage {
            uid: "0123456789abcdef".into(),
            nsp: "/chat".into(),
            body,
        }
    }

    /// Every message this node's format writes, and decodes, peeks as its sender.
    #[test]
    fn peeks_the_uid_decoding_reads() {
        let format = NodeFormat::new("socket.io", false);
        let broadcast = |request_id| Body::Broadcast {
            packet: Packet::event("/chat", "e", vec![1.into()]),
            opts: BroadcastOptions::default(),
            request_id,
        };
        let room = "r1".into();
        for (body, to) in [
            (broadcast(None), Destination::Room(&room)),
            (broadcast(None), Destination::Everyone),
            (broadcast(Some("7".into())), Destination::Everyone),
            (
                Body::FetchSockets {
                    opts: BroadcastOptions::default(),
                    request_id: "8".into(),
                },
                Destination::Everyone,
            ),
            (Body::Heartbeat, Destination::Everyone),
        ] {
            let (channel, bytes) = format.encode(&message(body), to).unwrap();
            let delivery = delivery(channel_name("socket.io", &channel), bytes);
            let decoded = format.decode(&delivery).unwrap();
            let peeked = format.publisher(&delivery);
            assert_eq!(peeked.as_deref(), Some(decoded.uid.as_str()), "{channel:?}");
        }
    }

    #[test]
    fn emitters_are_one_publisher_and_responses_none() {
        let format = NodeFormat::new("socket.io", false);
        let request = channel_name("socket.io", &Channel::Requests("/".into()));
        let from_emitter = delivery(
            request.clone(),
            &br#"{"type":2,"opts":{"rooms":["a"],"except":[]},"rooms":["b"]}"#[..],
        );
        assert_eq!(
            format.publisher(&from_emitter).as_deref(),
            Some(EMITTER_UID)
        );
        assert_eq!(format.decode(&from_emitter).unwrap().uid, EMITTER_UID);
        let escaped = delivery(
            request,
            &br#"{"uid":"a\u0062c","type":1,"requestId":"x"}"#[..],
        );
        assert_eq!(format.publisher(&escaped).as_deref(), Some("abc"));
        let response = channel_name("socket.io", &Channel::Responses("/".into()));
        let answer = delivery(response, &br#"{"type":1,"requestId":"x","rooms":[]}"#[..]);
        assert_eq!(format.publisher(&answer), None);
        let foreign = delivery("other#/#".into(), &b"\x93\xa1a\x80\x80"[..]);
        assert_eq!(format.publisher(&foreign), None);
        let garbage = delivery("socket.io#/#".into(), &b"not msgpack"[..]);
        assert_eq!(format.publisher(&garbage), None);
    }
}
