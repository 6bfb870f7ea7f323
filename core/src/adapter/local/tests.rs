//! The room index through `LocalAdapter`: handles registered before or after
//! joins, fan-out targets, identity on removal, and what the namespace hears.

use super::LocalAdapter;
use crate::adapter::{AckEvent, Adapter, JoinFuture, Member, MemberHandle, NamespaceHooks};
use crate::presence::PresenceEvent;
use crate::protocol::{Encoded, Packet, Parser};
use crate::sid::Sid;
use crate::value::Value;
use crate::vocab::{BroadcastOptions, Room, ServerAck, SocketInfo};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// A socket that records what reaches it.
struct Recorder {
    id: Sid,
    got: Mutex<Vec<String>>,
}

impl Member for Recorder {
    fn deliver(&self, _: &Encoded, _: bool, packet: &Packet, _: Instant) -> bool {
        if let crate::protocol::PacketKind::Event { name, .. } = &packet.kind {
            self.got.lock().push(name.clone());
        }
        true
    }
    fn expect_ack(&self, _: u64, _: mpsc::UnboundedSender<AckEvent>) {}
    fn info(&self) -> SocketInfo {
        unreachable!("not asked in these tests: {}", self.id)
    }
    fn join(&self, _: Vec<Room>) -> JoinFuture {
        JoinFuture::ready()
    }
    fn leave(&self, _: Room) {}
    fn disconnect(&self, _: bool) {}
}

/// A namespace that records the room changes it hears.
#[derive(Default)]
struct Heard(Mutex<Vec<(String, String, bool)>>);

impl NamespaceHooks for Heard {
    fn watches_rooms(&self) -> bool {
        true
    }
    fn room_changed(&self, room: &Room, sid: &Sid, joined: bool) {
        self.0
            .lock()
            .push((room.to_string(), sid.to_string(), joined));
    }
    fn presence_changed(&self, _: PresenceEvent) {}
    fn server_event(&self, _: &str, _: Vec<Value>, _: Option<ServerAck>) -> bool {
        false
    }
    fn evict(&self, _: &str) -> bool {
        false
    }
}

fn adapter() -> (LocalAdapter, Arc<Heard>) {
    let heard = Arc::new(Heard::default());
    let local = LocalAdapter::new("/".into(), Parser::Json, None, heard.clone());
    (local, heard)
}

fn socket(local: &LocalAdapter, id: &str, rooms: &[&str]) -> Arc<Recorder> {
    let recorder = Arc::new(Recorder {
        id: Sid::from(id),
        got: Mutex::new(Vec::new()),
    });
    let rooms: Vec<Room> = rooms.iter().map(|r| Room::from(*r)).collect();
    local.insert_member(&recorder.id, recorder.clone());
    local.add_all_tracked(&recorder.id, &rooms);
    recorder
}

fn emit(local: &LocalAdapter, name: &str, rooms: &[&str], except: &[&str]) {
    let opts = BroadcastOptions {
        rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
        except: except.iter().map(|r| Room::from(*r)).collect(),
        ..Default::default()
    };
    local.broadcast(Packet::event("/", name, vec![]), &opts);
}

#[test]
fn broadcasts_reach_each_target_once() {
    let (local, _) = adapter();
    let a = socket(&local, "a", &["a", "x", "y"]);
    let b = socket(&local, "b", &["b", "y"]);
    let c = socket(&local, "c", &["c"]);
    emit(&local, "all", &[], &[]);
    emit(&local, "x-or-y", &["x", "y"], &[]);
    emit(&local, "y-but-not-b", &["y"], &["b"]);
    emit(&local, "all-but-x", &[], &["x"]);
    assert_eq!(*a.got.lock(), ["all", "x-or-y", "y-but-not-b"]);
    assert_eq!(*b.got.lock(), ["all", "x-or-y", "all-but-x"]);
    assert_eq!(*c.got.lock(), ["all", "all-but-x"]);
    assert_eq!(local.member_count(), 3);
}

#[test]
fn rooms_joined_before_the_socket_connects_count_once_it_does() {
    let (local, _) = adapter();
    let early = Sid::from("early");
    // A middleware's join: the socket is not connected here yet.
    local.add_all_tracked(&early, &[Room::from("r")]);
    emit(&local, "before", &["r"], &[]);
    let recorder = Arc::new(Recorder {
        id: early.clone(),
        got: Mutex::new(Vec::new()),
    });
    local.insert_member(&early, recorder.clone());
    emit(&local, "after", &["r"], &[]);
    assert_eq!(*recorder.got.lock(), ["after"]);
    assert_eq!(local.target_ids(&BroadcastOptions::default()), [early]);
}

#[test]
fn only_the_registered_handle_is_removed() {
    let (local, _) = adapter();
    let first = socket(&local, "s", &["s"]);
    let stale: MemberHandle = Arc::new(Recorder {
        id: Sid::from("s"),
        got: Mutex::new(Vec::new()),
    });
    local.remove_member(&first.id, &stale);
    assert!(
        local.member(&first.id).is_some(),
        "another handle leaves it"
    );
    let handle: MemberHandle = first.clone();
    local.del_all_tracked(&first.id);
    local.remove_member(&first.id, &handle);
    assert!(local.member(&first.id).is_none());
    assert_eq!(local.member_count(), 0);
    assert!(local.rooms().is_empty());
}

#[test]
fn the_namespace_hears_joins_and_leaves_and_emptied_rooms_are_reported() {
    let (local, heard) = adapter();
    let a = socket(&local, "a", &["a", "r"]);
    let _b = socket(&local, "b", &["r"]);
    assert!(
        !local.del_tracked(&a.id, &Room::from("r")),
        "b is still in r"
    );
    let emptied = local.del_all_tracked(&Sid::from("b"));
    assert_eq!(emptied, [Room::from("r")]);
    assert!(local.has_room(&Room::from("a")));
    assert!(!local.has_room(&Room::from("r")));
    let heard = heard.0.lock();
    assert!(heard.contains(&("r".into(), "a".into(), true)));
    assert!(heard.contains(&("r".into(), "a".into(), false)));
    assert!(heard.contains(&("r".into(), "b".into(), false)));
}
