#![no_main]
//! See `switchyard_core::fuzzing::polling_payload_v3`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_core::fuzzing::polling_payload_v3(data));
