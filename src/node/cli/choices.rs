//! The values of the flags that pick one of a few choices.

use clap::ValueEnum;

/// The adapter behind the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AdapterKind {
    /// In-memory: this node alone.
    Memory,
    /// A cluster through Redis pub/sub.
    Redis,
    /// A cluster through NATS.
    Nats,
    /// A cluster through RabbitMQ.
    Amqp,
}

/// The wire format on Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RedisFormatKind {
    /// Node's `@socket.io/redis-adapter` 8.x (classic pub/sub).
    Node,
    /// Switchyard's own.
    Switchyard,
}

/// The wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ParserKind {
    /// socket.io-parser (the default of every client).
    Json,
    /// socket.io-msgpack-parser.
    Msgpack,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What the Admin UI is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AdminModeKind {
    /// Every socket, room and event change.
    Development,
    /// Server statistics only.
    Production,
}
