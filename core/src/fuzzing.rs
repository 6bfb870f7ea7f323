//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, never
//! in a release build): each decoder that reads bytes from the network,
//! driven with arbitrary input, checking the properties it must keep. A
//! panic or a failed check is a finding; crashes found become regression
//! tests in the normal suite (`core/tests/fuzz_regressions.rs`).

use crate::engine::ws::frame::{Decoder, WsEvent};
use crate::engine::{Frame, FrameView, Message, decode_polling_payload, encode_polling_payload};
use crate::protocol::{DecodeLimits, Decoded, Parser};
use bytes::Bytes;

/// A long-polling payload as a client POSTs it: decoded, encoded again
/// and decoded again, the messages are the same.
pub fn polling_payload(input: &[u8]) {
    let Ok(body) = std::str::from_utf8(input) else {
        return;
    };
    let Ok(messages) = decode_polling_payload(body) else {
        return;
    };
    if messages.is_empty() {
        // Control packets only: nothing to send again.
        return;
    }
    let frames = frames_of(&messages);
    let encoded = encode_polling_payload(&frames);
    let again = std::str::from_utf8(&encoded).expect("an encoded payload is UTF-8");
    let decoded = decode_polling_payload(again).expect("an encoded payload decodes");
    // Control packets are left out of the messages: only those compare.
    assert_eq!(decoded, messages, "payload round trip");
}

/// A v3 long-polling payload (Socket.IO v2 clients), read as a text and as
/// a binary payload: its messages, encoded again in either framing, decode
/// to the same messages.
pub fn polling_payload_v3(input: &[u8]) {
    use crate::engine::v3;
    v3_round_trip(v3::decode_binary_payload(&Bytes::copy_from_slice(input)));
    if let Ok(text) = std::str::from_utf8(input) {
        v3_round_trip(v3::decode_text_payload(text));
    }
}

fn v3_round_trip<E: std::fmt::Debug>(packets: Vec<Result<crate::engine::packet::Incoming, E>>) {
    use crate::engine::packet::Incoming;
    use crate::engine::v3;
    let messages: Vec<Message> = packets
        .into_iter()
        .filter_map(|p| match p {
            Ok(Incoming::Message(m)) => Some(m),
            _ => None,
        })
        .collect();
    if messages.is_empty() {
        return;
    }
    let frames = frames_of(&messages);
    for takes_binary in [false, true] {
        let (encoded, binary) = v3::encode_payload(&frames, takes_binary);
        let again = if binary {
            v3::decode_binary_payload(&encoded)
        } else {
            let text = std::str::from_utf8(&encoded).expect("a text payload is UTF-8");
            v3::decode_text_payload(text)
        };
        let again: Vec<Message> = again
            .into_iter()
            .map(|p| match p {
                Ok(Incoming::Message(m)) => m,
                other => panic!("an encoded payload decodes to messages: {other:?}"),
            })
            .collect();
        assert_eq!(again, messages, "v3 payload round trip (binary: {binary})");
    }
}

/// The frames that send `messages` again.
fn frames_of(messages: &[Message]) -> Vec<Frame> {
    messages
        .iter()
        .map(|m| match m {
            Message::Text(text) => Frame::message(text),
            Message::Binary(bytes) => Frame::Binary(bytes.clone()),
        })
        .collect()
}

/// Client WebSocket frames, fed as they arrive in one read: every step
/// consumes what it says it does, and a fragmented message never holds
/// more than the message limit.
pub fn ws_frames(input: &[u8]) {
    let max_message = 1 << 16;
    // Without and with permessage-deflate (where a message may inflate).
    for mut decoder in [
        Decoder::new(max_message),
        Decoder::with_deflate(max_message),
    ] {
        let mut rest = input;
        while let Ok(Some((event, used))) = decoder.decode(rest) {
            assert!(
                used > 0 && used <= rest.len(),
                "consumed {used} of {}",
                rest.len()
            );
            assert!(
                decoder.buffered() <= max_message,
                "fragments past the limit"
            );
            let size = match &event {
                Some(WsEvent::Text(text)) => text.len(),
                Some(WsEvent::Binary(data)) => data.len(),
                _ => 0,
            };
            assert!(size <= max_message, "a message of {size} bytes");
            rest = &rest[used..];
        }
    }
}

/// A Socket.IO packet with the default parser (text, with the binary
/// attachments that follow it in `input` after a `0xff` byte): a decoded
/// packet encodes, and decoding that encoding gives the same bytes again.
pub fn socketio_json(input: &[u8]) {
    let mut parts = input.split(|b| *b == 0xff);
    let Some(Ok(text)) = parts.next().map(std::str::from_utf8) else {
        return;
    };
    let limits = DecodeLimits {
        max_elements: 10_000,
    };
    let packet = match Parser::Json.decode_text(text, limits) {
        Ok(Decoded::Packet(packet)) => packet,
        Ok(Decoded::NeedsAttachments(mut pending)) => {
            let mut done = None;
            for part in parts {
                if let Some(result) = pending.add(Bytes::copy_from_slice(part)) {
                    done = Some(result);
                    break;
                }
            }
            match done {
                Some(Ok(packet)) => packet,
                _ => return,
            }
        }
        Err(_) => return,
    };
    round_trip(Parser::Json, &packet, limits);
}

/// A Socket.IO packet with the msgpack parser: same property.
pub fn socketio_msgpack(input: &[u8]) {
    let limits = DecodeLimits {
        max_elements: 10_000,
    };
    if let Ok(packet) = Parser::MsgPack.decode_binary(Bytes::copy_from_slice(input), limits) {
        round_trip(Parser::MsgPack, &packet, limits);
    }
}

fn round_trip(parser: Parser, packet: &crate::protocol::Packet, limits: DecodeLimits) {
    let Ok(first) = parser.encode(packet) else {
        return;
    };
    let decoded = decode_frames(parser, first.frames(), limits).expect("an encoded packet decodes");
    let second = parser.encode(&decoded).expect("a decoded packet encodes");
    assert_eq!(first.frames(), second.frames(), "encode, decode, encode");
}

fn decode_frames(
    parser: Parser,
    frames: &[Frame],
    limits: DecodeLimits,
) -> Result<crate::protocol::Packet, String> {
    let (head, attachments) = frames.split_first().ok_or("no frame")?;
    let decoded = match head.view() {
        FrameView::Text(text) => {
            // An Engine.IO message packet: `4` and the Socket.IO packet.
            let text = text.strip_prefix(b"4").ok_or("not a message packet")?;
            let text = std::str::from_utf8(text).map_err(|e| e.to_string())?;
            parser
                .decode_text(text, limits)
                .map_err(|e| e.to_string())?
        }
        FrameView::Binary(bytes) => {
            return parser
                .decode_binary(bytes.clone(), limits)
                .map_err(|e| e.to_string());
        }
    };
    match decoded {
        Decoded::Packet(packet) => Ok(packet),
        Decoded::NeedsAttachments(mut pending) => {
            for frame in attachments {
                let FrameView::Binary(bytes) = frame.view() else {
                    return Err("a text attachment".into());
                };
                if let Some(result) = pending.add(bytes.clone()) {
                    return result.map_err(|e| e.to_string());
                }
            }
            Err("attachments missing".into())
        }
    }
}
