//! `RedisStore`: connection state recovery data in Redis, so that a client
//! recovers on any node, also after the node it was on died.
//!
//! - Packets: a stream per namespace (`<key>-packets#<ns>`), one entry per
//!   recoverable packet (`o` = its offset, `m` = the MessagePack packet),
//!   trimmed to the recovery window with `MINID ~`. Entries go out through
//!   the broker's ordered publishing queue, so a node's packets keep their
//!   order.
//! - Sessions: a key per session (`<key>-session#<ns>#<pid>`) with the
//!   window as its expiry, taken with `GETDEL` (restored once).
//!
//! A restore costs one round trip for an unknown session, none for an
//! offset that is not one or is out of the window, one (a script that
//! looks near the time the offset carries) for an offset that is not in
//! the stream, and then one per page of what was sent since, read until
//! the replay cap.

use crate::channels::{packets_key, session_key};
use crate::writer::Outgoing;
use bytes::Bytes;
use fred::clients::Client;
use fred::interfaces::ClientLike;
use fred::types::{ClusterHash, CustomCommand, Value as RedisValue};
use smol_str::SmolStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use switchyard_cluster::broker::BoxFuture;
use switchyard_cluster::session_store::{
    decode_packet, decode_session, encode_packet, encode_session,
};
use switchyard_cluster::{BrokerCounters, BrokerError, SessionStore};
use switchyard_core::limits::Refused;
use switchyard_core::protocol::Packet;
use switchyard_core::recovery::{
    CLOCK_SKEW, LoggedPacket, Replay, SessionState, Unrecoverable, offset_in_window, offset_millis,
};
use switchyard_core::{Room, Sid};
use tokio::sync::mpsc;

/// Stream entries read per round trip after the offset.
const SCAN_BATCH: u64 = 500;

/// Finds the id of the entry whose `o` field is ARGV[3] between the stream
/// ids ARGV[1] and ARGV[2], reading in pages inside Redis.
const LOCATE: &str = r#"
local start = ARGV[1]
while true do
  local page = redis.call('XRANGE', KEYS[1], start, ARGV[2], 'COUNT', 256)
  if #page == 0 then return false end
  for _, entry in ipairs(page) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'o' and fields[i + 1] == ARGV[3] then return entry[1] end
    end
  end
  start = '(' .. page[#page][1]
end
"#;

/// The Redis side of recovery: writes through the broker's queue, reads
/// with its publishing client.
pub(crate) struct RedisStore {
    pub prefix: String,
    pub outgoing: mpsc::Sender<Outgoing>,
    pub client: Client,
    pub counters: Arc<BrokerCounters>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

fn command(name: &'static str) -> CustomCommand {
    CustomCommand::new_static(name, ClusterHash::FirstKey, false)
}

impl RedisStore {
    fn queue(&self, entry: Outgoing) {
        if self.outgoing.try_send(entry).is_err() {
            self.counters.publish_failure();
            tracing::warn!(
                broker = "redis",
                "publish queue full: recovery data dropped"
            );
        }
    }
}

impl SessionStore for RedisStore {
    fn append(&self, ns: &SmolStr, packet: &LoggedPacket, keep: Duration) {
        self.queue(Outgoing::Append {
            key: packets_key(&self.prefix, ns),
            offset: packet.offset.clone(),
            payload: encode_packet(packet),
            min_id: now_ms().saturating_sub(millis(keep)),
            ttl_ms: millis(keep).max(1),
        });
    }

    fn save(&self, ns: &SmolStr, session: &SessionState, keep: Duration) {
        self.queue(Outgoing::Save {
            key: session_key(&self.prefix, ns, &session.pid),
            payload: encode_session(session),
            ttl_ms: millis(keep).max(1),
        });
    }

    fn take(
        &self,
        ns: &SmolStr,
        pid: &Sid,
    ) -> BoxFuture<Result<Option<SessionState>, BrokerError>> {
        let client = self.client.clone();
        let session_key = session_key(&self.prefix, ns, pid);
        Box::pin(async move {
            let taken: RedisValue = client
                .custom(command("GETDEL"), vec![RedisValue::from(session_key)])
                .await
                .map_err(unavailable)?;
            let Some(bytes) = taken.into_bytes() else {
                return Ok(None);
            };
            match decode_session(&bytes) {
                Ok(session) => Ok(Some(session)),
                Err(e) => {
                    tracing::warn!(broker = "redis", error = %e, "a malformed session in Redis: skipped");
                    Ok(None)
                }
            }
        })
    }

    fn missed(
        &self,
        ns: &SmolStr,
        offset: &str,
        rooms: &[Room],
        keep: Duration,
        max_bytes: usize,
    ) -> BoxFuture<Result<Result<Vec<Packet>, Unrecoverable>, BrokerError>> {
        let client = self.client.clone();
        let stream = packets_key(&self.prefix, ns);
        let (ns, offset) = (ns.clone(), offset.to_owned());
        let replay = Replay::new(rooms, max_bytes);
        Box::pin(async move {
            // Not an offset, or out of the window: nothing to ask.
            let Some(made) = offset_millis(&offset).filter(|_| offset_in_window(&offset, keep))
            else {
                return Ok(Err(Unrecoverable::UnknownOffset));
            };
            let Some(id) = locate(&client, &stream, &offset, made).await? else {
                return Ok(Err(Unrecoverable::UnknownOffset));
            };
            read_after(&client, &stream, &ns, &id, replay).await
        })
    }
}

fn unavailable(e: fred::error::Error) -> BrokerError {
    BrokerError::Unavailable(e.to_string())
}

/// The stream id of the entry with this offset, looked for near its time
/// inside Redis (one round trip).
async fn locate(
    client: &Client,
    stream: &str,
    offset: &str,
    made_ms: u64,
) -> Result<Option<String>, BrokerError> {
    let skew = millis(CLOCK_SKEW);
    let located: RedisValue = client
        .custom(
            CustomCommand::new_static("EVAL", ClusterHash::Offset(2), false),
            vec![
                RedisValue::from(LOCATE),
                RedisValue::from(1),
                RedisValue::from(stream.to_owned()),
                RedisValue::from(made_ms.saturating_sub(skew).to_string()),
                RedisValue::from(made_ms.saturating_add(skew).to_string()),
                RedisValue::from(offset.to_owned()),
            ],
        )
        .await
        .map_err(unavailable)?;
    Ok(located.into_string())
}

/// What the stream holds after the entry `id`, page by page, up to the
/// replay's cap.
async fn read_after(
    client: &Client,
    stream: &str,
    ns: &SmolStr,
    id: &str,
    mut replay: Replay,
) -> Result<Result<Vec<Packet>, Unrecoverable>, BrokerError> {
    let mut start = format!("({id}");
    loop {
        let page: RedisValue = client
            .custom(
                command("XRANGE"),
                vec![
                    RedisValue::from(stream.to_owned()),
                    RedisValue::from(start.clone()),
                    RedisValue::from("+"),
                    RedisValue::from("COUNT"),
                    RedisValue::from(SCAN_BATCH as i64),
                ],
            )
            .await
            .map_err(unavailable)?;
        let entries = entries(page);
        let Some((last_id, _)) = entries.last() else {
            return Ok(Ok(replay.finish()));
        };
        start = format!("({last_id}");
        for (_, payload) in &entries {
            let packet = match decode_packet(payload, ns) {
                Ok(packet) => packet,
                Err(e) => {
                    tracing::warn!(broker = "redis", error = %e, "a malformed packet in the recovery stream: skipped");
                    continue;
                }
            };
            if let Err(too_much) = replay.offer(&packet) {
                switchyard_core::refused!(
                    Refused::RecoveryReplay,
                    "too much missed to replay: not recovered"
                );
                return Ok(Err(too_much));
            }
        }
    }
}

/// `[[id, [field, value, …]], …]` → `(id, value of field "m")`.
fn entries(page: RedisValue) -> Vec<(String, Bytes)> {
    page.into_array()
        .into_iter()
        .filter_map(|entry| {
            let mut parts = entry.into_array().into_iter();
            let id = parts.next()?.into_string()?;
            let fields = parts.next()?.into_array();
            let payload = fields
                .chunks(2)
                .find(|pair| pair[0].as_str().as_deref() == Some("m"))
                .and_then(|pair| pair.get(1).cloned())?
                .into_bytes()?;
            Some((id, payload))
        })
        .collect()
}
