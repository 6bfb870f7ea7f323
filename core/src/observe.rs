//! `Observer`: a tool watching what happens on a server — connections,
//! sockets, rooms and events — such as the Socket.IO Admin UI. A server has
//! at most one ([`SocketIo::observe`](crate::SocketIo::observe)); without
//! one, each hook costs a branch.
//!
//! Hooks run inline, on the task that caused them and sometimes under the
//! namespace's locks: an observer must return quickly and must not call
//! back into the namespace it hears about synchronously (emitting to
//! another namespace, or spawning a task, is fine).

pub use crate::handler::Observer;
