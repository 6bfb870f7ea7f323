//! The bench contract (see `src/node/contract.rs` in Switchyard) on
//! socketioxide 0.18 with its default settings, for `scripts/bench-compare.sh`:
//! `echo(payload, seq, ack)` (the arguments the load generator sends),
//! `join(room, ack)`, `leave(room, ack)` and
//! `publish({room, payload, except?})`. Listens on 127.0.0.1:$PORT (3000).

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef, TryData};

#[derive(Deserialize)]
struct Publish {
    room: String,
    payload: Value,
    #[serde(default)]
    except: Option<Rooms>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Rooms {
    One(String),
    Many(Vec<String>),
}

async fn on_connect(socket: SocketRef) {
    // socketioxide has no extractor for "all the arguments": this takes the
    // two that switchyard-loadtest's echo sends (payload, sequence number).
    socket.on(
        "echo",
        async |Data::<(Value, Value)>(args), ack: AckSender| {
            let _ = ack.send(&args);
        },
    );
    socket.on(
        "join",
        async |socket: SocketRef, TryData::<String>(room), ack: AckSender| {
            let joined = room.map(|room| socket.join(room)).is_ok();
            let _ = ack.send(&joined);
        },
    );
    socket.on(
        "leave",
        async |socket: SocketRef, TryData::<String>(room), ack: AckSender| {
            let left = room.map(|room| socket.leave(room)).is_ok();
            let _ = ack.send(&left);
        },
    );
    socket.on(
        "publish",
        async |io: SocketIo, TryData::<Publish>(publish)| {
            let Ok(p) = publish else { return };
            let except = match p.except {
                None => Vec::new(),
                Some(Rooms::One(room)) => vec![room],
                Some(Rooms::Many(rooms)) => rooms,
            };
            let _ = io.to(p.room).except(except).emit("msg", &p.payload).await;
        },
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let (svc, io) = SocketIo::new_svc();
    io.ns("/", on_connect);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("socketioxide listening on http://127.0.0.1:{port}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let svc = svc.clone();
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}
