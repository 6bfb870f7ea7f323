//! `Handlers`: what user code registered on a socket, kept compact (every
//! connected socket holds its own).

use smol_str::SmolStr;
use std::sync::Arc;

/// Event handler lists grow one by one up to this length, then doubling.
const EXACT_GROWTH: usize = 8;

/// A socket's handlers: of events (`E`, a `dyn EventHandler`) and of its
/// disconnection (`D`, a `dyn DisconnectHandler`). Generic so that this file
/// needs nothing from `handler.rs`, which names the socket.
pub(super) struct Handlers<E: ?Sized, D: ?Sized> {
    /// Each event handler with its event's name, in registration order: a
    /// socket has a few, and a short list costs less than a map of lists
    /// and is as quick to search.
    events: Vec<(SmolStr, Arc<E>)>,
    /// The kinds many sockets never register: boxed, allocated on the first.
    others: Option<Box<Others<E, D>>>,
}

struct Others<E: ?Sized, D: ?Sized> {
    any: Vec<Arc<E>>,
    disconnecting: Vec<Arc<D>>,
    disconnect: Vec<Arc<D>>,
}

impl<E: ?Sized, D: ?Sized> Default for Handlers<E, D> {
    fn default() -> Self {
        Handlers {
            events: Vec::new(),
            others: None,
        }
    }
}

impl<E: ?Sized, D: ?Sized> Default for Others<E, D> {
    fn default() -> Self {
        Others {
            any: Vec::new(),
            disconnecting: Vec::new(),
            disconnect: Vec::new(),
        }
    }
}

/// A socket's disconnect handlers: those of `disconnecting`, then of
/// `disconnect`.
pub(super) type DisconnectHandlers<D> = (Vec<Arc<D>>, Vec<Arc<D>>);

impl<E: ?Sized, D: ?Sized> Handlers<E, D> {
    /// Adds a handler for `event`, after those registered before.
    pub fn add_event(&mut self, event: SmolStr, handler: Arc<E>) {
        // Exact growth for the first few: most sockets have a handful.
        if self.events.len() == self.events.capacity() && self.events.len() < EXACT_GROWTH {
            self.events.reserve_exact(1);
        }
        self.events.push((event, handler));
    }

    /// Removes every handler of `event`.
    pub fn remove_event(&mut self, event: &str) {
        self.events.retain(|(name, _)| name != event);
    }

    /// Adds a handler called for every event.
    pub fn add_any(&mut self, handler: Arc<E>) {
        self.others.get_or_insert_default().any.push(handler);
    }

    /// Adds a handler called when the socket disconnects, before it
    /// leaves its rooms.
    pub fn add_disconnecting(&mut self, handler: Arc<D>) {
        self.others
            .get_or_insert_default()
            .disconnecting
            .push(handler);
    }

    /// Adds a handler called once the socket has disconnected.
    pub fn add_disconnect(&mut self, handler: Arc<D>) {
        self.others.get_or_insert_default().disconnect.push(handler);
    }

    /// The handlers an incoming `event` calls, in order: the catch-all
    /// ones, then its own.
    pub fn for_event(&self, event: &str) -> Vec<Arc<E>> {
        let any = self.others.iter().flat_map(|others| &others.any);
        let own = self.events.iter().filter(|(name, _)| name == event);
        any.chain(own.map(|(_, handler)| handler))
            .cloned()
            .collect()
    }

    /// The disconnect handlers (copies: they run without the lock).
    pub fn for_disconnect(&self) -> DisconnectHandlers<D> {
        self.others
            .as_ref()
            .map_or_else(Default::default, |others| {
                (others.disconnecting.clone(), others.disconnect.clone())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for a handler: only its identity matters here.
    type Handler = Arc<dyn Fn() + Send + Sync>;

    fn handler() -> Handler {
        Arc::new(|| {})
    }

    fn same(a: &[Handler], b: &[&Handler]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y))
    }

    #[test]
    fn an_event_calls_the_catch_all_handlers_then_its_own_in_order() {
        let mut handlers = Handlers::<dyn Fn() + Send + Sync, str>::default();
        let (a1, b, a2, any) = (handler(), handler(), handler(), handler());
        handlers.add_event("a".into(), a1.clone());
        handlers.add_event("b".into(), b.clone());
        handlers.add_event("a".into(), a2.clone());
        handlers.add_any(any.clone());
        assert!(same(&handlers.for_event("a"), &[&any, &a1, &a2]));
        assert!(same(&handlers.for_event("b"), &[&any, &b]));
        assert!(same(&handlers.for_event("c"), &[&any]));
        handlers.remove_event("a");
        assert!(same(&handlers.for_event("a"), &[&any]));
        assert!(same(&handlers.for_event("b"), &[&any, &b]));
    }

    #[test]
    fn a_few_handlers_take_no_spare_room() {
        let mut handlers = Handlers::<dyn Fn() + Send + Sync, str>::default();
        for name in ["a", "b", "c", "d", "e"] {
            handlers.add_event(name.into(), handler());
        }
        assert_eq!(handlers.events.capacity(), 5);
        assert!(handlers.others.is_none(), "nothing else registered");
    }
}
