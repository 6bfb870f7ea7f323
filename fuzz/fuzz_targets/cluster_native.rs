#![no_main]
//! Switchyard's cluster messages (MessagePack) as a broker delivers them:
//! a decoded message encodes, and that encoding decodes to the same message
//! and encodes to the same bytes.
use bytes::Bytes;
use switchyard_cluster::message::ClusterMessage;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(message) = ClusterMessage::decode(&Bytes::copy_from_slice(data)) else {
        return;
    };
    let first = message.encode();
    let again = ClusterMessage::decode(&first).expect("an encoded message decodes");
    assert_eq!(again.encode(), first, "encode, decode, encode");
});
