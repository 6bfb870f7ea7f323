#![no_main]
//! See `switchyard_core::fuzzing::socketio_msgpack`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_core::fuzzing::socketio_msgpack(data));
