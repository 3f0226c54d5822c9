//! The table source: publishes a service's pending outbox rows to JetStream and deletes them once
//! JetStream has acknowledged them. Woken by `NOTIFY` after each commit, polling as a fallback.
//! Replicas share the work by claiming rows (`FOR UPDATE SKIP LOCKED`, in a short transaction);
//! no transaction stays open while publishing. A crash between publish and delete re-publishes,
//! and JetStream's duplicate window (`Nats-Msg-Id` = event id) drops the copy.
//!
//! Because a lost claim or delete only means a harmless re-publish, the relay's own statements
//! commit without waiting for their WAL flush (`synchronous_commit = off` on its connections),
//! and the rows of one batch are deleted by the statement that claims the next.
//!
//! The outbox is a queue, and a queue's dead rows sit exactly where every claim starts looking:
//! the claim walks the `seq` index from its low end past every row deleted since the last
//! VACUUM. Autovacuum visits a table at most once per `autovacuum_naptime` (a minute by
//! default), in which a busy outbox leaves tens of thousands of them; so the relay vacuums its
//! own outbox, at most twice a second, once it has deleted a few hundred rows.
//!
//! The `NOTIFY`s are read by a task of their own, as they come (see [`crate::db::spawn_wakeups`]).
//! The WAL source uses [`Relay::drain`] for the rows written before it took over.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::context::PublishErrorKind;
use futures::FutureExt;
use sqlx::PgPool;
use tokio::{sync::Notify, task::JoinHandle, time::Instant};

use super::{Envelope, RelayError};
use crate::{
    Shutdown,
    bus::Bus,
    settings::DatabaseSettings,
    shutdown::{backoff, sleep_or_shutdown},
};

#[derive(sqlx::FromRow)]
struct OutboxRow {
    seq: i64,
    #[sqlx(flatten)]
    event: Envelope,
}

/// Runs the relay of `producer`'s outbox (the schema of `pool`) until shutdown, after one last
/// flush. Events a WAL relay left in a slot are published too (see [`super::wal::leave`]).
pub(super) async fn run(
    pool: PgPool,
    database: DatabaseSettings,
    bus: Bus,
    producer: &'static str,
    shutdown: Shutdown,
) {
    let leaving = tokio::spawn(super::wal::leave(
        pool.clone(),
        database,
        bus.clone(),
        producer,
        shutdown.clone(),
    ));
    Relay::new(pool, bus, producer).run(shutdown).await;
    leaving.abort();
}

pub(super) struct Relay {
    pool: PgPool,
    /// The service's own pool, for the backlog count (which wants a sequential scan).
    service_pool: PgPool,
    bus: Bus,
    producer: &'static str,
    batch: i64,
    poll: Duration,
    linger: Duration,
    vacuum: Vacuum,
}

/// Rows deleted from the outbox since its last VACUUM, and that VACUUM.
#[derive(Default)]
struct Vacuum {
    deleted: usize,
    last: Option<Instant>,
    running: Option<JoinHandle<()>>,
}

impl Vacuum {
    /// Deleted rows that make a VACUUM worth its cost (it reads the table and its indexes).
    const AFTER_ROWS: usize = 256;
    /// At most one VACUUM per this interval.
    const INTERVAL: Duration = Duration::from_millis(500);

    /// Counts `rows` deleted; starts a VACUUM of the outbox (in the background, on the relay's
    /// pool) when enough were and the previous one has finished. `SKIP_LOCKED`: if autovacuum is
    /// at it already, leave it be. `TRUNCATE false`: giving back the empty pages at the table's
    /// end would take a lock that stalls the commits writing to it for a moment.
    fn deleted(&mut self, rows: usize, pool: &PgPool) {
        self.deleted += rows;
        if self.deleted < Self::AFTER_ROWS
            || self.last.is_some_and(|at| at.elapsed() < Self::INTERVAL)
            || self.running.as_ref().is_some_and(|h| !h.is_finished())
        {
            return;
        }
        self.deleted = 0;
        self.last = Some(Instant::now());
        let pool = pool.clone();
        self.running = Some(tokio::spawn(async move {
            if let Err(e) = sqlx::raw_sql("VACUUM (SKIP_LOCKED, TRUNCATE false) outbox")
                .execute(&pool)
                .await
            {
                tracing::debug!(error = %e, "outbox VACUUM failed; autovacuum remains");
            }
        }));
    }
}

impl Relay {
    pub(super) fn new(pool: PgPool, bus: Bus, producer: &'static str) -> Self {
        // The relay's own two connections, in the same schema: nothing it writes needs an fsync,
        // and it only ever looks rows up by `seq`. A queue table's statistics are always wrong (it
        // fills and empties between two ANALYZEs), and a sequential scan of it reads every dead
        // row left since the last VACUUM; so no sequential scans on these connections.
        let relay_pool = crate::db::side_pool(
            &pool,
            2,
            &[("synchronous_commit", "off"), ("enable_seqscan", "off")],
        );
        Self {
            batch: bus.settings().relay_batch.max(1),
            poll: bus.settings().relay_poll(),
            linger: bus.settings().relay_linger(),
            vacuum: Vacuum::default(),
            pool: relay_pool,
            service_pool: pool,
            bus,
            producer,
        }
    }

    /// Publishes every row the outbox holds, and deletes them; returns how many there were.
    pub(super) async fn drain(&mut self) -> Result<usize, RelayError> {
        let (mut published, mut total) = (Vec::new(), 0);
        loop {
            let n = self.publish_batch(&mut published).await?;
            total += n;
            if (n as i64) < self.batch {
                break;
            }
        }
        if !published.is_empty() {
            self.delete(&published).await?;
        }
        Ok(total)
    }

    async fn run(mut self, shutdown: Shutdown) {
        let wake = Arc::new(Notify::new());
        let wakeups = crate::db::spawn_wakeups(
            self.pool.clone(),
            format!("{}_outbox", self.producer),
            wake.clone(),
            shutdown.clone(),
        );
        let mut stream_ready = false;
        let mut failures: u32 = 0;
        let mut batches: u64 = 0;
        // Counting the outbox is not free under load: at most once a second.
        // (An idle relay still wakes every poll interval, so the gauge settles within a second.)
        let mut backlog_at: Option<std::time::Instant> = None;
        // Published and acknowledged, to be deleted by the next claim.
        let mut published: Vec<i64> = Vec::new();
        let mut last_claim;
        loop {
            if !stream_ready {
                match self.bus.ensure_stream(self.producer).await {
                    Ok(_) => stream_ready = true,
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(error = %e, producer = self.producer, "outbox relay waits for JetStream");
                        if sleep_or_shutdown(backoff(failures), &shutdown).await {
                            break;
                        }
                        continue;
                    }
                }
            }
            last_claim = std::time::Instant::now();
            match self.publish_batch(&mut published).await {
                Ok(n) => {
                    failures = 0;
                    batches += 1;
                    if n > 0 {
                        metrics::counter!("outbox_published_total", "service" => self.producer)
                            .increment(n as u64);
                    }
                    if n as i64 == self.batch {
                        if batches.is_multiple_of(64) {
                            self.record_backlog().await;
                            backlog_at = Some(std::time::Instant::now());
                        }
                        continue;
                    }
                }
                Err(e) => {
                    failures += 1;
                    metrics::counter!("outbox_publish_failures_total", "service" => self.producer)
                        .increment(1);
                    if let RelayError::Publish(p) = &e
                        && p.kind() == PublishErrorKind::StreamNotFound
                    {
                        stream_ready = false;
                    }
                    tracing::warn!(error = %e, producer = self.producer, "outbox relay: publish failed, will retry");
                    self.record_backlog().await;
                    if sleep_or_shutdown(backoff(failures), &shutdown).await {
                        break;
                    }
                    continue;
                }
            }
            if backlog_at.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                self.record_backlog().await;
                backlog_at = Some(std::time::Instant::now());
            }
            if shutdown.is_cancelled() {
                break;
            }
            tokio::select! {
                _ = wake.notified() => {
                    // Let the commits of the next few milliseconds share one claim.
                    let wait = self.linger.saturating_sub(last_claim.elapsed());
                    if !wait.is_zero() && sleep_or_shutdown(wait, &shutdown).await {
                        continue;
                    }
                    // Commits that notified meanwhile are all served by the next claim.
                    let _ = wake.notified().now_or_never();
                }
                _ = tokio::time::sleep(self.poll) => {}
                _ = shutdown.cancelled() => {}
            }
        }
        // Last flush, bounded: with NATS away the rows simply wait for the next start.
        let flush = async {
            while let Ok(n) = self.publish_batch(&mut published).await {
                if (n as i64) < self.batch {
                    break;
                }
            }
            if !published.is_empty() {
                let _ = self.delete(&published).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), flush).await;
        wakeups.abort();
        tracing::info!(producer = self.producer, "outbox relay stopped");
    }

    async fn record_backlog(&self) {
        // Rows published but not yet deleted (at most one batch) are not waiting.
        if let Ok(n) = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM outbox WHERE claimed_until IS NULL OR claimed_until < now()",
        )
        .fetch_one(&self.service_pool)
        .await
        {
            metrics::gauge!("outbox_backlog", "service" => self.producer).set(n as f64);
        }
    }

    /// Publishes up to one batch with pipelined acks; returns how many rows it published. The rows
    /// in `published` (acknowledged before) are deleted by the same statement that claims the
    /// batch, and the batch takes their place once acknowledged.
    async fn publish_batch(&mut self, published: &mut Vec<i64>) -> Result<usize, RelayError> {
        // Claim (a statement of its own). `= ANY(ARRAY(...))` keeps the plan an index walk
        // whatever the table's statistics say about a queue that fills and empties.
        let mut rows: Vec<OutboxRow> = sqlx::query_as(
            "WITH done AS (DELETE FROM outbox WHERE seq = ANY($2))
             UPDATE outbox SET claimed_until = now() + interval '30 seconds'
             WHERE seq = ANY(ARRAY(SELECT seq FROM outbox
                                   WHERE claimed_until IS NULL OR claimed_until < now()
                                   ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED))
             RETURNING seq, event_id, subject, source, ce_subject, payload, traceparent, tracestate, created_at",
        )
        .bind(self.batch)
        .bind(&*published)
        .fetch_all(&self.pool)
        .await?;
        self.vacuum.deleted(published.len(), &self.pool);
        published.clear();
        if rows.is_empty() {
            return Ok(0);
        }
        rows.sort_by_key(|r| r.seq);
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        if let Err(e) = self.publish(&rows).await {
            // Let the next attempt (ours or another replica's) take them at once.
            let _ = sqlx::query("UPDATE outbox SET claimed_until = NULL WHERE seq = ANY($1)")
                .bind(&seqs)
                .execute(&self.pool)
                .await;
            return Err(e);
        }
        *published = seqs;
        Ok(rows.len())
    }

    async fn delete(&self, seqs: &[i64]) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM outbox WHERE seq = ANY($1)")
            .bind(seqs)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    async fn publish(&self, rows: &[OutboxRow]) -> Result<(), RelayError> {
        let mut acks = Vec::with_capacity(rows.len());
        for row in rows {
            acks.push(row.event.send(&self.bus).await?);
        }
        // All publishes are in flight; now collect their acknowledgements.
        for ack in acks {
            ack.await?;
        }
        Ok(())
    }
}
