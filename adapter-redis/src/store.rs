//! `RedisStore`: connection state recovery data in Redis, so that a client
//! recovers on any node, also after the node it was on died.
//!
//! - Packets: a stream per namespace (`<key>-packets#<ns>`), one entry per
//!   recoverable packet (`m` = the MessagePack packet), trimmed to the
//!   recovery window with `MINID ~`. Entries go out through the broker's
//!   ordered publishing queue, so a node's packets keep their order.
//! - Sessions: a key per session (`<key>-session#<ns>#<pid>`) with the
//!   window as its expiry, taken with `GETDEL` (restored once).

use crate::broker::Outgoing;
use crate::channels::{packets_key, session_key};
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
use switchyard_core::Sid;
use switchyard_core::recovery::{LoggedPacket, RecoveredSession, SessionState};
use tokio::sync::mpsc;

/// Stream entries read per round trip while looking for an offset.
const SCAN_BATCH: u64 = 500;

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
            payload: encode_packet(packet),
            min_id: now_ms().saturating_sub(millis(keep)),
        });
    }

    fn save(&self, ns: &SmolStr, session: &SessionState, keep: Duration) {
        self.queue(Outgoing::Save {
            key: session_key(&self.prefix, ns, &session.pid),
            payload: encode_session(session),
            ttl_ms: millis(keep).max(1),
        });
    }

    fn restore(
        &self,
        ns: &SmolStr,
        pid: &Sid,
        offset: &str,
        keep: Duration,
    ) -> BoxFuture<Result<Option<RecoveredSession>, BrokerError>> {
        let client = self.client.clone();
        let session_key = session_key(&self.prefix, ns, pid);
        let stream = packets_key(&self.prefix, ns);
        let (ns, offset) = (ns.clone(), offset.to_owned());
        Box::pin(async move {
            let unavailable = |e: fred::error::Error| BrokerError::Unavailable(e.to_string());
            let taken: RedisValue = client
                .custom(command("GETDEL"), vec![RedisValue::from(session_key)])
                .await
                .map_err(unavailable)?;
            let Some(bytes) = taken.into_bytes() else {
                return Ok(None);
            };
            let session = match decode_session(&bytes) {
                Ok(session) => session,
                Err(e) => {
                    tracing::warn!(broker = "redis", error = %e, "a malformed session in Redis: skipped");
                    return Ok(None);
                }
            };
            let oldest = now_ms().saturating_sub(millis(keep)).to_string();
            let mut newer: Vec<LoggedPacket> = Vec::new();
            let mut end = String::from("+");
            loop {
                let page: RedisValue = client
                    .custom(
                        command("XREVRANGE"),
                        vec![
                            RedisValue::from(stream.clone()),
                            RedisValue::from(end.clone()),
                            RedisValue::from(oldest.clone()),
                            RedisValue::from("COUNT"),
                            RedisValue::from(SCAN_BATCH as i64),
                        ],
                    )
                    .await
                    .map_err(unavailable)?;
                let entries = entries(page);
                let Some((last_id, _)) = entries.last() else {
                    // The offset is older than the window: cannot catch up.
                    return Ok(None);
                };
                end = format!("({last_id}");
                for (_, payload) in &entries {
                    let packet = match decode_packet(payload, &ns) {
                        Ok(packet) => packet,
                        Err(e) => {
                            tracing::warn!(broker = "redis", error = %e, "a malformed packet in the recovery stream: skipped");
                            continue;
                        }
                    };
                    if packet.offset == offset {
                        let missed = newer
                            .iter()
                            .rev()
                            .filter(|p| p.was_for(&session.rooms))
                            .map(|p| p.packet.clone())
                            .collect();
                        return Ok(Some(RecoveredSession { session, missed }));
                    }
                    newer.push(packet);
                }
            }
        })
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
