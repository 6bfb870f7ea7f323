//! Tests of what a WebSocket connection holds between writes.

use super::*;
use crate::engine::packet::Message;
use crate::engine::request::RequestInfo;
use crate::engine::session::TransportKind;
use crate::engine::{Engine, EngineConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Echoes every message.
struct Echo;

impl EngineHandler for Echo {
    type Data = ();
    fn on_open(&self, _: &Arc<Session<Self>>) {}
    fn on_message(&self, session: &Arc<Session<Self>>, message: Message) {
        if let Message::Text(text) = message {
            session.push(&[Frame::message(&text)], false);
        }
    }
    fn on_close(&self, _: &Arc<Session<Self>>, _: CloseReason) {}
}

/// A connection over an in-memory pipe of `pipe` bytes, its session just
/// opened (the open packet queued), and the client's end.
fn connection(pipe: usize) -> (Conn<Echo, DuplexStream>, DuplexStream) {
    let engine = Engine::new(EngineConfig::default(), Echo);
    let parts = http::Request::new(()).into_parts().0;
    let info = Arc::new(RequestInfo::from_parts(&parts, Vec::new()));
    let session = engine.open(engine.new_sid(), info, TransportKind::WebSocket);
    let (server, client) = tokio::io::duplex(pipe);
    let link = Link {
        takes_binary: false,
        deflate: None,
    };
    let conn = run(server, session, Mode::Open, Duration::from_secs(1), link);
    (conn, client)
}

/// Polls the connection once.
async fn poll_once(conn: &mut Conn<Echo, DuplexStream>) {
    std::future::poll_fn(|cx| {
        let _ = Pin::new(&mut *conn).poll(cx);
        Poll::Ready(())
    })
    .await;
}

/// The frames written to the client: their payloads, as text.
async fn read_frames(client: &mut DuplexStream, count: usize) -> Vec<String> {
    let mut frames = Vec::new();
    let mut bytes = Vec::new();
    while frames.len() < count {
        let mut chunk = [0u8; 256];
        let n = client.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed");
        bytes.extend_from_slice(&chunk[..n]);
        // Unmasked server frames with short payloads: two header bytes.
        while bytes.len() >= 2 && bytes.len() >= 2 + (bytes[1] & 0x7f) as usize {
            let len = (bytes[1] & 0x7f) as usize;
            frames.push(String::from_utf8(bytes[2..2 + len].to_vec()).unwrap());
            bytes.drain(..2 + len);
        }
    }
    frames
}

/// A masked client text frame (mask of zeros).
fn client_text(text: &str) -> Vec<u8> {
    let mut frame = vec![0x81, 0x80 | text.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(text.as_bytes());
    frame
}

#[tokio::test]
async fn an_idle_connection_holds_no_write_buffers() {
    let (mut conn, mut client) = connection(64 * 1024);
    poll_once(&mut conn).await;
    let open = read_frames(&mut client, 1).await;
    assert!(open[0].starts_with("0{\"sid\""), "{open:?}");
    assert_eq!(conn.wbuf.capacity(), 0, "write buffer kept while idle");
    assert_eq!(conn.batch.capacity(), 0, "the batch went back to the queue");
    // Traffic after idling: read, answered, and idle again.
    client.write_all(&client_text("4hello")).await.unwrap();
    poll_once(&mut conn).await;
    assert_eq!(read_frames(&mut client, 1).await, ["4hello"]);
    assert_eq!(conn.wbuf.capacity(), 0);
    assert_eq!(conn.batch.capacity(), 0);
}

#[tokio::test]
async fn what_the_peer_does_not_take_at_once_waits_in_the_connection() {
    // A pipe smaller than the open packet: most of it waits in `wbuf`.
    let (mut conn, mut client) = connection(16);
    poll_once(&mut conn).await;
    assert!(!conn.wbuf.is_empty(), "the rest of the open packet waits");
    client.write_all(&client_text("4a")).await.unwrap();
    let reader = tokio::spawn(async move { read_frames(&mut client, 2).await });
    for _ in 0..100 {
        poll_once(&mut conn).await;
        tokio::task::yield_now().await;
        if reader.is_finished() {
            break;
        }
    }
    let frames = reader.await.unwrap();
    assert!(frames[0].starts_with("0{\"sid\""), "{frames:?}");
    assert_eq!(frames[1], "4a");
    poll_once(&mut conn).await;
    assert_eq!(conn.wbuf.capacity(), 0, "released once written and idle");
}
