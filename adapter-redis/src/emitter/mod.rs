//! `Emitter`: emit into a cluster from a process with no Socket.IO server
//! (a background job telling browsers that a file finished processing),
//! like Node's `@socket.io/redis-emitter`.
//!
//! An emitter publishes what a server of the cluster would: broadcasts
//! (to all, to rooms, except rooms), `sockets_join`, `sockets_leave`,
//! `disconnect_sockets` and server-side emits, with the uid `"emitter"`
//! and in the cluster's format ([`RedisConfig::format`]), so Node.js
//! servers and Switchyard nodes both act on it. There are no
//! acknowledgements. Each call resolves once Redis took the message; in
//! Switchyard's format `sockets_join` resolves once every node confirmed
//! it (see `answers`), so a broadcast to the room right after reaches the
//! new members. (In Node's format the nodes hear a namespace on one
//! connection, so the broadcast arrives after the join anyway.)
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use switchyard_redis::{Emitter, RedisConfig};
//! let emitter = Emitter::connect(RedisConfig::default()).await?;
//! emitter.to("user:42").emit("file ready", &"report.pdf").await?;
//! emitter.of("/admin").except("muted").emit("jobs", &3).await?;
//! # Ok(()) }
//! ```

mod answers;

use crate::channels::name;
use crate::client::builder;
use crate::config::{RedisConfig, RedisError};
use fred::clients::Client;
use fred::prelude::*;
use serde::Serialize;
use smol_str::SmolStr;
use std::sync::Arc;
use switchyard_cluster::message::{Body, ClusterMessage, EMITTER_UID};
use switchyard_cluster::{Destination, Membership, WireFormat, random_id};
use switchyard_core::protocol::{Packet, RESERVED_EVENTS};
use switchyard_core::{BroadcastOptions, IntoRooms, Room, Value, to_value};

/// Why an emit failed.
#[derive(Debug, thiserror::Error)]
pub enum EmitterError {
    /// The event name is reserved by the protocol.
    #[error("{0:?} is a reserved event name")]
    ReservedEvent(String),
    /// The data could not be converted.
    #[error("cannot serialize the event data: {0}")]
    Serialize(#[from] switchyard_core::value::ValueError),
    /// The cluster's format has no such message.
    #[error("the {0} format cannot carry this message")]
    Unsupported(&'static str),
    /// Redis did not take the message.
    #[error("cannot publish to Redis: {0}")]
    Redis(String),
    /// A join was not confirmed by every node.
    #[error("the join was not confirmed: {0}")]
    Unconfirmed(String),
}

struct Shared {
    client: Client,
    config: RedisConfig,
    format: Arc<dyn WireFormat>,
    /// Made at the first confirmed join.
    answers: tokio::sync::OnceCell<answers::Answers>,
}

/// Emits into a cluster through Redis. Cheap to clone; targeting methods
/// return a new emitter and leave this one as it is.
#[derive(Clone)]
pub struct Emitter {
    shared: Arc<Shared>,
    nsp: SmolStr,
    opts: BroadcastOptions,
}

impl Emitter {
    /// Connects to Redis; the emitter targets every socket of `/`.
    pub async fn connect(config: RedisConfig) -> Result<Emitter, RedisError> {
        let client = builder(&config)?
            .build()
            .map_err(|e| RedisError::new(&config.url, e.to_string()))?;
        client
            .init()
            .await
            .map_err(|e| RedisError::new(&config.url, e.to_string()))?;
        let format = config.wire_format();
        tracing::debug!(prefix = %config.prefix, format = format.name(), "emitter connected to Redis");
        Ok(Emitter {
            shared: Arc::new(Shared {
                client,
                config,
                format,
                answers: tokio::sync::OnceCell::new(),
            }),
            nsp: SmolStr::new_static("/"),
            opts: BroadcastOptions::default(),
        })
    }

    /// The same emitter for another namespace (targeting starts afresh).
    pub fn of(&self, nsp: impl Into<SmolStr>) -> Emitter {
        let nsp = nsp.into();
        let nsp = if nsp.starts_with('/') {
            nsp
        } else {
            SmolStr::new(format!("/{nsp}"))
        };
        Emitter {
            shared: self.shared.clone(),
            nsp,
            opts: BroadcastOptions::default(),
        }
    }

    /// Targets the members of rooms (added to those already targeted).
    pub fn to(&self, rooms: impl IntoRooms) -> Emitter {
        let mut next = self.clone();
        add(&mut next.opts.rooms, rooms);
        next
    }

    /// Same as [`Emitter::to`].
    pub fn in_(&self, rooms: impl IntoRooms) -> Emitter {
        self.to(rooms)
    }

    /// Leaves out the members of rooms.
    pub fn except(&self, rooms: impl IntoRooms) -> Emitter {
        let mut next = self.clone();
        add(&mut next.opts.except, rooms);
        next
    }

    /// The event may be dropped for clients that are not ready to receive.
    pub fn volatile(&self) -> Emitter {
        let mut next = self.clone();
        next.opts.flags.volatile = true;
        next
    }

    /// The compression hint, as Node's emitter carries it.
    pub fn compress(&self, compress: bool) -> Emitter {
        let mut next = self.clone();
        next.opts.flags.compress = Some(compress);
        next
    }

    /// Emits an event with one argument to the targeted sockets.
    pub async fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), EmitterError> {
        self.emit_args(event, vec![to_value(data)?]).await
    }

    /// Emits an event with any number of arguments.
    pub async fn emit_args(&self, event: &str, args: Vec<Value>) -> Result<(), EmitterError> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(EmitterError::ReservedEvent(event.to_owned()));
        }
        let packet = Packet::event(self.nsp.clone(), event, args);
        let body = Body::Broadcast {
            packet,
            opts: self.opts.clone(),
            request_id: None,
        };
        let to = match self.opts.rooms.as_slice() {
            [room] => Destination::Room(room),
            _ => Destination::Everyone,
        };
        self.publish(body, to).await
    }

    /// Makes the targeted sockets join rooms, on every server; in
    /// Switchyard's format, resolves once every node confirmed (at most
    /// 5 s, then [`EmitterError::Unconfirmed`]).
    pub async fn sockets_join(&self, rooms: impl IntoRooms) -> Result<(), EmitterError> {
        let (opts, rooms) = (self.targeting(), rooms.into_rooms());
        let shared = &self.shared;
        if shared.format.membership() != Membership::Heartbeat {
            let body = Body::SocketsJoin { opts, rooms };
            return self.publish(body, Destination::Everyone).await;
        }
        let answers = shared
            .answers
            .get_or_try_init(|| {
                answers::Answers::connect(&shared.config, &shared.client, shared.format.clone())
            })
            .await
            .map_err(EmitterError::Redis)?;
        let request_id = random_id();
        let body = Body::SocketsJoinConfirmed {
            opts,
            rooms,
            request_id: request_id.clone(),
        };
        let publish = async {
            self.publish(body, Destination::Everyone)
                .await
                .map_err(|e| e.to_string())
        };
        answers
            .confirm(
                &shared.config,
                &shared.client,
                &self.nsp,
                publish,
                request_id,
            )
            .await
            .map_err(EmitterError::Unconfirmed)
    }

    /// Makes the targeted sockets leave rooms, on every server.
    pub async fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<(), EmitterError> {
        let body = Body::SocketsLeave {
            opts: self.targeting(),
            rooms: rooms.into_rooms(),
        };
        self.publish(body, Destination::Everyone).await
    }

    /// Disconnects the targeted sockets; `close` closes their connections too.
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), EmitterError> {
        let body = Body::DisconnectSockets {
            opts: self.targeting(),
            close,
        };
        self.publish(body, Destination::Everyone).await
    }

    /// Emits an event to the namespace's handlers of every server
    /// (`on_server_event`); no answers can come back to an emitter.
    pub async fn server_side_emit(
        &self,
        event: &str,
        args: Vec<Value>,
    ) -> Result<(), EmitterError> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(EmitterError::ReservedEvent(event.to_owned()));
        }
        let body = Body::ServerSideEmit {
            event: event.to_owned(),
            args,
            request_id: None,
        };
        self.publish(body, Destination::Everyone).await
    }

    /// Disconnects from Redis.
    pub async fn close(&self) {
        if let Some(answers) = self.shared.answers.get() {
            answers.close().await;
        }
        let _ = self.shared.client.quit().await;
    }

    /// Rooms and except, without delivery flags (as requests carry them).
    fn targeting(&self) -> BroadcastOptions {
        BroadcastOptions {
            rooms: self.opts.rooms.clone(),
            except: self.opts.except.clone(),
            ..BroadcastOptions::default()
        }
    }

    async fn publish(&self, body: Body, to: Destination<'_>) -> Result<(), EmitterError> {
        let shared = &self.shared;
        let message = ClusterMessage {
            uid: SmolStr::new_static(EMITTER_UID),
            nsp: self.nsp.clone(),
            body,
        };
        let (channel, bytes) = shared
            .format
            .encode(&message, to)
            .ok_or(EmitterError::Unsupported(shared.format.name()))?;
        let channel = name(&shared.config.prefix, shared.config.format, &channel);
        let published: Result<i64, Error> = if shared.config.is_sharded() {
            shared.client.spublish(channel, bytes).await
        } else {
            shared.client.publish(channel, bytes).await
        };
        published
            .map(drop)
            .map_err(|e| EmitterError::Redis(e.to_string()))
    }
}

/// Adds rooms to a list, once each (Node keeps them in a Set).
fn add(list: &mut Vec<Room>, rooms: impl IntoRooms) {
    for room in rooms.into_rooms() {
        if !list.contains(&room) {
            list.push(room);
        }
    }
}
