//! The UI's commands (`emit`, `join`, `leave`, `_disconnect`), run
//! through the adapter so that they reach the sockets of every node.

use switchyard_core::{BroadcastOperator, Event, Namespace, Socket, Value, WeakSocketIo};

/// The UI's commands. Each names an existing namespace (never creates
/// one) and an optional filter: a room, or a socket id.
pub(crate) fn commands(socket: &Socket, io: &WeakSocketIo) {
    let on = |name: &'static str, act: fn(&Namespace, Option<String>, &[Value])| {
        let io = io.clone();
        socket.on(name, move |_: Socket, event: Event| {
            let io = io.clone();
            async move {
                let Some(io) = io.upgrade() else { return };
                let Some(ns) = event
                    .args
                    .first()
                    .and_then(Value::as_str)
                    .and_then(|name| io.namespaces().into_iter().find(|ns| ns.name() == name))
                else {
                    tracing::debug!(command = name, "Admin UI command for no namespace");
                    return;
                };
                act(&ns, filter(&event.args, name), &event.args);
            }
        });
    };
    on("emit", |ns, filter, args| {
        let Some(event) = args.get(2).and_then(Value::as_str) else {
            return;
        };
        let payload = args.get(3..).map(<[Value]>::to_vec).unwrap_or_default();
        if let Err(e) = targets(ns, filter).emit_args(event, payload) {
            tracing::debug!(error = %e, "Admin UI emit not sent");
        }
    });
    on("join", |ns, filter, args| {
        let Some(room) = args.get(1).and_then(Value::as_str) else {
            return;
        };
        let joined = targets(ns, filter).sockets_join(room);
        tokio::spawn(async move {
            if let Err(e) = joined.await {
                tracing::warn!(error = %e, "Admin UI join not confirmed cluster-wide");
            }
        });
    });
    on("leave", |ns, filter, args| {
        if let Some(room) = args.get(1).and_then(Value::as_str) {
            targets(ns, filter).sockets_leave(room);
        }
    });
    on("_disconnect", |ns, filter, args| {
        let close = args.get(1).and_then(Value::as_bool).unwrap_or(false);
        targets(ns, filter).disconnect_sockets(close);
    });
}

/// The filter of a command: its last argument (`emit` has the filter
/// second, the others third); absent or empty means the whole namespace.
fn filter(args: &[Value], command: &str) -> Option<String> {
    let index = if command == "emit" { 1 } else { 2 };
    args.get(index)
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
}

fn targets(ns: &Namespace, filter: Option<String>) -> BroadcastOperator {
    match filter {
        Some(room) => ns.in_(room),
        None => ns.broadcast(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_the_argument_after_the_room_or_the_namespace() {
        let args = |v: &[&str]| v.iter().map(|s| Value::from(*s)).collect::<Vec<_>>();
        assert_eq!(filter(&args(&["/", "r1", "ev"]), "emit"), Some("r1".into()));
        assert_eq!(filter(&args(&["/", "", "ev"]), "emit"), None);
        assert_eq!(
            filter(&args(&["/", "room", "sid"]), "join"),
            Some("sid".into())
        );
        assert_eq!(filter(&args(&["/", "room"]), "join"), None);
    }
}
