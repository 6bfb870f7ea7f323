//! Socket.IO packet encoding and decoding, for both parsers.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use switchyard_benches::{binary_event, small_event};
use switchyard_core::engine::{Frame, FrameView};
use switchyard_core::protocol::{DecodeLimits, Decoded, Parser};

fn text_of(frame: &Frame) -> String {
    match frame.view() {
        FrameView::Text(b) => String::from_utf8(b[1..].to_vec()).unwrap_or_default(),
        FrameView::Binary(_) => String::new(),
    }
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    for (name, packet) in [("small", small_event()), ("binary", binary_event())] {
        group.bench_function(format!("json/{name}"), |b| {
            b.iter(|| Parser::Json.encode(black_box(&packet)))
        });
        group.bench_function(format!("msgpack/{name}"), |b| {
            b.iter(|| Parser::MsgPack.encode(black_box(&packet)))
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    let small = Parser::Json.encode(&small_event()).expect("encodable");
    let small_text = text_of(&small.frames()[0]);
    group.bench_function("json/small", |b| {
        b.iter(|| Parser::Json.decode_text(black_box(&small_text), DecodeLimits::default()))
    });

    let binary = Parser::Json.encode(&binary_event()).expect("encodable");
    let header = text_of(&binary.frames()[0]);
    let attachments: Vec<_> = binary.frames()[1..]
        .iter()
        .filter_map(|f| match f.view() {
            FrameView::Binary(b) => Some(b.clone()),
            FrameView::Text(_) => None,
        })
        .collect();
    group.bench_function("json/binary", |b| {
        b.iter(|| {
            let Ok(Decoded::NeedsAttachments(mut pending)) =
                Parser::Json.decode_text(black_box(&header), DecodeLimits::default())
            else {
                return None;
            };
            attachments.iter().find_map(|a| pending.add(a.clone()))
        })
    });

    for (name, packet) in [("small", small_event()), ("binary", binary_event())] {
        let encoded = Parser::MsgPack.encode(&packet).expect("encodable");
        let Frame::Binary(bytes) = encoded.frames()[0].clone() else {
            continue;
        };
        group.bench_function(format!("msgpack/{name}"), |b| {
            b.iter(|| {
                Parser::MsgPack.decode_binary(black_box(bytes.clone()), DecodeLimits::default())
            })
        });
    }
    group.finish();
}

/// Engine.IO long-polling payloads: three messages, one of them binary.
fn polling_payloads(c: &mut Criterion) {
    use switchyard_core::engine::{decode_polling_payload, encode_polling_payload};
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(3));
    let frames = [
        Frame::message(
            r#"2["msg",{"payload":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]"#,
        ),
        Frame::Binary(bytes::Bytes::from(vec![7u8; 1024])),
        Frame::message("2[\"ping\"]"),
    ];
    group.bench_function("polling/encode", |b| {
        b.iter(|| encode_polling_payload(black_box(&frames)))
    });
    let payload = encode_polling_payload(&frames);
    let text = String::from_utf8_lossy(&payload).into_owned();
    group.bench_function("polling/decode", |b| {
        b.iter(|| decode_polling_payload(black_box(&text)))
    });
    group.finish();
}

criterion_group!(benches, encode, decode, polling_payloads);
criterion_main!(benches);
