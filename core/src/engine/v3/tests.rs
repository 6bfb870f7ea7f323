//! Tests of the Engine.IO v3 codec.

use super::*;

fn text(s: &str) -> Frame {
    Frame::Text(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn text_payloads_count_utf16_units() {
    let frames = [text("4héllo"), text("4😀"), text("3")];
    let (payload, binary) = encode_payload(&frames, true);
    assert!(!binary);
    assert_eq!(&payload[..], "6:4héllo3:4😀1:3".as_bytes());
    let packets = decode_text_payload(std::str::from_utf8(&payload).unwrap());
    assert_eq!(
        packets,
        [
            Ok(Incoming::Message(Message::Text("héllo".into()))),
            Ok(Incoming::Message(Message::Text("😀".into()))),
            Ok(Incoming::Pong),
        ]
    );
}

#[test]
fn binary_messages_are_base64_in_text_payloads() {
    let frames = [
        text("451-[\"b\"]"),
        Frame::Binary(Bytes::from_static(&[1, 2, 3])),
    ];
    let (payload, binary) = encode_payload(&frames, false);
    assert!(!binary);
    assert_eq!(&payload[..], b"9:451-[\"b\"]6:b4AQID");
    let packets = decode_text_payload(std::str::from_utf8(&payload).unwrap());
    assert_eq!(
        packets[1],
        Ok(Incoming::Message(Message::Binary(Bytes::from_static(&[
            1, 2, 3
        ]))))
    );
}

#[test]
fn binary_payloads_round_trip() {
    let frames = [text("4é"), Frame::Binary(Bytes::from_static(&[9; 12]))];
    let (payload, binary) = encode_payload(&frames, true);
    assert!(binary);
    let mut expected = vec![0, 3, 255, b'4', 0xc3, 0xa9, 1, 1, 3, 255, 4];
    expected.extend([9; 12]);
    assert_eq!(&payload[..], &expected[..]);
    let packets = decode_binary_payload(&payload);
    assert_eq!(
        packets,
        [
            Ok(Incoming::Message(Message::Text("é".into()))),
            Ok(Incoming::Message(Message::Binary(Bytes::from_static(
                &[9; 12]
            )))),
        ]
    );
}

#[test]
fn malformed_payloads_are_refused_without_allocating_their_lengths() {
    let ends_badly =
        |packets: Vec<Result<Incoming, PayloadError>>| packets.last().is_some_and(Result::is_err);
    assert_eq!(
        decode_text_payload("0:1:3"),
        [Ok(Incoming::Pong)],
        "an empty packet is skipped"
    );
    for body in [
        "",
        "4",
        "x:4a",
        "5:4a",
        "99999999999999999999:4",
        "2:4a2",
        "3:b5AA",
    ] {
        assert!(ends_badly(decode_text_payload(body)), "{body:?}");
    }
    // The packets before a malformed one are kept.
    assert_eq!(
        decode_text_payload("2:4a2"),
        [
            Ok(Incoming::Message(Message::Text("a".into()))),
            Err(PayloadError::Length)
        ]
    );
    let huge = Bytes::from_static(&[0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 255, b'4']);
    assert_eq!(decode_binary_payload(&huge), [Err(PayloadError::Truncated)]);
    for body in [
        &[][..],
        &[0, 255, b'4'],
        &[0, 1],
        &[2, 1, 255, b'4'],
        &[0, 10, 255, b'4'],
        &[1, 1, 255, 3],
        &[0, 2, 255, 0xff, 0xfe],
        &[0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 255],
    ] {
        assert!(
            ends_badly(decode_binary_payload(&Bytes::copy_from_slice(body))),
            "{body:?}"
        );
    }
}
