//! Sessions without sticky load balancing: every request of a session may
//! land on any node; the nodes forward it to the session's owner.

use super::*;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// One HTTP/1.1 request on a fresh connection: the status and the body.
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("an answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    (status, body)
}

/// A polling session opened on node 0 is served by nodes 1 and 2; its
/// upgrade to WebSocket through node 2 works; a session of a node that is
/// gone is refused at once.
pub async fn sessions_are_served_through_any_node(connect: &Connect) {
    let nodes = start_nodes(connect, 3).await;
    settle().await; // the nodes tell each other where they listen
    let (status, open) = http(
        nodes[0].addr,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        "",
    )
    .await;
    assert_eq!(status, 200, "{open}");
    let open: serde_json::Value = serde_json::from_str(&open[1..]).expect("an open packet");
    let sid = open["sid"].as_str().expect("a sid").to_owned();
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(
        http(nodes[1].addr, "POST", &path, "40").await,
        (200, "ok".into())
    );
    let (_, connected) = http(nodes[2].addr, "GET", &path, "").await;
    assert!(connected.starts_with("40{\"sid\""), "{connected}");
    assert_eq!(
        nodes[0].io.of("/").socket_count(),
        1,
        "the socket lives on its owner"
    );
    // The join is acknowledged once it took effect on every node (a room
    // subscription may still be on its way when the POST is answered).
    assert_eq!(
        http(nodes[2].addr, "POST", &path, r#"420["join","r"]"#)
            .await
            .0,
        200
    );
    let (_, joined) = http(nodes[1].addr, "GET", &path, "").await;
    assert_eq!(joined, "430[true]", "the join's acknowledgement");

    // Upgrade through another node.
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket&sid={sid}",
        nodes[2].addr
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("an upgrade through node 2");
    ws.send(Message::text("2probe")).await.expect("probe");
    let probe = tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("probe answer");
    assert!(matches!(probe, Some(Ok(Message::Text(t))) if t.as_str() == "3probe"));
    ws.send(Message::text("5")).await.expect("upgrade");
    nodes[1]
        .io
        .to("r")
        .emit("hello", &"through the relay")
        .expect("emit");
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("the broadcast")
        {
            Some(Ok(Message::Text(t))) if t.as_str().starts_with("42") => {
                assert_eq!(t.as_str(), r#"42["hello","through the relay"]"#);
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("the relay closed: {other:?}"),
        }
    }
    let forwarded: u64 = nodes.iter().map(|n| n.io.stats().forwarded_requests).sum();
    assert!(forwarded >= 4, "{forwarded} requests forwarded");

    // The owner dies: its sessions are refused at once, not after a timeout.
    nodes[0].io.close().await;
    nodes[0].cluster.broker().close().await;
    let started = Instant::now();
    let (status, body) = http(nodes[1].addr, "GET", &path, "").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Session ID unknown"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(3));
}
