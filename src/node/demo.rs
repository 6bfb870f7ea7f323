//! The chat demo: the Socket.IO "get started" chat with rooms and a
//! who-is-typing line, on namespace `/chat`, and its page at `/`.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::path::Path;
use switchyard_core::{DisconnectReason, Event, Socket, SocketIo, Value};

/// The demo page.
pub const PAGE: &str = include_str!("demo.html");

/// A chat member, stored as socket data (so `fetch_sockets` sees it).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Member {
    name: String,
    room: String,
}

const LOBBY: &str = "lobby";

/// Who is online in the chat, on every node, sorted.
fn online_names(ns: &switchyard_core::Namespace) -> Vec<String> {
    let mut names: Vec<String> = ns
        .online_users()
        .into_iter()
        .map(|(user, _)| user.to_string())
        .collect();
    names.sort();
    names
}

/// Installs the chat on `/chat`.
pub fn install(io: &SocketIo) {
    // Every node tells its own sockets when someone comes or goes anywhere.
    let chat = io.of("/chat").downgrade();
    io.of("/chat")
        .on_presence(move |_: switchyard_core::PresenceEvent| {
            let chat = chat.clone();
            async move {
                if let Some(ns) = chat.upgrade() {
                    let _ = ns.local().emit("online", &online_names(&ns));
                }
            }
        });
    io.of("/chat").on_connection(enter);
}

/// A new member: named, put in the lobby, greeted and announced.
async fn enter(socket: Socket) {
    let name = socket
        .auth()
        .get("name")
        .and_then(Value::as_str)
        .map(|n| n.trim().chars().take(32).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("guest-{}", &socket.id()[..4]));
    let member = Member {
        name,
        room: LOBBY.into(),
    };
    let _ = socket.set_data(&member);
    socket.set_user(member.name.as_str());
    let _ = socket.join(LOBBY).await;
    let _ = socket.emit("welcome", &member);
    let _ = socket.emit("online", &online_names(socket.ns()));
    let _ = socket
        .to(LOBBY)
        .emit("notice", &format!("{} joined {LOBBY}", member.name));

    socket.on("join room", join_room);
    socket.on("chat message", chat_message);
    socket.on("typing", typing);
    socket.on_disconnecting(leave);
}

/// `join room(name, ack)`: moves the member to another room.
async fn join_room(socket: Socket, event: Event) {
    let (Some(mut member), Ok(room)) = (socket.data::<Member>(), event.arg::<String>(0)) else {
        let _ = event.ack(&false);
        return;
    };
    let room: String = room.trim().chars().take(32).collect();
    if room.is_empty() {
        let _ = event.ack(&false);
        return;
    }
    let _ = socket.to(member.room.as_str()).emit(
        "typing",
        &Typing {
            name: &member.name,
            typing: false,
        },
    );
    if socket.join(room.as_str()).await.is_err() {
        let _ = event.ack(&false);
        return;
    }
    socket.leave(member.room.as_str());
    let _ = socket
        .to(room.as_str())
        .emit("notice", &format!("{} joined {room}", member.name));
    member.room = room;
    let _ = socket.set_data(&member);
    let _ = event.ack(&member.room);
}

/// `chat message(text)`: to everyone in the member's room.
async fn chat_message(socket: Socket, event: Event) {
    let (Some(member), Ok(text)) = (socket.data::<Member>(), event.arg::<String>(0)) else {
        return;
    };
    let text: String = text.chars().take(2000).collect();
    let message = ChatMessage {
        name: &member.name,
        room: &member.room,
        text: &text,
    };
    let _ = socket
        .ns()
        .to(member.room.as_str())
        .emit("chat message", &message);
}

/// `typing(bool)`: tells the member's room.
async fn typing(socket: Socket, event: Event) {
    let Some(member) = socket.data::<Member>() else {
        return;
    };
    let typing = event.arg::<bool>(0).unwrap_or(false);
    let _ = socket.to(member.room.as_str()).emit(
        "typing",
        &Typing {
            name: &member.name,
            typing,
        },
    );
}

/// A member leaves: their room stops seeing them type and hears they left.
async fn leave(socket: Socket, _: DisconnectReason) {
    if let Some(member) = socket.data::<Member>() {
        let _ = socket.to(member.room.as_str()).emit(
            "typing",
            &Typing {
                name: &member.name,
                typing: false,
            },
        );
        let _ = socket
            .to(member.room.as_str())
            .emit("notice", &format!("{} left", member.name));
    }
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    name: &'a str,
    room: &'a str,
    text: &'a str,
}

#[derive(Serialize)]
struct Typing<'a> {
    name: &'a str,
    typing: bool,
}

/// Serves the page.
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// Serves the socket.io-client bundle from `path`.
pub async fn client_bundle(path: &Path) -> Response {
    match tokio::fs::read(path).await {
        Ok(js) => (
            [(
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            )],
            js,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "socket.io-client bundle not found (run `npm ci`)");
            (
                StatusCode::NOT_FOUND,
                format!(
                    "socket.io-client bundle not found at {} ({e}); run `npm ci`",
                    path.display()
                ),
            )
                .into_response()
        }
    }
}
