//! Answers to an emitter's `sockets_join` in Switchyard's format: nodes
//! confirm a join once they joined their sockets and heard the room
//! (subscribed to its channel), each on the requester's node channel. An
//! emitter's is `<…node…>#emitter#`, which every emitter of a namespace
//! shares; answers are told apart by request id. The emitter subscribes to
//! it (one subscriber connection, made at the first join) and waits for as
//! many answers as there are nodes (the subscribers of the namespace's
//! channel), so what it broadcasts to the room afterwards reaches the new
//! members: the join is confirmed, not given a head start.

use crate::channels::name;
use crate::config::RedisConfig;
use crate::incoming::delivery;
use crate::topology::{NodeClients, count_subscribers};
use fred::clients::{Client, SubscriberClient};
use fred::prelude::*;
use parking_lot::Mutex;
use smol_str::SmolStr;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use switchyard_cluster::message::{Body, EMITTER_UID, RequestId};
use switchyard_cluster::{Channel, WireFormat};
use tokio::sync::mpsc;

/// How long a join waits for the nodes' confirmations.
pub const JOIN_WAIT: Duration = Duration::from_secs(5);

type Waiting = Arc<Mutex<HashMap<RequestId, mpsc::UnboundedSender<Option<String>>>>>;

/// The subscriber connection and the joins waiting for answers.
pub(super) struct Answers {
    subscriber: SubscriberClient,
    /// Namespaces whose node channel is subscribed.
    namespaces: tokio::sync::Mutex<HashSet<SmolStr>>,
    waiting: Waiting,
    /// On a Redis Cluster with classic pub/sub, one connection per node to
    /// count the nodes of a namespace.
    nodes: Option<NodeClients>,
}

impl Answers {
    /// Connects the subscriber and starts reading its messages.
    pub(super) async fn connect(
        config: &RedisConfig,
        client: &Client,
        format: Arc<dyn WireFormat>,
    ) -> Result<Answers, String> {
        let builder = crate::client::builder(config).map_err(|e| e.to_string())?;
        let subscriber = builder
            .build_subscriber_client()
            .map_err(|e| e.to_string())?;
        let messages = subscriber.message_rx();
        subscriber.init().await.map_err(|e| e.to_string())?;
        let waiting = Waiting::default();
        tokio::spawn(read(messages, format, waiting.clone()));
        let nodes = client.is_clustered().then(|| NodeClients::new(builder));
        Ok(Answers {
            subscriber,
            namespaces: tokio::sync::Mutex::new(HashSet::new()),
            waiting,
            nodes,
        })
    }

    /// Joins `rooms` through `publish`ing the request, then waits for every
    /// node of `nsp` to confirm.
    pub(super) async fn confirm(
        &self,
        config: &RedisConfig,
        client: &Client,
        nsp: &SmolStr,
        publish: impl Future<Output = Result<(), String>>,
        request_id: RequestId,
    ) -> Result<(), String> {
        self.listen(config, nsp).await?;
        let ns_channel = name(
            &config.prefix,
            config.format,
            &Channel::Namespace(nsp.clone()),
        );
        let nodes =
            count_subscribers(client, self.nodes.as_ref(), config.is_sharded(), ns_channel).await?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.waiting.lock().insert(request_id.clone(), tx);
        let outcome = async {
            publish.await?;
            for confirmed in 0..nodes {
                match tokio::time::timeout(JOIN_WAIT, rx.recv()).await {
                    Ok(Some(None)) => {}
                    Ok(Some(Some(error))) => return Err(error),
                    _ => return Err(format!("{confirmed} of {nodes} nodes confirmed the join")),
                }
            }
            Ok(())
        }
        .await;
        self.waiting.lock().remove(&request_id);
        outcome
    }

    /// Subscribes to this emitter's node channel in `nsp`, once.
    async fn listen(&self, config: &RedisConfig, nsp: &SmolStr) -> Result<(), String> {
        let mut namespaces = self.namespaces.lock().await;
        if namespaces.contains(nsp) {
            return Ok(());
        }
        let channel = Channel::Node {
            ns: nsp.clone(),
            node: SmolStr::new_static(EMITTER_UID),
        };
        let channel = name(&config.prefix, config.format, &channel);
        let subscribed: Result<(), fred::error::Error> = if config.is_sharded() {
            self.subscriber.ssubscribe(channel).await
        } else {
            self.subscriber.subscribe(channel).await
        };
        subscribed.map_err(|e| e.to_string())?;
        namespaces.insert(nsp.clone());
        Ok(())
    }

    pub(super) async fn close(&self) {
        let _ = self.subscriber.quit().await;
        if let Some(nodes) = &self.nodes {
            nodes.close().await;
        }
    }
}

/// Hands each confirmation to the join waiting for it; anything else
/// (another emitter's answers included) is skipped.
async fn read(
    mut messages: tokio::sync::broadcast::Receiver<fred::types::Message>,
    format: Arc<dyn WireFormat>,
    waiting: Waiting,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let message = match messages.recv().await {
            Ok(message) => message,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let Ok(message) = format.decode(&delivery(message)) else {
            continue;
        };
        if let Body::JoinConfirmation { request_id, error } = message.body
            && let Some(waiter) = waiting.lock().get(&request_id)
        {
            let _ = waiter.send(error);
        }
    }
}
