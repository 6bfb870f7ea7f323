//! Tests of permessage-deflate: negotiation, compression and bounded inflating.

use super::*;
use http::HeaderValue;

fn offer(value: &str) -> Option<(Agreed, String)> {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::SEC_WEBSOCKET_EXTENSIONS,
        HeaderValue::from_str(value).unwrap(),
    );
    negotiate(&headers, &PerMessageDeflate::default())
}

#[test]
fn negotiates_the_first_acceptable_offer() {
    let (agreed, answer) = offer("permessage-deflate; client_max_window_bits").unwrap();
    assert_eq!(agreed.window_bits, 15);
    assert_eq!(
        answer,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
    let (agreed, answer) = offer(
        "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=10; client_no_context_takeover",
    )
    .unwrap();
    assert_eq!(agreed.window_bits, 10);
    assert!(answer.ends_with("; server_max_window_bits=10"), "{answer}");
    for refused in [
        "x-webkit-deflate-frame",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; unknown",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
    ] {
        assert_eq!(offer(refused), None, "{refused}");
    }
    assert_eq!(
        negotiate(&HeaderMap::new(), &PerMessageDeflate::default()),
        None
    );
}

#[test]
fn messages_round_trip_and_small_or_incompressible_ones_stay_plain() {
    let agreed = Agreed {
        window_bits: 15,
        threshold: 1024,
        level: 1,
    };
    let text = Bytes::from("4[\"chat\",\"hello hello hello\"]".repeat(100));
    let compressed = compress(&text, &agreed).unwrap();
    assert!(compressed.len() < text.len() / 5, "{}", compressed.len());
    assert_eq!(inflate(&compressed, 1 << 20).unwrap(), text);
    // A frame held by one connection only is not kept; a shared one
    // (a broadcast's) is, and comes from the cache the next time.
    assert_ne!(
        compress(&text, &agreed).unwrap().as_ptr(),
        compressed.as_ptr()
    );
    let shared = text.clone();
    let first = compress(&text, &agreed).unwrap();
    assert_eq!(compress(&shared, &agreed).unwrap().as_ptr(), first.as_ptr());
    assert_eq!(compress(&Bytes::from("4short"), &agreed), None);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    assert_eq!(compress(&Bytes::from(noise), &agreed), None);
    // A small window still inflates with the client's default one.
    let small = Agreed {
        window_bits: 9,
        ..agreed
    };
    let wide = Bytes::from((0..20_000u32).map(|i| (i % 700) as u8).collect::<Vec<_>>());
    let compressed = compress(&wide, &small).unwrap();
    assert_eq!(inflate(&compressed, 1 << 20).unwrap(), wide);
}

#[test]
fn inflating_stops_at_the_limit() {
    let agreed = Agreed {
        window_bits: 15,
        threshold: 0,
        level: 9,
    };
    let bomb = compress(&Bytes::from(vec![b'a'; 10_000_000]), &agreed).unwrap();
    assert!(bomb.len() < 20_000, "{}", bomb.len());
    assert_eq!(inflate(&bomb, 1_000_000), Err(InflateError::TooBig));
    assert_eq!(
        inflate(&[0xff, 0xff, 0xff, 0xff], 1000),
        Err(InflateError::Corrupt)
    );
    assert_eq!(inflate(&[], 1000).unwrap(), Vec::<u8>::new());
    // Exactly the limit fits; one byte more does not.
    let exact = compress(&Bytes::from(vec![b'b'; 5000]), &agreed).unwrap();
    assert_eq!(inflate(&exact, 5000).unwrap().len(), 5000);
    assert_eq!(inflate(&exact, 4999), Err(InflateError::TooBig));
}
