//! The shapes of the `data` field that serde reads and writes as they
//! are: Node's field names (`requestId`, `clientCount`…), in camelCase.

use super::RequestId;
use serde::{Deserialize, Serialize};
use switchyard_core::{BroadcastOptions, Room, SocketInfo, Value};

/// Sockets join or leave rooms (types 4 and 5); a request id asks for confirmations.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OptsRooms {
    pub(super) opts: BroadcastOptions,
    pub(super) rooms: Vec<Room>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) request_id: Option<RequestId>,
}

/// Sockets are disconnected (type 6).
#[derive(Serialize, Deserialize)]
pub(super) struct OptsClose {
    pub(super) opts: BroadcastOptions,
    pub(super) close: bool,
}

/// A request about targeted sockets (type 7).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OptsRequest {
    pub(super) opts: BroadcastOptions,
    pub(super) request_id: RequestId,
}

/// One node's matching sockets (type 8).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SocketsResponse {
    pub(super) request_id: RequestId,
    pub(super) sockets: Vec<SocketInfo>,
}

/// One answer carried as `packet` (types 10, 12 and 19).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ValueResponse {
    pub(super) request_id: RequestId,
    pub(super) packet: Value,
}

/// A request about rooms (types 14 and 16).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RoomsRequest {
    #[serde(default)]
    pub(super) rooms: Vec<Room>,
    pub(super) request_id: RequestId,
}

/// One node's socket ids (type 15).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct IdsResponse {
    pub(super) request_id: RequestId,
    pub(super) sockets: Vec<String>,
}

/// One node's rooms (type 17).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RoomsResponse {
    pub(super) request_id: RequestId,
    pub(super) rooms: Vec<Room>,
}

/// How many clients a node reached (type 11).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CountResponse {
    pub(super) request_id: RequestId,
    pub(super) client_count: u64,
}
