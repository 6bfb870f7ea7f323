#![no_main]
//! What the session stores keep for connection state recovery (sessions
//! and logged packets, in Redis and NATS JetStream): a decoded record
//! encodes to bytes that decode to the same record.
use bytes::Bytes;
use smol_str::SmolStr;
use switchyard_cluster::session_store::{
    decode_packet, decode_session, encode_packet, encode_session,
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let ns = SmolStr::new_static("/");
    if let Ok(packet) = decode_packet(data, &ns) {
        let first: Bytes = encode_packet(&packet);
        let again = decode_packet(&first, &ns).expect("an encoded packet decodes");
        assert_eq!(encode_packet(&again), first, "packet record round trip");
    }
    if let Ok(session) = decode_session(data) {
        let first: Bytes = encode_session(&session);
        let again = decode_session(&first).expect("an encoded session decodes");
        assert_eq!(encode_session(&again), first, "session record round trip");
    }
});
