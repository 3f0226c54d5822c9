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

use super::{
    Envelope, RelayError,
    slot::{self, STATUS_INTERVAL},
    table,
    visible::Visibility,
};
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

/// How often a running WAL relay checks that the slot and the trigger are still there, and
/// publishes outbox rows a replica on the table source left; and how often a table relay looks
/// for a slot left behind.
const UPKEEP: Duration = Duration::from_secs(5);

/// The slot's name and where its stream connects, once the database answers.
async fn slot_of(
    pool: &PgPool,
    database: &DatabaseSettings,
    producer: &'static str,
) -> Result<(String, ReplicationConfig), RelayError> {
    let slot = slot::slot_name(&slot::database(pool).await?, producer);
    let target = slot::target(database, &slot, &format!("redsupply-{producer}-relay"))?;
    Ok((slot, target))
}

/// Retries `attempt` with back-off until it succeeds; None at shutdown.
async fn until_ok<T, F, Fut>(
    producer: &'static str,
    what: &str,
    shutdown: &Shutdown,
    mut attempt: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RelayError>>,
{
    let mut failures: u32 = 0;
    loop {
        match attempt().await {
            Ok(v) => return Some(v),
            Err(e) => {
                failures += 1;
                metrics::counter!("outbox_publish_failures_total", "service" => producer)
                    .increment(1);
                tracing::warn!(error = %e, producer, "{what}");
                if sleep_or_shutdown(backoff(failures), shutdown).await {
                    return None;
                }
            }
        }
    }
}

/// Runs the WAL relay of `producer` until shutdown.
pub(super) async fn run(
    pool: PgPool,
    database: DatabaseSettings,
    bus: Bus,
    producer: &'static str,
    shutdown: Shutdown,
) {
    let Some((slot, target)) = until_ok(
        producer,
        "WAL relay waits for its database",
        &shutdown,
        || slot_of(&pool, &database, producer),
    )
    .await
    else {
        return;
    };
    let lag = tokio::spawn(slot::report_lag(
        pool.clone(),
        slot.clone(),
        producer,
        shutdown.clone(),
    ));
    let (ready_tx, mut ready) = tokio::sync::watch::channel(false);
    let upkeep = tokio::spawn(upkeep(
        pool.clone(),
        bus.clone(),
        producer,
        slot.clone(),
        ready_tx,
        shutdown.clone(),
    ));
    let mut failures: u32 = 0;
    let mut standby = false;
    while !shutdown.is_cancelled() {
        // The slot exists and the trigger writes into it before the first session.
        tokio::select! {
            r = ready.wait_for(|r| *r) => if r.is_err() { break },
            _ = shutdown.cancelled() => break,
        }
        let outcome = match slot::held(&pool, &slot).await {
            Ok(true) => Ok(Ended::Held),
            Ok(false) => stream(&pool, &bus, producer, target.clone(), None, &shutdown).await,
            Err(e) => Err(e.into()),
        };
        match outcome {
            Ok(Ended::Done) if shutdown.is_cancelled() => break,
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
            other => {
                standby = false;
                failures += 1;
                metrics::counter!("outbox_publish_failures_total", "service" => producer)
                    .increment(1);
                let error = other
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "it ended".into());
                tracing::warn!(
                    error,
                    producer,
                    "WAL relay: the stream ended, will resume from the confirmed position"
                );
                if sleep_or_shutdown(backoff(failures), &shutdown).await {
                    break;
                }
            }
        }
    }
    upkeep.abort();
    lag.abort();
    tracing::info!(producer, "WAL relay stopped");
}

/// Keeps the WAL source whole while the relay runs: makes the slot and the trigger whenever one
/// is missing (at start; after a replica on the table source removed the trigger, or the slot
/// was lost), and publishes whatever rows the outbox holds (written before the trigger, or by
/// a replica on the table source, or claimed by one that died).
async fn upkeep(
    pool: PgPool,
    bus: Bus,
    producer: &'static str,
    slot: String,
    ready: tokio::sync::watch::Sender<bool>,
    shutdown: Shutdown,
) {
    let mut rows = table::Relay::new(pool.clone(), bus.clone(), producer);
    let mut failures: u32 = 0;
    loop {
        let attempt = async {
            // The stream too: NATS may have lost it (a new or wiped JetStream) while the slot
            // and the trigger stayed.
            bus.ensure_stream(producer)
                .await
                .map_err(|e| RelayError::Nats(e.to_string()))?;
            let made = slot::ready(&pool, &slot).await? || slot::prepare(&pool, &slot).await?;
            let drained = rows.drain().await?;
            if drained > 0 {
                tracing::info!(
                    producer,
                    drained,
                    "WAL relay published rows the outbox held"
                );
            }
            // The first session starts once the rows from before are out.
            if made {
                ready.send_replace(true);
            }
            Ok::<_, RelayError>(())
        };
        let wait = match attempt.await {
            Ok(()) => {
                failures = 0;
                UPKEEP
            }
            Err(e) => {
                failures += 1;
                metrics::counter!("outbox_publish_failures_total", "service" => producer)
                    .increment(1);
                tracing::warn!(error = %e, producer, "WAL relay cannot make its slot ready yet");
                backoff(failures)
            }
        };
        if sleep_or_shutdown(wait, &shutdown).await {
            return;
        }
    }
}

/// On the table source: the trigger goes, and what a WAL relay left in the slot is published up
/// to a mark written after that; the slot is dropped after. All under the slot's lock, so no WAL
/// relay puts the trigger back in between. A peer still reading the slot keeps it until it
/// stops; so this looks again, for as long as the relay runs.
pub(super) async fn leave(
    pool: PgPool,
    database: DatabaseSettings,
    bus: Bus,
    producer: &'static str,
    shutdown: Shutdown,
) {
    let mut failures: u32 = 0;
    let mut names: Option<(String, ReplicationConfig)> = None;
    while !shutdown.is_cancelled() {
        let attempt = async {
            let (slot, target) = match &names {
                Some(known) => known.clone(),
                None => names
                    .insert(slot_of(&pool, &database, producer).await?)
                    .clone(),
            };
            if !slot::has_trigger(&pool).await? && !slot::exists(&pool, &slot).await? {
                return Ok(UPKEEP);
            }
            if slot::held(&pool, &slot).await? {
                return Ok(bus.settings().relay_standby_retry());
            }
            let Some(lock) = slot::SlotLock::try_take(&pool, &slot).await? else {
                return Ok(bus.settings().relay_standby_retry());
            };
            let drained = async {
                slot::remove_trigger(&pool).await?;
                let Some(until) = slot::drain_mark(&pool, &slot, producer).await? else {
                    return Ok(UPKEEP);
                };
                match stream(&pool, &bus, producer, target, Some(until), &shutdown).await? {
                    Ended::Done
                        if !shutdown.is_cancelled() && slot::drop_slot(&pool, &slot).await? =>
                    {
                        tracing::info!(
                            producer,
                            slot,
                            "the WAL relay's slot is drained and dropped"
                        );
                        Ok(UPKEEP)
                    }
                    _ => Ok::<_, RelayError>(bus.settings().relay_standby_retry()),
                }
            }
            .await;
            lock.release().await;
            drained
        };
        let wait = match attempt.await {
            Ok(wait) => {
                failures = 0;
                wait
            }
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

/// A publish NATS does not take within this ends the session (it resumes from the confirmed
/// position), so that shutdown never waits on a stalled connection.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

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
    let started = tokio::select! {
        started = client.wait_started() => started,
        _ = shutdown.cancelled() => return Ok(Ended::Done),
    };
    match started {
        // The slot is active (a peer took it first), or every WAL sender is in use.
        Err(PgWireError::Server(e)) if e.ends_with("(SQLSTATE 55006)") => return Ok(Ended::Held),
        Err(PgWireError::Server(e)) if e.ends_with("(SQLSTATE 53300)") => {
            return Err(RelayError::Target(format!(
                "every WAL sender is in use (max_wal_senders): {e}"
            )));
        }
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
    if result.is_ok() {
        // The last confirmed position reaches the server with the next status update (the
        // stream's stop sends none): after a restart, less is read again.
        tokio::time::sleep(STATUS_INTERVAL + Duration::from_millis(50)).await;
    }
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
                            tokio::select! {
                                seen = visibility.wait(xid) => seen?,
                                _ = shutdown.cancelled() => return Ok(()),
                            }
                        }
                        for (i, event) in events.drain(..).enumerate() {
                            let ack = tokio::time::timeout(SEND_TIMEOUT, event.send(bus))
                                .await
                                .map_err(|_| RelayError::Nats(format!("no publish taken within {SEND_TIMEOUT:?}")))??;
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
