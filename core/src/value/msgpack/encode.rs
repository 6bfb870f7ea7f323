//! Writing a `Value` as notepack writes it: the smallest integer format
//! that holds a number, float64 otherwise, and the fix forms of lengths.

use crate::value::tree::Value;

/// Appends `value` to `out`.
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => match n.integral() {
            Some(i) if i >= 0 => write_uint(out, i as u64),
            Some(i) => write_int(out, i as i64),
            None => {
                out.push(0xcb);
                out.extend_from_slice(&n.as_f64().to_be_bytes());
            }
        },
        Value::String(s) => write_str(out, s),
        Value::Binary(b) => {
            write_len(out, b.len(), [0xc4, 0xc5, 0xc6], None);
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            write_array_len(out, items.len());
            for item in items {
                write_value(out, item);
            }
        }
        Value::Object(entries) => {
            write_map_len(out, entries.len());
            for (key, item) in entries {
                write_str(out, key);
                write_value(out, item);
            }
        }
    }
}

/// Appends a string.
#[inline]
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_len(out, s.len(), [0xd9, 0xda, 0xdb], Some((0xa0, 32)));
    out.extend_from_slice(s.as_bytes());
}

/// Appends an array header.
#[inline]
pub fn write_array_len(out: &mut Vec<u8>, len: usize) {
    write_len(out, len, [0xdc, 0xdc, 0xdd], Some((0x90, 16)));
}

/// Appends a map header.
#[inline]
pub fn write_map_len(out: &mut Vec<u8>, len: usize) {
    write_len(out, len, [0xde, 0xde, 0xdf], Some((0x80, 16)));
}

/// Writes a length with the fix form when it fits, else 8/16/32-bit forms
/// (`formats` = [8-bit, 16-bit, 32-bit] markers; arrays and maps have no
/// 8-bit form, so their first marker repeats the 16-bit one).
#[inline]
fn write_len(out: &mut Vec<u8>, len: usize, formats: [u8; 3], fix: Option<(u8, usize)>) {
    match fix {
        Some((marker, limit)) if len < limit => out.push(marker | len as u8),
        _ if len < 0x100 && formats[0] != formats[1] => {
            out.extend_from_slice(&[formats[0], len as u8])
        }
        _ if len < 0x10000 => {
            out.push(formats[1]);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(formats[2]);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

/// Appends a non-negative integer in its smallest format.
#[inline]
pub fn write_uint(out: &mut Vec<u8>, n: u64) {
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0xcc, n as u8]);
    } else if n < 0x10000 {
        out.push(0xcd);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n < 0x1_0000_0000 {
        out.push(0xce);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn write_int(out: &mut Vec<u8>, n: i64) {
    if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -(1 << 31) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}
