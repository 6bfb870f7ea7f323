//! The publishers: to the rooms at `--rate`, and to everyone at
//! `--all-rate`, each message stamped with the clock.

use super::clock::now_ns;
use super::settings::FanoutArgs;
use super::subscribers::room_name;
use crate::client::{Client, Target, Transport};
use crate::{Common, progress};
use std::time::Duration;

/// A publisher connection through `target`.
async fn publisher(common: &Common, target: &Target, slot: usize) -> Result<Client, String> {
    Client::connect(
        target,
        common.source_address(slot),
        Transport::WebSocket,
        "/",
        None,
    )
    .await
    .map_err(|e| format!("publisher: {}", e.0))
}

/// Makes sure the server read everything `publisher` sent (its answer to
/// an echo comes after).
async fn settled(publisher: &mut Client) -> Result<(), String> {
    publisher
        .emit_with_ack(r#"["echo",1]"#, Duration::from_secs(60))
        .await
        .map(|_| ())
        .map_err(|e| format!("publisher: {}", e.0))
}

/// Publishes `total` room messages at `--rate`, each stamped with the
/// clock: through the first node, or with several rooms through the node
/// after the one serving the room. Returns the publishers, for the caller
/// to close after the drain.
pub async fn publish_to_rooms(
    common: &Common,
    args: &FanoutArgs,
    targets: &[Target],
    total: u64,
) -> Result<(u64, Vec<Client>), String> {
    let rooms = args.rooms.max(1);
    let mut publishers = Vec::new();
    let through = if rooms == 1 { 1 } else { targets.len() };
    for (j, target) in targets.iter().enumerate().take(through) {
        let slot = args.subscribers + args.slow_consumers + 1 + j;
        publishers.push(publisher(common, target, slot).await?);
    }
    let padding = "x".repeat(args.size.saturating_sub(40));
    let bar = progress(common, total, "published");
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate.max(1e-3)));
    for seq in 0..total {
        ticker.tick().await;
        let t = now_ns();
        let k = (seq % rooms as u64) as usize;
        let body = format!(
            r#"["publish",{{"room":"{}","payload":{{"t":{t},"s":{seq},"p":"{padding}"}}}}]"#,
            room_name(args, k)
        );
        let through = (k + 1) % publishers.len();
        publishers[through]
            .emit(&body)
            .await
            .map_err(|e| format!("publisher: {e}"))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    for publisher in &mut publishers {
        settled(publisher).await?;
    }
    Ok((total, publishers))
}

/// Publishes `total` messages to everyone at `--all-rate`.
pub async fn publish_to_all(
    common: &Common,
    args: &FanoutArgs,
    target: &Target,
    total: u64,
) -> Result<(u64, Option<Client>), String> {
    if total == 0 {
        return Ok((0, None));
    }
    let slot = args.subscribers + args.slow_consumers + 1 + common.url.len();
    let mut client = publisher(common, target, slot).await?;
    let padding = "x".repeat(args.size.saturating_sub(40));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.all_rate));
    for seq in 0..total {
        ticker.tick().await;
        let t = now_ns();
        let body = format!(
            r#"["publish",{{"room":null,"payload":{{"t":{t},"a":{seq},"p":"{padding}"}}}}]"#
        );
        client
            .emit(&body)
            .await
            .map_err(|e| format!("publisher to everyone: {e}"))?;
    }
    settled(&mut client).await?;
    Ok((total, Some(client)))
}
