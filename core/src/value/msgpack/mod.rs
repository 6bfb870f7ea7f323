//! `Value` as MessagePack, laid out as `notepack.io` (the codec of
//! `socket.io-msgpack-parser`) writes and reads it.
//!
//! notepack's conventions: integral numbers use the smallest integer format,
//! other numbers float64; `Buffer` is `bin`; `ArrayBuffer` is ext type 0;
//! `undefined` is fixext1 type 0. Dates (fixext8 type 0 in milliseconds from
//! notepack 2, the timestamp extension −1 from notepack 3) become the ISO
//! strings `JSON.stringify` would make of them.
//!
//! The writing functions and the [`Reader`] are public, for codecs that
//! stream an envelope around values without building a `Value` tree of the
//! whole document (cluster broadcasts).

mod decode;
mod encode;
mod open;
mod reader;
mod skip;

pub(crate) use decode::decode;
pub use decode::{DEFAULT_MAX_ELEMENTS, DecodeError};
pub use encode::{write_array_len, write_map_len, write_str, write_uint, write_value};
pub use reader::{Kind, Reader};

#[cfg(test)]
mod reader_tests;
#[cfg(test)]
mod tests;
