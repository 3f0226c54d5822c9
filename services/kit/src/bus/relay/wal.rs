//! The WAL source: each event is a logical decoding message in the WAL of the transaction that
//! announces it (the outbox trigger of kit migration 0004 writes it instead of a row), and the
//! relay reads the service's replication slot in commit order. Nothing is stored, claimed,
//! deleted or vacuumed; PostgreSQL keeps the WAL until the relay confirms it.
//!
//! An event is published as soon as its transaction's commit arrives; the slot's position moves
//! past a transaction only once JetStream has acknowledged it and everything before it, so a
//! relay that dies between publish and confirm publishes again from the confirmed position, and
//! the duplicate window drops the copies. One session holds a slot at a time: a replica whose
//! peer holds it waits as a standby and takes over when the peer's session ends.

use std::time::Duration;

use futures::{FutureExt, StreamExt, future::BoxFuture, stream::FuturesOrdered};
use pgwire_replication::{
    Lsn, PgWireError, ReplicationClient, ReplicationConfig, ReplicationEvent,
};
use sqlx::PgPool;

use super::{Envelope, RelayError, slot, table, visible::Visibility};
use crate::{
    Shutdown,
    bus::Bus,
    settings::DatabaseSettings,
    shutdown::{backoff, sleep_or_shutdown},
};

/// How a session ended, when it did not fail.
enum Ended {
    /// Shutdown (or the drain's stop position) ended it.
    Done,
    /// Another session holds the slot.
    Held,
}

/// Runs the WAL relay of `producer` until shutdown.
pub(super) async fn run(
    pool: PgPool,
    database: DatabaseSettings,
    bus: Bus,
    producer: &'static str,
    shutdown: Shutdown,
) {
    let mut rows = table::Relay::new(pool.clone(), bus.clone(), producer);
    let mut prepared: Option<(String, ReplicationConfig)> = None;
    let mut lag = None;
    let mut failures: u32 = 0;
    let mut standby = false;
    while !shutdown.is_cancelled() {
        let attempt = async {
            let (slot, target) = match &prepared {
                Some(p) => p.clone(),
                None => {
                    bus.ensure_stream(producer)
                        .await
                        .map_err(|e| RelayError::Target(e.to_string()))?;
                    let slot = slot::slot_name(&slot::database(&pool).await?, producer);
                    slot::prepare(&pool, &slot).await?;
                    // The rows written before the trigger, or while the service ran on the table.
                    let drained = rows.drain().await?;
                    if drained > 0 {
                        tracing::info!(
                            producer,
                            drained,
                            "WAL relay published the outbox rows left from before"
                        );
                    }
                    let target =
                        slot::target(&database, &slot, &format!("redsupply-{producer}-relay"))?;
                    (slot, target)
                }
            };
            prepared = Some((slot.clone(), target.clone()));
            Ok::<_, RelayError>((slot, target))
        };
        let (slot, target) = match attempt.await {
            Ok(p) => p,
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, producer, "WAL relay cannot start yet");
                if sleep_or_shutdown(backoff(failures), &shutdown).await {
                    break;
                }
                continue;
            }
        };
        if lag.is_none() {
            lag = Some(tokio::spawn(slot::report_lag(
                pool.clone(),
                slot,
                producer,
                shutdown.clone(),
            )));
        }
        match stream(&pool, &bus, producer, target, None, &shutdown).await {
            Ok(Ended::Done) => break,
            Ok(Ended::Held) => {
                if !standby {
                    tracing::info!(producer, "WAL relay is a standby: a peer holds the slot");
                }
                standby = true;
                failures = 0;
                if sleep_or_shutdown(bus.settings().relay_standby_retry(), &shutdown).await {
                    break;
                }
            }
            Err(e) => {
                // Prepared again before the next session: the slot may have gone (a restore, a
                // drop by hand), or the stream.
                prepared = None;
                standby = false;
                failures += 1;
                metrics::counter!("outbox_publish_failures_total", "service" => producer)
                    .increment(1);
                tracing::warn!(error = %e, producer, "WAL relay: the stream ended, will resume from the confirmed position");
                if sleep_or_shutdown(backoff(failures), &shutdown).await {
                    break;
                }
            }
        }
    }
    if let Some(lag) = lag {
        lag.abort();
    }
    tracing::info!(producer, "WAL relay stopped");
}

/// On the table source: the trigger goes, and what a WAL relay left in the slot is published up
/// to where the WAL stood then; the slot is dropped after. A peer still reading the slot keeps
/// it until it stops, so this retries until the slot is gone.
pub(super) async fn leave(
    pool: PgPool,
    database: DatabaseSettings,
    bus: Bus,
    producer: &'static str,
    shutdown: Shutdown,
) {
    let mut failures: u32 = 0;
    while !shutdown.is_cancelled() {
        let attempt = async {
            slot::remove_trigger(&pool).await?;
            let slot = slot::slot_name(&slot::database(&pool).await?, producer);
            let Some(until) = slot::drain_mark(&pool, &slot, producer).await? else {
                return Ok(true);
            };
            let target = slot::target(&database, &slot, &format!("redsupply-{producer}-relay"))?;
            match stream(&pool, &bus, producer, target, Some(until), &shutdown).await? {
                Ended::Done if !shutdown.is_cancelled() => {
                    let dropped = slot::drop_slot(&pool, &slot).await?;
                    if dropped {
                        tracing::info!(
                            producer,
                            slot,
                            "the WAL relay's slot is drained and dropped"
                        );
                    }
                    Ok(dropped)
                }
                _ => Ok::<_, RelayError>(false),
            }
        };
        let wait = match attempt.await {
            Ok(true) => return,
            Ok(false) => bus.settings().relay_standby_retry(),
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, producer, "the WAL relay's slot is not drained yet");
                backoff(failures)
            }
        };
        if sleep_or_shutdown(wait, &shutdown).await {
            return;
        }
    }
}

type Ack = BoxFuture<'static, Result<(u64, Option<Lsn>), RelayError>>;

/// One session on the slot: publishes each transaction's events of `producer` once it commits,
/// and confirms positions as JetStream acknowledges. Ends at shutdown, at `stop_at`, or on the
/// first failure.
async fn stream(
    pool: &PgPool,
    bus: &Bus,
    producer: &'static str,
    target: ReplicationConfig,
    stop_at: Option<Lsn>,
    shutdown: &Shutdown,
) -> Result<Ended, RelayError> {
    let target = match stop_at {
        Some(lsn) => target.with_stop_lsn(lsn),
        None => target,
    };
    let mut client = ReplicationClient::connect(target).await?;
    match client.wait_started().await {
        Err(PgWireError::Server(e)) if e.contains("55006") => return Ok(Ended::Held),
        other => other?,
    }
    let holding = metrics::gauge!("relay_holds_slot", "service" => producer);
    holding.set(1.0);
    let visibility = Visibility::new(pool.clone());
    let result = publish_stream(
        bus,
        producer,
        &mut client,
        visibility,
        stop_at.is_some(),
        shutdown,
    )
    .await;
    holding.set(0.0);
    client.stop();
    let _ = tokio::time::timeout(Duration::from_secs(2), client.shutdown()).await;
    result.map(|()| Ended::Done)
}

async fn publish_stream(
    bus: &Bus,
    producer: &'static str,
    client: &mut ReplicationClient,
    mut visibility: Visibility,
    bounded: bool,
    shutdown: &Shutdown,
) -> Result<(), RelayError> {
    let prefix = slot::prefix(producer);
    let in_flight_max = (bus.settings().relay_batch.max(1) as usize) * 4;
    let published = metrics::counter!("outbox_published_total", "service" => producer);
    let mut acks: FuturesOrdered<Ack> = FuturesOrdered::new();
    let mut events: Vec<Envelope> = Vec::new();
    let (mut in_transaction, mut ended) = (false, false);
    let mut xid = 0;
    // At shutdown: stop reading, and give what is in flight this long to be acknowledged.
    let mut stopping: Option<tokio::time::Instant> = None;
    loop {
        if (ended || stopping.is_some()) && acks.is_empty() {
            return Ok(());
        }
        tokio::select! {
            biased;
            done = acks.next(), if !acks.is_empty() => {
                let (n, lsn) = done.expect("acks is not empty")?;
                published.increment(n);
                if let Some(lsn) = lsn {
                    client.update_applied_lsn(lsn);
                }
            }
            _ = shutdown.cancelled(), if stopping.is_none() && !bounded => {
                stopping = Some(tokio::time::Instant::now() + Duration::from_secs(5));
            }
            _ = tokio::time::sleep_until(stopping.unwrap_or_else(tokio::time::Instant::now)), if stopping.is_some() => {
                return Ok(());
            }
            event = client.recv(), if !ended && stopping.is_none() && acks.len() < in_flight_max => {
                match event? {
                    None | Some(ReplicationEvent::StoppedAt { .. }) => ended = true,
                    Some(ReplicationEvent::Begin { xid: begun, .. }) => {
                        in_transaction = true;
                        xid = begun;
                        events.clear();
                    }
                    Some(ReplicationEvent::Message { prefix: p, content, .. }) if p == prefix => {
                        events.push(Envelope::decode(&content)?);
                    }
                    Some(ReplicationEvent::Commit { end_lsn, .. }) => {
                        in_transaction = false;
                        let n = events.len();
                        if n == 0 {
                            // Another service's transaction: past it once everything before is.
                            if acks.is_empty() {
                                client.update_applied_lsn(end_lsn);
                            } else {
                                acks.push_back(futures::future::ready(Ok((0, Some(end_lsn)))).boxed());
                            }
                        }
                        if n > 0 {
                            visibility.wait(xid).await?;
                        }
                        for (i, event) in events.drain(..).enumerate() {
                            let ack = event.send(bus).await?;
                            let confirms = (i + 1 == n).then_some(end_lsn);
                            acks.push_back(
                                async move { ack.await.map(|_| (1, confirms)).map_err(RelayError::from) }.boxed(),
                            );
                        }
                    }
                    Some(ReplicationEvent::KeepAlive { wal_end, .. }) => {
                        // Everything committed before `wal_end` has been sent: with nothing in
                        // flight, the slot may move up to it.
                        if !in_transaction && acks.is_empty() && !wal_end.is_zero() {
                            client.update_applied_lsn(wal_end);
                        }
                    }
                    Some(_) => {}
                }
            }
        }
    }
}
