//! Inputs the fuzz targets in `fuzz/` (scripts/fuzz.sh) found crashing or
//! failing their checks, kept in the stable suite: each goes through the
//! same entry point as its target. Run with `--features fuzzing` (the test
//! script does).
#![cfg(feature = "fuzzing")]

use switchyard_core::fuzzing;

#[test]
fn polling_payloads_of_control_packets_only() {
    // A ping with data: no message, so nothing to encode again.
    fuzzing::polling_payload(b"2\x0e");
    fuzzing::polling_payload(b"2probe\x1e3\x1e6");
}

#[test]
fn socketio_packets_round_trip_through_engine_frames() {
    // A DISCONNECT: its engine frame is `41`, whose `4` is Engine.IO's.
    fuzzing::socketio_json(b"1");
    fuzzing::socketio_json(b"2/chat,7[\"a\",{\"b\":[1,2.5,null,true]}]");
    fuzzing::socketio_json(b"51-[\"bin\",{\"_placeholder\":true,\"num\":0}]\xff\x01\x02");
}

#[test]
fn floats_read_from_json_are_the_closest_doubles() {
    // serde_json's default float parsing may land one ulp off
    // (3.333333333333334e65 read back printed 3.3333333333333342e65); with
    // `float_roundtrip` every float a client sends is read exactly, as V8
    // reads it.
    fuzzing::socketio_json(b"2[\"e\",3.333333333333334e+65]");
    let long = format!("2[{},{}]", "3".repeat(101), "3".repeat(66));
    fuzzing::socketio_json(long.as_bytes());
    for text in [
        "0.1",
        "2.2250738585072014e-308",
        "1.7976931348623157e308",
        "5e-324",
        "123456789.98765433",
    ] {
        fuzzing::socketio_json(format!("2[\"e\",{text}]").as_bytes());
    }
}

#[test]
fn websocket_frames_and_msgpack_seeds() {
    fuzzing::ws_frames(&[0x81, 0x85, 1, 2, 3, 4, 0x69, 0x67, 0x6f, 0x68, 0x6e]);
    fuzzing::ws_frames(&[0x01, 0x81, 0, 0, 0, 0, b'a', 0x80, 0x81, 0, 0, 0, 0, b'b']);
    fuzzing::socketio_msgpack(&[
        0x82, 0xa4, b't', b'y', b'p', b'e', 0x00, 0xa3, b'n', b's', b'p', 0xa1, b'/',
    ]);
}

#[test]
fn v3_payloads_round_trip_in_both_framings() {
    // The seeds of the v3 payload target, through its entry point.
    for seed in std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/seeds/polling_payload_v3"
    ))
    .unwrap()
    {
        fuzzing::polling_payload_v3(&std::fs::read(seed.unwrap().path()).unwrap());
    }
}
