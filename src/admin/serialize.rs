//! Sockets as the Admin UI reads them (`SerializedSocket` of
//! `@socket.io/admin-ui`): never the auth payload, which may hold secrets.

use smol_str::SmolStr;
use switchyard_core::value::Map;
use switchyard_core::{Handshake, RemoteSocket, Room, Socket, Value};

/// A socket of this node.
pub(crate) fn local_socket(socket: &Socket) -> Value {
    shape(Shape {
        id: socket.id().as_str(),
        client_id: Some(socket.client_id()),
        transport: Some(SmolStr::new_static(socket.transport().as_str())),
        nsp: socket.ns().name(),
        data: socket.data_value(),
        handshake: &socket.handshake(),
        rooms: &socket.rooms(),
    })
}

/// A socket found by `fetch_sockets`, on any node.
pub(crate) fn remote_socket(socket: &RemoteSocket, nsp: &str) -> Value {
    shape(Shape {
        id: socket.id.as_str(),
        client_id: socket.client_id.clone(),
        transport: socket.transport.clone(),
        nsp,
        data: socket.data.clone(),
        handshake: &socket.handshake,
        rooms: &socket.rooms,
    })
}

struct Shape<'a> {
    id: &'a str,
    client_id: Option<SmolStr>,
    transport: Option<SmolStr>,
    nsp: &'a str,
    data: Value,
    handshake: &'a Handshake,
    rooms: &'a [Room],
}

fn shape(s: Shape<'_>) -> Value {
    let h = s.handshake;
    // Behind a proxy, the client's address as the proxy reports it.
    let address = h
        .header("cf-connecting-ip")
        .or_else(|| h.header("x-forwarded-for"))
        .unwrap_or(&h.address);
    let handshake = switchyard_core::object! {
        "address" => address,
        "headers" => Value::Object(h.headers.clone()),
        "query" => Value::Object(h.query.clone()),
        "issued" => h.issued,
        "secure" => h.secure,
        "time" => h.time.as_str(),
        "url" => h.url.as_str(),
        "xdomain" => h.xdomain,
    };
    let mut out = Map::new();
    out.insert("id".into(), Value::from(s.id));
    let optional = |v: Option<SmolStr>| v.map_or(Value::Null, |v| Value::from(v.as_str()));
    out.insert("clientId".into(), optional(s.client_id));
    out.insert("transport".into(), optional(s.transport));
    out.insert("nsp".into(), Value::from(s.nsp));
    out.insert("data".into(), user_data(s.data));
    out.insert("handshake".into(), handshake);
    out.insert(
        "rooms".into(),
        Value::Array(s.rooms.iter().map(|r| Value::from(r.as_str())).collect()),
    );
    Value::Object(out)
}

/// The socket's data without what Node's instrumentation keeps in it
/// (`_admin`); `{}` when unset, as Node's `socket.data` starts.
fn user_data(data: Value) -> Value {
    match data {
        Value::Null => Value::Object(Map::new()),
        Value::Object(mut map) => {
            map.shift_remove("_admin");
            Value::Object(map)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_node_admin_fields_and_defaults_to_an_object() {
        assert_eq!(user_data(Value::Null), Value::Object(Map::new()));
        let data = switchyard_core::object! { "_admin" => 1, "level" => 2 };
        assert_eq!(user_data(data), switchyard_core::object! { "level" => 2 });
    }

    #[test]
    fn never_shows_the_auth_payload_and_prefers_the_proxy_address() {
        let mut headers = Map::new();
        headers.insert("x-forwarded-for".into(), Value::from("203.0.113.9"));
        let handshake = Handshake {
            headers,
            address: "127.0.0.1".into(),
            auth: switchyard_core::object! { "token" => "secret" },
            ..Handshake::default()
        };
        let shown = shape(Shape {
            id: "s1",
            client_id: None,
            transport: Some("polling".into()),
            nsp: "/",
            data: Value::Null,
            handshake: &handshake,
            rooms: &["s1".into()],
        });
        let text = serde_json::to_string(&shown).unwrap();
        assert!(!text.contains("secret"), "{text}");
        let field = |name: &str| shown.get(name).cloned();
        assert_eq!(
            field("handshake").and_then(|h| h.get("address").cloned()),
            Some(Value::from("203.0.113.9"))
        );
        assert_eq!(field("transport"), Some(Value::from("polling")));
        assert_eq!(field("clientId"), Some(Value::Null));
    }
}
