//! permessage-deflate (RFC 7692): negotiation, and compression of messages
//! with no context takeover in either direction.
//!
//! The server always answers with `server_no_context_takeover` and
//! `client_no_context_takeover` (both are the server's to set, §7.1.1):
//! every message is compressed on its own. So a connection keeps no
//! compressor or inflater between messages — idle connections cost nothing
//! more — and one compressed broadcast frame serves every recipient: each
//! worker thread compresses a frame once and keeps the result for the
//! other recipients it writes to.
//!
//! Inflating is bounded: a message that inflates past the message limit
//! fails as too big (close 1009) as soon as the limit is passed, without
//! inflating the rest.

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use http::HeaderMap;
use std::cell::RefCell;
use std::collections::VecDeque;

/// What ends every deflated message, left out on the wire (§7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Frames kept compressed per thread for the other recipients of a broadcast.
const CACHE_ENTRIES: usize = 16;
/// Frames larger than this are compressed per recipient, not kept (the
/// cache holds at most its entries times this, per thread).
const CACHE_MAX_FRAME: usize = 64 * 1024;

/// Settings of permessage-deflate (`EngineConfig::per_message_deflate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerMessageDeflate {
    /// Messages smaller than this go uncompressed. Default 1,024 bytes, as
    /// Node's `perMessageDeflate.threshold`.
    pub threshold: usize,
    /// zlib compression level, 0–9. Default 6, as Node's `ws`: a broadcast
    /// is compressed once for all its recipients, so the level costs little
    /// on fan-outs; every unicast message pays it.
    pub level: u32,
}

impl Default for PerMessageDeflate {
    fn default() -> Self {
        PerMessageDeflate {
            threshold: 1024,
            level: 6,
        }
    }
}

/// What a connection agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Agreed {
    /// The server's LZ77 window, as base-2 logarithm (9–15).
    pub window_bits: u8,
    pub threshold: usize,
    pub level: u32,
}

/// Picks the first acceptable permessage-deflate offer of the request's
/// `Sec-WebSocket-Extensions`; returns what was agreed and the header value
/// that answers it. `None`: no offer, or none acceptable (the connection
/// goes on uncompressed).
pub(crate) fn negotiate(
    headers: &HeaderMap,
    config: &PerMessageDeflate,
) -> Option<(Agreed, String)> {
    let offers = headers
        .get_all(http::header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for offer in offers {
        let mut parts = offer.split(';').map(str::trim);
        if parts.next() != Some("permessage-deflate") {
            continue;
        }
        if let Some(window_bits) = acceptable(parts) {
            let mut answer = String::from(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            );
            if let Some(bits) = window_bits {
                answer.push_str(&format!("; server_max_window_bits={bits}"));
            }
            let agreed = Agreed {
                window_bits: window_bits.unwrap_or(15),
                threshold: config.threshold,
                level: config.level.min(9),
            };
            return Some((agreed, answer));
        }
    }
    None
}

/// The server window an offer's parameters allow (`Some(None)`: any), or
/// `None` when the offer cannot be accepted: unknown or repeated
/// parameters, bad values, or a window of 8 bits, which zlib does not do.
fn acceptable<'a>(params: impl Iterator<Item = &'a str>) -> Option<Option<u8>> {
    let mut seen: Vec<&str> = Vec::new();
    let mut server_bits = None;
    for param in params.filter(|p| !p.is_empty()) {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (param, None),
        };
        if seen.contains(&name) {
            return None;
        }
        seen.push(name);
        let bits = |value: Option<&str>| {
            value
                .filter(|v| v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u8>().ok())
                .filter(|b| (8..=15).contains(b))
        };
        match (name, value) {
            ("server_no_context_takeover" | "client_no_context_takeover", None) => {}
            ("client_max_window_bits", None) => {}
            ("client_max_window_bits", Some(_)) => {
                bits(value)?;
            }
            ("server_max_window_bits", Some(_)) => {
                let b = bits(value)?;
                if b < 9 {
                    return None;
                }
                server_bits = Some(b);
            }
            _ => return None,
        }
    }
    Some(server_bits)
}

struct Cached {
    original: Bytes,
    window_bits: u8,
    level: u32,
    /// `None`: compressing did not make it smaller; it goes as it is.
    compressed: Option<Bytes>,
}

thread_local! {
    /// One compressor per thread and window, reset for every message.
    static COMPRESSORS: RefCell<Vec<(u8, u32, Compress)>> = const { RefCell::new(Vec::new()) };
    static INFLATER: RefCell<Option<Decompress>> = const { RefCell::new(None) };
    /// Recently compressed frames. Holding the original keeps its buffer
    /// alive, so a frame sharing its address and length is the same frame.
    static CACHE: RefCell<VecDeque<Cached>> = const { RefCell::new(VecDeque::new()) };
}

/// The message as it goes on the wire: deflated (with RSV1 set) when it is
/// at least the threshold long and compressing makes it smaller.
pub(crate) fn compress(data: &Bytes, agreed: &Agreed) -> Option<Bytes> {
    if data.len() < agreed.threshold {
        return None;
    }
    let same = |c: &Cached| {
        c.window_bits == agreed.window_bits
            && c.level == agreed.level
            && c.original.len() == data.len()
            && c.original.as_ptr() == data.as_ptr()
    };
    if let Some(hit) = CACHE.with(|cache| {
        cache
            .borrow()
            .iter()
            .find(|c| same(c))
            .map(|c| c.compressed.clone())
    }) {
        return hit;
    }
    let compressed = deflate(data, agreed);
    // Only a frame others hold too (a broadcast's) is worth keeping: a
    // unicast frame would push broadcasts out.
    if data.len() <= CACHE_MAX_FRAME && !data.is_unique() {
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.len() == CACHE_ENTRIES {
                cache.pop_front();
            }
            cache.push_back(Cached {
                original: data.clone(),
                window_bits: agreed.window_bits,
                level: agreed.level,
                compressed: compressed.clone(),
            });
        });
    }
    compressed
}

fn deflate(data: &[u8], agreed: &Agreed) -> Option<Bytes> {
    COMPRESSORS.with(|compressors| {
        let mut compressors = compressors.borrow_mut();
        let index = match compressors
            .iter()
            .position(|(bits, level, _)| *bits == agreed.window_bits && *level == agreed.level)
        {
            Some(index) => index,
            None => {
                let compressor = Compress::new_with_window_bits(
                    Compression::new(agreed.level),
                    false,
                    agreed.window_bits,
                );
                compressors.push((agreed.window_bits, agreed.level, compressor));
                compressors.len() - 1
            }
        };
        let compressor = &mut compressors[index].2;
        compressor.reset();
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        loop {
            let consumed = compressor.total_in() as usize;
            let input = data.get(consumed..).unwrap_or_default();
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(64));
            }
            compressor
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .ok()?;
            // Done once all input is in and the sync flush fit.
            if compressor.total_in() as usize == data.len() && out.len() < out.capacity() {
                break;
            }
            if out.len() > data.len() + 64 {
                return None;
            }
        }
        if !out.ends_with(&TAIL) {
            return None;
        }
        out.truncate(out.len() - TAIL.len());
        (out.len() < data.len()).then(|| Bytes::from(out))
    })
}

/// Why a compressed message could not be inflated.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// It inflates past the limit.
    TooBig,
    /// It is not valid deflate data.
    Corrupt,
}

/// Inflates one message (no context takeover: from an empty window), at
/// most `max` bytes of it.
pub(crate) fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
    INFLATER.with(|inflater| {
        let mut inflater = inflater.borrow_mut();
        let inflater = inflater.get_or_insert_with(|| Decompress::new_with_window_bits(false, 15));
        inflater.reset(false);
        let mut out = Vec::with_capacity(data.len().saturating_mul(2).clamp(64, max.max(64)));
        for (input, flush) in [
            (data, FlushDecompress::None),
            (&TAIL[..], FlushDecompress::Sync),
        ] {
            let start = inflater.total_in();
            loop {
                if out.len() == out.capacity() {
                    // Room up to one byte past the limit: a message of
                    // exactly the limit fits, one byte more is too big.
                    if out.len() > max {
                        return Err(InflateError::TooBig);
                    }
                    out.reserve_exact((max + 1 - out.len()).min(out.capacity().max(64)));
                }
                let consumed = (inflater.total_in() - start) as usize;
                let rest = input.get(consumed..).unwrap_or_default();
                let before = (inflater.total_in(), inflater.total_out());
                let status = inflater
                    .decompress_vec(rest, &mut out, flush)
                    .map_err(|_| InflateError::Corrupt)?;
                if out.len() > max {
                    return Err(InflateError::TooBig);
                }
                if status == Status::StreamEnd {
                    return Ok(out);
                }
                let all_in = (inflater.total_in() - start) as usize == input.len();
                let room = out.len() < out.capacity();
                if all_in && room {
                    // Everything this input holds came out.
                    break;
                }
                if room && before == (inflater.total_in(), inflater.total_out()) {
                    // Input left, room left, and no progress.
                    return Err(InflateError::Corrupt);
                }
            }
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests;
