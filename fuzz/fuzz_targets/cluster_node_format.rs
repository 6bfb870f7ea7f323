#![no_main]
//! Node's `@socket.io/redis-adapter` messages on each of its channels (the
//! first byte picks the channel): decoding never panics, and what decodes
//! can be sent again.
use bytes::Bytes;
use switchyard_cluster::broker::Delivery;
use switchyard_cluster::format::{Destination, WireFormat};
use switchyard_redis::NodeFormat;

const CHANNELS: [&str; 5] = [
    "socket.io#/#",
    "socket.io#/#room#",
    "socket.io-request#/#",
    "socket.io-response#/#",
    "socket.io-switchyard#/#",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    let format = NodeFormat::new("socket.io", pick & 0x80 != 0);
    let delivery = Delivery {
        channel: CHANNELS[usize::from(pick) % CHANNELS.len()].into(),
        payload: Bytes::copy_from_slice(payload),
    };
    if let Ok(message) = format.decode(&delivery) {
        let _ = format.encode(&message, Destination::Everyone);
    }
});
