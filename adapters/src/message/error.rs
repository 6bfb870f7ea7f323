//! `MessageError`: why bytes from the broker are not a cluster message.

/// Why bytes from the broker are not a cluster message.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// Not a MessagePack document.
    #[error("not msgpack: {0}")]
    Msgpack(#[from] switchyard_core::value::MsgpackError),
    /// A field is missing or of the wrong kind.
    #[error("invalid cluster message: {0}")]
    Invalid(String),
    /// A type number this node does not know.
    #[error("unknown cluster message type {0}")]
    UnknownType(u64),
}

/// A [`MessageError::Invalid`] naming what is wrong.
pub(crate) fn invalid(what: impl Into<String>) -> MessageError {
    MessageError::Invalid(what.into())
}
