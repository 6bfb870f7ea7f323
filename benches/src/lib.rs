//! Shared inputs of the Switchyard benchmarks (`cargo bench -p switchyard-benches`).

use bytes::Bytes;
use switchyard_core::protocol::Packet;
use switchyard_core::{Value, object};

/// A chat-sized event: `["msg", {"room": "r1", "payload": "…100 bytes…", "ts": …}]`.
pub fn small_event() -> Packet {
    Packet::event(
        "/",
        "msg",
        vec![
            object! { "room" => "r1", "payload" => "x".repeat(100), "ts" => 1_732_500_000_000u64 },
        ],
    )
}

/// An event carrying two binary blobs nested in an object.
pub fn binary_event() -> Packet {
    Packet::event(
        "/",
        "upload",
        vec![object! {
            "name" => "photo.png",
            "chunks" => Value::Array(vec![Value::Binary(Bytes::from(vec![7u8; 4096])), Value::Binary(Bytes::from(vec![9u8; 1024]))]),
        }],
    )
}

/// In-process polling sessions on a server, for broadcast benchmarks: no
/// sockets, so the numbers are the server's own work per recipient.
pub mod sessions {
    use bytes::Bytes;
    use http::Request;
    use http_body_util::{BodyExt, Full};
    use switchyard_core::SocketIo;
    use tower_service::Service;

    /// Sends one request to the server's service; the answer's body.
    pub async fn request(io: &SocketIo, method: &str, uri: &str, body: &str) -> String {
        let mut service = io.service();
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .expect("a valid request");
        let Ok(response) = service.call(request).await;
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        String::from_utf8_lossy(&body).into_owned()
    }

    /// Opens `n` polling sessions connected to `/`; their polling URIs.
    pub async fn connect(io: &SocketIo, n: usize) -> Vec<String> {
        let mut uris = Vec::with_capacity(n);
        for _ in 0..n {
            let open = request(io, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
            let sid = open
                .split("\"sid\":\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("an open packet with a sid")
                .to_owned();
            let uri = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
            request(io, "POST", &uri, "40").await;
            request(io, "GET", &uri, "").await;
            uris.push(uri);
        }
        uris
    }

    /// Takes what is queued for every session (one GET each).
    pub async fn drain(io: &SocketIo, uris: &[String]) {
        for uri in uris {
            request(io, "GET", uri, "").await;
        }
    }
}
