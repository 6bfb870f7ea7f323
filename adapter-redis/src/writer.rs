//! The ordered publishing queue and the task that empties it: messages,
//! recovery packets and sessions go out in order, a pipeline per batch.

use crate::client::command;
use bytes::Bytes;
use fred::clients::{Client, Pipeline};
use fred::prelude::*;
use fred::types::Value as RedisValue;
use smol_str::SmolStr;
use std::sync::Arc;
use switchyard_cluster::BrokerCounters;
use tokio::sync::{mpsc, oneshot};

/// Publishes sent per pipeline (one round trip).
const BATCH: usize = 256;

/// An entry of the ordered publishing queue.
pub(crate) enum Outgoing {
    Message(String, Bytes),
    /// A recoverable packet for a stream, trimmed to entries after `min_id`
    /// (ms); the stream expires `ttl_ms` after its last packet.
    Append {
        key: String,
        offset: SmolStr,
        payload: Bytes,
        min_id: u64,
        ttl_ms: u64,
    },
    /// A session kept for `ttl_ms`.
    Save {
        key: String,
        payload: Bytes,
        ttl_ms: u64,
    },
    /// Everything queued before has been sent.
    Flushed(oneshot::Sender<()>),
}

/// What a batch collects besides its commands.
#[derive(Default)]
struct Batch {
    /// Waiting for everything queued before them to be sent.
    flushed: Vec<oneshot::Sender<()>>,
    /// Streams appended to in this batch, with their expiry: without
    /// traffic nothing trims a stream, so it expires instead.
    streams: Vec<(String, u64)>,
}

/// Publishes queued messages in order, a pipeline per batch.
pub(crate) async fn write(
    publisher: Client,
    mut queue: mpsc::Receiver<Outgoing>,
    counters: Arc<BrokerCounters>,
    sharded: bool,
) {
    let mut entries = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut entries, BATCH).await > 0 {
        let pipeline = publisher.pipeline();
        let mut batch = Batch::default();
        for entry in entries.drain(..) {
            if let Err(e) = queue_entry(&pipeline, entry, sharded, &mut batch).await {
                counters.publish_failure();
                tracing::debug!(broker = "redis", error = %e, "publish not queued");
            }
        }
        expire_streams(&pipeline, batch.streams).await;
        send(&pipeline, &counters).await;
        for done in batch.flushed {
            let _ = done.send(());
        }
    }
}

/// Adds the command for `entry` to the pipeline (a flush marker waits in
/// `batch` for the pipeline to be sent).
async fn queue_entry(
    pipeline: &Pipeline<Client>,
    entry: Outgoing,
    sharded: bool,
    batch: &mut Batch,
) -> Result<(), Error> {
    match entry {
        Outgoing::Message(channel, payload) if sharded => pipeline.spublish(channel, payload).await,
        Outgoing::Message(channel, payload) => pipeline.publish(channel, payload).await,
        Outgoing::Append {
            key,
            offset,
            payload,
            min_id,
            ttl_ms,
        } => {
            match batch.streams.iter_mut().find(|(k, _)| *k == key) {
                Some((_, ttl)) => *ttl = ttl_ms,
                None => batch.streams.push((key.clone(), ttl_ms)),
            }
            let args: Vec<RedisValue> = vec![
                key.into(),
                "MINID".into(),
                "~".into(),
                min_id.to_string().into(),
                "*".into(),
                "o".into(),
                offset.as_str().into(),
                "m".into(),
                payload.into(),
            ];
            pipeline.custom(command("XADD"), args).await
        }
        Outgoing::Save {
            key,
            payload,
            ttl_ms,
        } => {
            let args: Vec<RedisValue> = vec![
                key.into(),
                payload.into(),
                "PX".into(),
                ttl_ms.to_string().into(),
            ];
            pipeline.custom(command("SET"), args).await
        }
        Outgoing::Flushed(done) => {
            batch.flushed.push(done);
            Ok(())
        }
    }
}

/// Sets the expiry of every stream the batch appended to.
async fn expire_streams(pipeline: &Pipeline<Client>, streams: Vec<(String, u64)>) {
    for (key, ttl_ms) in streams {
        let args: Vec<RedisValue> = vec![key.into(), ttl_ms.to_string().into()];
        let queued: Result<(), Error> = pipeline.custom(command("PEXPIRE"), args).await;
        if let Err(e) = queued {
            tracing::debug!(broker = "redis", error = %e, "stream expiry not queued");
        }
    }
}

/// Sends the pipeline in one round trip; counts the commands that failed.
async fn send(pipeline: &Pipeline<Client>, counters: &BrokerCounters) {
    let started = std::time::Instant::now();
    let results = pipeline.try_all::<RedisValue>().await;
    switchyard_cluster::broker::record_publish("redis", started);
    let failed = results.iter().filter(|r| r.is_err()).count();
    if failed > 0 {
        for _ in 0..failed {
            counters.publish_failure();
        }
        tracing::warn!(
            broker = "redis",
            failed,
            "publishes failed (Redis unreachable?)"
        );
    }
}
