//! The ordered reader under a burst, against the NATS server on
//! 127.0.0.1:4222: one node subscribed to its namespace and to 2,000 rooms,
//! another publishing 20,000 messages in a tight loop over 50 of those rooms
//! and the namespace. Every message arrives once, in publish order, while a
//! third task keeps adding and removing other rooms' subscriptions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use std::time::Duration;
use switchyard_cluster::{Broker, Channel};
use switchyard_nats::{NatsBroker, NatsConfig};

async fn broker(
    prefix: &str,
) -> (
    NatsBroker,
    tokio::sync::mpsc::Receiver<switchyard_cluster::Delivery>,
) {
    let config = NatsConfig {
        url: std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        prefix: prefix.into(),
        ..NatsConfig::default()
    };
    NatsBroker::connect(config)
        .await
        .expect("NATS is reachable")
}

fn room(n: usize) -> Channel {
    Channel::Room {
        ns: "/".into(),
        room: format!("r{n}").into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_many_subjects_arrives_whole_and_in_order() {
    let prefix = format!("reader-{}", std::process::id());
    let (receiver, mut incoming) = broker(&prefix).await;
    let (publisher, _) = broker(&prefix).await;
    let mut channels = vec![Channel::Namespace("/".into())];
    channels.extend((0..2000).map(room));
    receiver.subscribe(channels).await.expect("subscribed");

    // Subscriptions coming and going meanwhile (rooms nobody publishes to).
    let receiver = std::sync::Arc::new(receiver);
    let churn = {
        let receiver = receiver.clone();
        tokio::spawn(async move {
            for n in 0..300 {
                let channel = room(10_000 + n % 30);
                receiver.subscribe(vec![channel.clone()]).await.unwrap();
                receiver.unsubscribe(vec![channel]).await.unwrap();
            }
        })
    };
    const TOTAL: u64 = 20_000;
    for seq in 0..TOTAL {
        let channel = match seq % 3 {
            0 => Channel::Namespace("/".into()),
            _ => room((seq as usize * 7) % 50),
        };
        publisher.publish(&channel, Bytes::from(seq.to_be_bytes().to_vec()));
        if seq % 2000 == 1999 {
            publisher.flush().await;
        }
    }
    for expected in 0..TOTAL {
        let delivery = tokio::time::timeout(Duration::from_secs(20), incoming.recv())
            .await
            .unwrap_or_else(|_| panic!("message {expected} of {TOTAL} never came"))
            .expect("the reader runs");
        let seq = u64::from_be_bytes(delivery.payload[..].try_into().expect("8 bytes"));
        assert_eq!(
            seq, expected,
            "in publish order, none lost ({})",
            delivery.channel
        );
    }
    churn.await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), incoming.recv())
            .await
            .is_err(),
        "nothing twice"
    );
    assert_eq!(receiver.stats().lost_incoming, 0);
    assert_eq!(publisher.stats().publish_failures, 0);
}
