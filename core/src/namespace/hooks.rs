//! What a namespace's room index tells it (see [`NamespaceHooks`]): the
//! index holds only a weak handle, so a namespace that is gone hears
//! nothing.

use super::WeakNamespace;
use crate::adapter::NamespaceHooks;
use crate::presence::PresenceEvent;
use crate::sid::Sid;
use crate::value::Value;
use crate::vocab::{Room, ServerAck};

impl NamespaceHooks for WeakNamespace {
    fn watches_rooms(&self) -> bool {
        self.upgrade().is_some_and(|ns| ns.observer().is_some())
    }

    fn room_changed(&self, room: &Room, sid: &Sid, joined: bool) {
        let Some(ns) = self.upgrade() else { return };
        if let Some(observer) = ns.observer() {
            if joined {
                observer.room_joined(ns.name(), room, sid);
            } else {
                observer.room_left(ns.name(), room, sid);
            }
        }
    }

    fn presence_changed(&self, event: PresenceEvent) {
        if let Some(ns) = self.upgrade() {
            ns.dispatch_presence(event);
        }
    }

    fn server_event(&self, event: &str, args: Vec<Value>, ack: Option<ServerAck>) -> bool {
        self.upgrade()
            .is_some_and(|ns| ns.dispatch_server_event(event, args, ack))
    }

    fn evict(&self, pid: &str) -> bool {
        self.upgrade().is_some_and(|ns| ns.evict(pid))
    }
}
