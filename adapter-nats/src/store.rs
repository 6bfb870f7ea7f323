//! `NatsStore`: connection state recovery data in NATS JetStream, so that a
//! client recovers on any node, also after the node it was on died.
//!
//! - Packets: a stream `switchyard_<prefix>_packets` capturing the subjects
//!   `<prefix>.<namespace>.packets`, with the recovery window as its
//!   maximum age. Packets are published through the broker's ordered queue
//!   (a plain publish: JetStream stores it, nobody waits for an ack).
//! - Sessions: a stream `switchyard_<prefix>_sessions` with one message per
//!   subject `<prefix>.<namespace>.sessions.<pid>` and the window as its
//!   maximum age; restoring deletes the message it read, so a session is
//!   restored once (a second node deleting it fails).
//!
//! Both streams are created on first use by the publishing task, with the
//! window the server is configured with. (Sessions are not in a key-value
//! bucket: async-nats creates buckets through an account query that NATS
//! 2.9 answers in a shape it cannot read.)

use crate::subject::token;
use crate::writer::Outgoing;
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use smol_str::SmolStr;
use std::sync::Arc;
use std::time::Duration;
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

/// How long reading the packet stream may take.
const READ_WAIT: Duration = Duration::from_secs(5);

/// Names of the stream, the bucket and their subjects for one prefix.
#[derive(Clone, Debug)]
pub(crate) struct StoreNames {
    prefix: String,
}

impl StoreNames {
    pub fn new(prefix: &str) -> Self {
        StoreNames {
            prefix: token(prefix),
        }
    }
    pub fn stream(&self) -> String {
        format!("switchyard_{}_packets", self.prefix)
    }
    pub fn sessions_stream(&self) -> String {
        format!("switchyard_{}_sessions", self.prefix)
    }
    pub fn packets_subject(&self, ns: &str) -> String {
        format!("{}.{}.packets", self.prefix, token(ns))
    }
    pub fn session_subject(&self, ns: &str, pid: &str) -> String {
        format!("{}.{}.sessions.{}", self.prefix, token(ns), token(pid))
    }
}

/// The JetStream side of recovery.
pub(crate) struct NatsStore {
    pub names: StoreNames,
    pub outgoing: mpsc::Sender<Outgoing>,
    pub jetstream: jetstream::Context,
    pub counters: Arc<BrokerCounters>,
}

/// The two streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    Packets,
    Sessions,
}

/// Creates a stream if needed (called by the publishing task before the
/// first message for it, so that JetStream captures that message).
pub(crate) async fn ensure_stream(
    jetstream: &jetstream::Context,
    names: &StoreNames,
    kept: Kept,
    keep: Duration,
    replicas: usize,
) -> Result<(), String> {
    let config = match kept {
        Kept::Packets => stream::Config {
            name: names.stream(),
            subjects: vec![format!("{}.*.packets", names.prefix)],
            max_age: keep,
            num_replicas: replicas,
            ..Default::default()
        },
        Kept::Sessions => stream::Config {
            name: names.sessions_stream(),
            subjects: vec![format!("{}.*.sessions.*", names.prefix)],
            max_age: keep,
            max_messages_per_subject: 1,
            num_replicas: replicas,
            ..Default::default()
        },
    };
    jetstream
        .get_or_create_stream(config)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

impl NatsStore {
    fn queue(&self, entry: Outgoing) {
        if self.outgoing.try_send(entry).is_err() {
            self.counters.publish_failure();
            tracing::warn!(broker = "nats", "publish queue full: recovery data dropped");
        }
    }
}

impl SessionStore for NatsStore {
    fn append(&self, ns: &SmolStr, packet: &LoggedPacket, keep: Duration) {
        self.queue(Outgoing::Keep {
            kept: Kept::Packets,
            subject: self.names.packets_subject(ns),
            payload: encode_packet(packet),
            keep,
        });
    }

    fn save(&self, ns: &SmolStr, session: &SessionState, keep: Duration) {
        self.queue(Outgoing::Keep {
            kept: Kept::Sessions,
            subject: self.names.session_subject(ns, &session.pid),
            payload: encode_session(session),
            keep,
        });
    }

    fn take(
        &self,
        ns: &SmolStr,
        pid: &Sid,
    ) -> BoxFuture<Result<Option<SessionState>, BrokerError>> {
        let session_subject = self.names.session_subject(ns, pid);
        let (jetstream, names) = (self.jetstream.clone(), self.names.clone());
        let take = async move {
            let Ok(sessions) = jetstream.get_stream(names.sessions_stream()).await else {
                return Ok(None);
            };
            let Ok(message) = sessions
                .get_last_raw_message_by_subject(&session_subject)
                .await
            else {
                return Ok(None);
            };
            // Taken by deleting it: a second node taking it fails here.
            if !matches!(sessions.delete_message(message.sequence).await, Ok(true)) {
                return Ok(None);
            }
            match decode_session(&message.payload) {
                Ok(session) => Ok(Some(session)),
                Err(e) => {
                    tracing::warn!(broker = "nats", error = %e, "a malformed session in JetStream: skipped");
                    Ok(None)
                }
            }
        };
        // JetStream without a stream leader (a server died) answers late or
        // never: the client is answered anyway, with a fresh session.
        Box::pin(async move {
            tokio::time::timeout(READ_WAIT, take)
                .await
                .unwrap_or_else(|_| {
                    Err(BrokerError::Unavailable(
                        "JetStream did not answer in time".into(),
                    ))
                })
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
        let packets_subject = self.names.packets_subject(ns);
        let (jetstream, names) = (self.jetstream.clone(), self.names.clone());
        let (ns, offset) = (ns.clone(), offset.to_owned());
        let replay = Replay::new(rooms, max_bytes);
        Box::pin(async move {
            // Not an offset, or out of the window: nothing to ask.
            let Some(made) = offset_millis(&offset).filter(|_| offset_in_window(&offset, keep))
            else {
                return Ok(Err(Unrecoverable::UnknownOffset));
            };
            let read = replay_after(
                &jetstream,
                &names,
                &packets_subject,
                &ns,
                &offset,
                made,
                replay,
            );
            let found = tokio::time::timeout(READ_WAIT, read)
                .await
                .map_err(|_| BrokerError::Unavailable("JetStream did not answer in time".into()))?
                .map_err(BrokerError::Unavailable)?;
            Ok(match found {
                Found::Missed(missed) => Ok(missed),
                Found::NotKept => Err(Unrecoverable::UnknownOffset),
                Found::TooMuch => {
                    switchyard_core::refused!(
                        Refused::RecoveryReplay,
                        "too much missed to replay: not recovered"
                    );
                    Err(Unrecoverable::TooMuch)
                }
            })
        })
    }
}

/// What reading the packet stream after an offset found.
enum Found {
    Missed(Vec<Packet>),
    NotKept,
    TooMuch,
}

/// Reads the packets of a namespace from shortly before the offset's time:
/// finds the offset (looking no further than the clock skew past its
/// time), then collects what the session missed, up to the replay cap.
async fn replay_after(
    jetstream: &jetstream::Context,
    names: &StoreNames,
    subject: &str,
    ns: &SmolStr,
    offset: &str,
    made_ms: u64,
    mut replay: Replay,
) -> Result<Found, String> {
    let Ok(stream) = jetstream.get_stream(names.stream()).await else {
        return Ok(Found::NotKept);
    };
    let skew = CLOCK_SKEW.as_millis() as u64;
    let start_ms = made_ms.saturating_sub(skew);
    let start_time = async_nats::datetime::from_nanos(i128::from(start_ms) * 1_000_000)
        .map_err(|e| e.to_string())?;
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: subject.to_owned(),
            deliver_policy: consumer::DeliverPolicy::ByStartTime { start_time },
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    if consumer.cached_info().num_pending == 0 {
        return Ok(Found::NotKept);
    }
    let latest_ms = made_ms.saturating_add(skew);
    let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
    let read = async {
        let mut located = false;
        while let Some(message) = messages.next().await {
            let message = message.map_err(|e| e.to_string())?;
            let pending = message.info().map(|i| i.pending).unwrap_or(0);
            match decode_packet(&message.payload, ns) {
                Ok(packet) if located => {
                    if replay.offer(&packet).is_err() {
                        return Ok(Found::TooMuch);
                    }
                }
                Ok(packet) if packet.offset == offset => located = true,
                Ok(packet) => {
                    // Past the offset's time (and the skew): it is not kept.
                    if offset_millis(&packet.offset).is_some_and(|ms| ms > latest_ms) {
                        return Ok(Found::NotKept);
                    }
                }
                Err(e) => {
                    tracing::warn!(broker = "nats", error = %e, "a malformed packet in the recovery stream: skipped")
                }
            }
            if pending == 0 {
                break;
            }
        }
        Ok(if located {
            Found::Missed(std::mem::replace(&mut replay, Replay::new(&[], 0)).finish())
        } else {
            Found::NotKept
        })
    };
    tokio::time::timeout(READ_WAIT, read)
        .await
        .map_err(|_| "reading the recovery stream timed out".to_owned())?
}
