#![no_main]
//! See `switchyard_core::fuzzing::ws_frames`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_core::fuzzing::ws_frames(data));
