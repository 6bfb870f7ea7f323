//! The parts of a broadcast that Switchyard's format and Node's formats
//! share, read straight from MessagePack: an EVENT packet and its
//! targeting. Each reader returns `None` as soon as the bytes leave the
//! shape it reads (another kind, `undefined`, a key that is no string…);
//! the caller then decodes through a `Value` tree, which decides. So these
//! never accept what the `Value` path rejects: within their shape they
//! follow its rules (the last of duplicate keys wins, unknown keys are
//! checked and ignored), and everything else is the `Value` path's to read.

use crate::message::ClusterMessage;
use smol_str::SmolStr;
use std::time::Duration;
use switchyard_core::protocol::{Packet, PacketKind};
use switchyard_core::value::msgpack::{Kind, Reader};
use switchyard_core::{BroadcastFlags, BroadcastOptions, Room, Value};

impl ClusterMessage {
    /// Reads an EVENT packet `{type: 2 | 5, data: [name, ...args], nsp?,
    /// id?}` as [`packet_from_value`](crate::message::packet_from_value)
    /// would, its namespace being its own `nsp` (`/` when absent, as Node
    /// reads it). `None` when the packet is not in that shape: decode it
    /// through a `Value` instead.
    pub fn read_event(reader: &mut Reader<'_>) -> Option<Packet> {
        let len = reader.map_len().ok()?;
        let (mut event_type, mut event, mut nsp, mut id) = (None, None, None, None);
        for _ in 0..len {
            match reader.str().ok()? {
                "type" => event_type = Some(reader.uint().ok()?),
                "data" => event = Some(event_data(reader)?),
                "nsp" => nsp = Some(SmolStr::new(reader.str().ok()?)),
                // Any value: an id that is no integer is no ack.
                "id" => {
                    if let Some(value) = reader.value().ok()? {
                        id = Some(value);
                    }
                }
                _ => reader.skip().ok()?,
            }
        }
        if !matches!(event_type, Some(2 | 5)) {
            return None;
        }
        let (name, args) = event?;
        Some(Packet {
            ns: nsp.unwrap_or_else(|| SmolStr::new_static("/")),
            kind: PacketKind::Event {
                name,
                args,
                ack: id.as_ref().and_then(Value::as_u64),
            },
        })
    }

    /// Reads targeting `{rooms?, except?, flags?}` as `from_value` reads
    /// [`BroadcastOptions`], and the text or `nil` under `extra` when named
    /// (Node's format carries a recoverable broadcast's offset there).
    /// `None` when the options are not in that shape: decode them through
    /// a `Value` instead.
    pub fn read_opts(
        reader: &mut Reader<'_>,
        extra: Option<&str>,
    ) -> Option<(BroadcastOptions, Option<SmolStr>)> {
        let len = reader.map_len().ok()?;
        let (mut opts, mut extra_text) = (BroadcastOptions::default(), None);
        for _ in 0..len {
            match reader.str().ok()? {
                "rooms" => opts.rooms = rooms(reader)?,
                "except" => opts.except = rooms(reader)?,
                "flags" => opts.flags = flags(reader)?,
                key if Some(key) == extra => extra_text = text_or_nil(reader)?,
                _ => reader.skip().ok()?,
            }
        }
        Some((opts, extra_text))
    }
}

/// An event's `data`: its name (text, or a number as JavaScript prints
/// it) and arguments, `undefined` ones becoming `null`.
fn event_data(reader: &mut Reader<'_>) -> Option<(String, Vec<Value>)> {
    let len = reader.array_len().ok()?;
    if len == 0 {
        return None;
    }
    let name = match reader.peek().ok()? {
        Kind::Str => reader.str().ok()?.to_owned(),
        Kind::Int | Kind::Float => match reader.value().ok()? {
            Some(Value::Number(n)) => n.to_string(),
            _ => return None,
        },
        _ => return None,
    };
    let mut args = Vec::with_capacity(len - 1);
    for _ in 1..len {
        args.push(reader.value().ok()?.unwrap_or(Value::Null));
    }
    Some((name, args))
}

/// A text, or `nil` for none.
pub(super) fn text_or_nil(reader: &mut Reader<'_>) -> Option<Option<SmolStr>> {
    match reader.peek().ok()? {
        Kind::Str => Some(Some(SmolStr::new(reader.str().ok()?))),
        Kind::Nil => reader.nil().ok().map(|()| None),
        _ => None,
    }
}

/// An array of room names.
fn rooms(reader: &mut Reader<'_>) -> Option<Vec<Room>> {
    let len = reader.array_len().ok()?;
    let mut rooms = Vec::with_capacity(len);
    for _ in 0..len {
        rooms.push(Room::new(reader.str().ok()?));
    }
    Some(rooms)
}

/// `{local?, volatile?, compress?, timeout?}`, as serde reads
/// [`BroadcastFlags`]: booleans, `compress` also `nil`, and `timeout` a
/// number of milliseconds, none when `nil`, negative or not finite.
fn flags(reader: &mut Reader<'_>) -> Option<BroadcastFlags> {
    let len = reader.map_len().ok()?;
    let mut flags = BroadcastFlags::default();
    for _ in 0..len {
        match reader.str().ok()? {
            "local" => flags.local = reader.bool().ok()?,
            "volatile" => flags.volatile = reader.bool().ok()?,
            "compress" => {
                flags.compress = match reader.peek().ok()? {
                    Kind::Nil => reader.nil().ok().map(|()| None)?,
                    _ => Some(reader.bool().ok()?),
                }
            }
            "timeout" => {
                flags.timeout = match reader.peek().ok()? {
                    Kind::Nil => reader.nil().ok().map(|()| None)?,
                    Kind::Int | Kind::Float => match reader.value().ok()? {
                        Some(Value::Number(n)) => Some(n.as_f64())
                            .filter(|ms| ms.is_finite() && *ms >= 0.0)
                            .map(|ms| Duration::from_millis(ms as u64)),
                        _ => return None,
                    },
                    _ => return None,
                }
            }
            _ => reader.skip().ok()?,
        }
    }
    Some(flags)
}
