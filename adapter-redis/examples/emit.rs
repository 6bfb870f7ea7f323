//! Emits into a Socket.IO cluster on Redis from a process with no server,
//! as a background job would (Node.js servers with `@socket.io/redis-adapter`
//! and Switchyard nodes alike).
//!
//! ```text
//! cargo run -p switchyard-redis --example emit -- [options] emit <event> [json]
//! cargo run -p switchyard-redis --example emit -- [options] join|leave <room>
//! cargo run -p switchyard-redis --example emit -- [options] disconnect [close]
//! cargo run -p switchyard-redis --example emit -- [options] server-emit <event> [json]
//!
//! options: --url redis://127.0.0.1:6379  --prefix socket.io  --format node|switchyard
//!          --ns /  --to <room> (repeatable)  --except <room> (repeatable)
//! ```
#![allow(clippy::print_stdout)]

use switchyard_core::Value;
use switchyard_redis::{Emitter, RedisConfig, RedisFormat};

fn usage() -> ! {
    eprintln!(
        "usage: emit [--url U] [--prefix P] [--format node|switchyard] [--ns NS] [--to ROOM]… [--except ROOM]… (emit EVENT [JSON] | join ROOM | leave ROOM | disconnect [close] | server-emit EVENT [JSON])"
    );
    std::process::exit(2);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut config = RedisConfig::default();
    let (mut ns, mut to, mut except, mut rest) =
        ("/".to_owned(), Vec::new(), Vec::new(), Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--url" => config.url = value(),
            "--prefix" => config.prefix = value(),
            "--format" => {
                config.format = match value().as_str() {
                    "node" => RedisFormat::Node,
                    "switchyard" => RedisFormat::Switchyard,
                    _ => usage(),
                }
            }
            "--ns" => ns = value(),
            "--to" => to.push(value()),
            "--except" => except.push(value()),
            _ => rest.push(arg),
        }
    }
    let json = |text: Option<&String>| -> Vec<Value> {
        text.map(|t| {
            serde_json::from_str::<Value>(t).unwrap_or_else(|e| {
                eprintln!("the payload is not JSON: {e}");
                std::process::exit(2)
            })
        })
        .into_iter()
        .collect()
    };
    let emitter = match Emitter::connect(config).await {
        Ok(emitter) => emitter.of(ns).to(to).except(except),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let result = match rest
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["emit", event, ..] => emitter.emit_args(event, json(rest.get(2))).await,
        ["join", room] => emitter.sockets_join(*room).await,
        ["leave", room] => emitter.sockets_leave(*room).await,
        ["disconnect"] => emitter.disconnect_sockets(false).await,
        ["disconnect", "close"] => emitter.disconnect_sockets(true).await,
        ["server-emit", event, ..] => emitter.server_side_emit(event, json(rest.get(2))).await,
        _ => usage(),
    };
    emitter.close().await;
    match result {
        Ok(()) => println!("sent"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
