//! Tests of RFC 6455 framing: client frames decoded, server frames encoded.

use super::*;

fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    out
}

fn decode_all(decoder: &mut Decoder, mut input: &[u8]) -> Result<Vec<WsEvent>, WsError> {
    let mut events = Vec::new();
    while let Some((event, used)) = decoder.decode(input)? {
        events.extend(event);
        input = &input[used..];
    }
    Ok(events)
}

#[test]
fn compressed_messages_are_inflated_when_agreed() {
    use super::super::deflate::{Agreed, compress};
    let agreed = Agreed {
        window_bits: 15,
        threshold: 0,
        level: 6,
    };
    let text = format!("42[\"chat\",\"{}\"]", "hello ".repeat(100));
    let z = compress(&Bytes::from(text.clone()), &agreed).unwrap();
    let deflating = || Decoder::with_deflate(1 << 20);
    let whole = client_frame(true, 0x40 | OP_TEXT, &z);
    assert_eq!(
        decode_all(&mut deflating(), &whole).unwrap(),
        [WsEvent::Text(text.clone())]
    );
    // Fragmented: RSV1 on the first frame only, a ping in between.
    let (a, b) = z.split_at(z.len() / 2);
    let mut input = client_frame(false, 0x40 | OP_TEXT, a);
    input.extend(client_frame(true, OP_PING, b"p"));
    input.extend(client_frame(true, OP_CONTINUATION, b));
    assert_eq!(
        decode_all(&mut deflating(), &input).unwrap(),
        [
            WsEvent::Ping(Bytes::from_static(b"p")),
            WsEvent::Text(text.clone())
        ]
    );
    // RSV1 without the extension, on a continuation, on a control frame.
    assert!(decode_all(&mut Decoder::new(1 << 20), &whole).is_err());
    let mut continuation = client_frame(false, OP_TEXT, b"4");
    continuation.extend(client_frame(true, 0x40 | OP_CONTINUATION, b"x"));
    assert!(decode_all(&mut deflating(), &continuation).is_err());
    assert!(decode_all(&mut deflating(), &client_frame(true, 0x40 | OP_PING, b"")).is_err());
    // Corrupt data; a message that inflates past the limit.
    assert_eq!(
        decode_all(
            &mut deflating(),
            &client_frame(true, 0x40 | OP_BINARY, &[0xff; 8])
        ),
        Err(WsError::Protocol("invalid compressed message"))
    );
    assert_eq!(
        decode_all(&mut Decoder::with_deflate(100), &whole),
        Err(WsError::TooBig(100))
    );
}

#[test]
fn decodes_messages_of_every_length_form() {
    for len in [0, 5, 125, 126, 65535, 65536, 200_000] {
        let payload = vec![b'a'; len];
        let frame = client_frame(true, OP_TEXT, &payload);
        let mut d = Decoder::new(1_000_000);
        // Every strict prefix is incomplete.
        for cut in [1, 2, frame.len() / 2, frame.len() - 1] {
            assert_eq!(
                d.decode(&frame[..cut.min(frame.len() - 1)]).unwrap(),
                None,
                "len {len} cut {cut}"
            );
        }
        let (event, used) = d.decode(&frame).unwrap().unwrap();
        assert_eq!(used, frame.len());
        assert_eq!(
            event,
            Some(WsEvent::Text(String::from_utf8(payload).unwrap()))
        );
    }
}

#[test]
fn joins_fragments_around_control_frames() {
    let mut input = client_frame(false, OP_BINARY, b"ab");
    input.extend(client_frame(true, OP_PING, b"hi"));
    input.extend(client_frame(false, OP_CONTINUATION, b"cd"));
    input.extend(client_frame(true, OP_CONTINUATION, b"e"));
    let events = decode_all(&mut Decoder::new(100), &input).unwrap();
    assert_eq!(
        events,
        vec![
            WsEvent::Ping(Bytes::from_static(b"hi")),
            WsEvent::Binary(Bytes::from_static(b"abcde"))
        ]
    );
}

#[test]
fn refuses_protocol_violations() {
    let unmasked = [0x81u8, 0x01, b'a'];
    assert_eq!(
        Decoder::new(100).decode(&unmasked),
        Err(WsError::Protocol("client frames must be masked"))
    );
    let mut rsv = client_frame(true, OP_TEXT, b"a");
    rsv[0] |= 0x40;
    assert!(matches!(
        Decoder::new(100).decode(&rsv),
        Err(WsError::Protocol(_))
    ));
    let bad_opcode = client_frame(true, 0x3, b"a");
    assert!(matches!(
        Decoder::new(100).decode(&bad_opcode),
        Err(WsError::Protocol(_))
    ));
    let long_ping = client_frame(true, OP_PING, &[0; 126]);
    assert!(matches!(
        Decoder::new(1000).decode(&long_ping),
        Err(WsError::Protocol(_))
    ));
    let stray = client_frame(true, OP_CONTINUATION, b"a");
    assert!(matches!(
        Decoder::new(100).decode(&stray),
        Err(WsError::Protocol(_))
    ));
    let mut nested = client_frame(false, OP_TEXT, b"a");
    nested.extend(client_frame(true, OP_TEXT, b"b"));
    assert!(decode_all(&mut Decoder::new(100), &nested).is_err());
    let bad_utf8 = client_frame(true, OP_TEXT, &[0xff, 0xfe]);
    assert_eq!(
        Decoder::new(100).decode(&bad_utf8),
        Err(WsError::InvalidUtf8)
    );
    let huge = [0x82u8, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0];
    assert!(Decoder::new(100).decode(&huge).is_err());
}

#[test]
fn limits_message_size_including_fragments() {
    let too_big = client_frame(true, OP_BINARY, &[0; 11]);
    assert_eq!(Decoder::new(10).decode(&too_big), Err(WsError::TooBig(10)));
    let mut parts = client_frame(false, OP_BINARY, &[0; 6]);
    parts.extend(client_frame(true, OP_CONTINUATION, &[0; 6]));
    assert_eq!(
        decode_all(&mut Decoder::new(10), &parts),
        Err(WsError::TooBig(10))
    );
    // The limit is checked from the header: a lying length is refused
    // before any payload arrives.
    let header_only = &client_frame(true, OP_BINARY, &[0; 70_000])[..10];
    assert_eq!(
        Decoder::new(1000).decode(header_only),
        Err(WsError::TooBig(1000))
    );
}

#[test]
fn reads_close_codes() {
    let close = client_frame(true, OP_CLOSE, &[0x03, 0xe8, b'b', b'y', b'e']);
    assert_eq!(
        decode_all(&mut Decoder::new(10), &close).unwrap(),
        vec![WsEvent::Close(Some(1000))]
    );
    let empty = client_frame(true, OP_CLOSE, &[]);
    assert_eq!(
        decode_all(&mut Decoder::new(10), &empty).unwrap(),
        vec![WsEvent::Close(None)]
    );
    let one = client_frame(true, OP_CLOSE, &[3]);
    assert!(Decoder::new(10).decode(&one).is_err());
}

#[test]
fn encodes_length_forms() {
    for (len, header) in [(5usize, 2usize), (126, 4), (65536, 10)] {
        let mut out = BytesMut::new();
        encode(&mut out, OP_TEXT, &vec![b'x'; len]);
        assert_eq!(out.len(), header + len);
        assert_eq!(out[0], 0x81);
    }
}
