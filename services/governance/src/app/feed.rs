//! The case feed behind `WatchCases`. One task per process numbers committed changes (the
//! sequencer, one at a time across replicas), reads what is newly numbered, and fans it out in
//! memory to every open stream; a stream that starts behind, or falls behind, catches up from the
//! database and then follows the fan-out. An idle stream costs no query: the process polls once per
//! `watch_poll_ms` (and wakes on `NOTIFY`) however many streams are open.

use std::{sync::Arc, time::Duration};

use kit::Shutdown;
use prost::Message;
use redsupply_proto::governance::v1 as pb;
use sqlx::PgPool;
use tokio::{
    sync::{broadcast, mpsc, watch},
    task::JoinHandle,
};
use tonic::Status;
use uuid::Uuid;

use crate::{
    domain::{Delivery, FeedFilter},
    store,
};

/// How many changes the fan-out keeps for streams that are busy sending; one further behind
/// catches up from the database.
const FANOUT_CAPACITY: usize = 4_096;
/// Rows per read, both for the fan-out and for a stream catching up.
const READ_BATCH: i64 = 512;

/// A numbered change, decoded once for every stream.
#[derive(Debug)]
pub struct FeedChange {
    pub position: i64,
    pub case: pb::Case,
    /// Grid and status before the change; None: the change created the case.
    pub before: Option<(Option<Uuid>, i16)>,
}

impl FeedChange {
    fn from_row(row: store::FeedRow) -> Result<Self, prost::DecodeError> {
        let case = pb::Case::decode(row.snapshot.as_slice())?;
        let before = match (row.previous_status, row.previous_grid_id) {
            (Some(s), g) => Some((g, s)),
            // Written before changes recorded their previous status: only reroutes named a grid.
            (None, Some(g)) => Some((Some(g), case.status as i16)),
            (None, None) => None,
        };
        Ok(Self {
            position: row.position,
            case,
            before,
        })
    }

    fn grid(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.case.grid_id).ok()
    }

    /// The message a watcher with `filter` gets for this change, if any.
    fn message_for(&self, filter: &FeedFilter) -> Option<pb::WatchCasesResponse> {
        let delivery = filter.delivery(self.grid(), self.case.status as i16, self.before)?;
        let (previous_grid, previous_status) = match self.before {
            Some((g, s)) => (g.map(|g| g.to_string()).unwrap_or_default(), i32::from(s)),
            None => (String::new(), 0),
        };
        Some(pb::WatchCasesResponse {
            cursor: store::Cursor::encode(self.position),
            case: Some(self.case.clone()),
            previous_status,
            previous_grid_id: previous_grid,
            left_filter: delivery == Delivery::Left,
        })
    }
}

/// The per-process feed: the newest position it has fanned out, and the fan-out itself.
#[derive(Clone)]
pub struct Feed {
    /// None until the first read of the database's head.
    head: Arc<watch::Sender<Option<i64>>>,
    fanout: broadcast::Sender<Arc<FeedChange>>,
}

impl Default for Feed {
    fn default() -> Self {
        Self {
            head: Arc::new(watch::channel(None).0),
            fanout: broadcast::channel(FANOUT_CAPACITY).0,
        }
    }
}

impl Feed {
    /// Sequences and fans out at start, on every `NOTIFY` of the feed channel, and every `poll`.
    pub fn spawn(&self, pool: PgPool, poll: Duration, shutdown: Shutdown) -> JoinHandle<()> {
        let feed = self.clone();
        kit::db::spawn_listener(
            pool.clone(),
            store::FEED_CHANNEL,
            poll,
            shutdown,
            move || {
                let (feed, pool) = (feed.clone(), pool.clone());
                async move {
                    if let Err(e) = feed.round(&pool).await {
                        tracing::debug!(error = %e, "case feed round failed; it retries");
                    }
                }
            },
        )
    }

    /// One round: measure how long committed changes wait (for a number, or for this process to
    /// fan them out), number them, and fan out everything numbered since the last round.
    async fn round(&self, pool: &PgPool) -> Result<(), FeedError> {
        let known = *self.head.borrow();
        let wait = store::feed_wait(pool, known.unwrap_or(i64::MAX)).await?;
        metrics::gauge!("feed_lag_seconds").set(wait.oldest.unwrap_or(0.0).max(0.0));
        if wait.unsequenced > 0 {
            // Another replica may hold the sequencer: what is numbered is still fanned out.
            if let Err(e) = sequence(pool).await {
                tracing::warn!(error = %e, "the case feed sequencer failed; it retries");
            }
        }
        let Some(mut head) = known else {
            // First round: "now" is the database's head; history is for streams that ask for it.
            let head = store::feed_head(pool).await?;
            self.head.send_replace(Some(head));
            return Ok(());
        };
        loop {
            let rows = store::feed_after(pool, head, i64::MAX, &[], &[], READ_BATCH).await?;
            let full = rows.len() as i64 == READ_BATCH;
            let Some(last) = rows.last().map(|r| r.position) else {
                return Ok(());
            };
            // The head moves first: a stream that subscribes while this batch goes out catches up
            // from the database to it (and skips what the fan-out then repeats); one that
            // subscribed before gets the batch from the fan-out.
            self.head.send_replace(Some(last));
            for row in rows {
                let position = row.position;
                match FeedChange::from_row(row) {
                    // No receiver is fine: nobody watches.
                    Ok(change) => drop(self.fanout.send(Arc::new(change))),
                    Err(e) => {
                        metrics::counter!("feed_undecodable_total").increment(1);
                        tracing::error!(position, error = %e, "a stored case change does not decode; skipped");
                    }
                }
            }
            head = last;
            if !full {
                return Ok(());
            }
        }
    }

    /// The newest position fanned out, once known.
    async fn head(&self) -> i64 {
        let mut rx = self.head.subscribe();
        let head = rx.wait_for(Option::is_some).await.map(|h| h.unwrap_or(0));
        head.unwrap_or(0)
    }

    /// Streams the changes after `start` that `filter` selects into `out`: a heartbeat with the
    /// cursor first, then every change in order, and a heartbeat whenever `heartbeat` passes
    /// without a message. Returns when the client goes away or the service shuts down.
    pub async fn stream(
        &self,
        pool: PgPool,
        filter: FeedFilter,
        start: i64,
        heartbeat: Duration,
        out: mpsc::Sender<Result<pb::WatchCasesResponse, Status>>,
        shutdown: Shutdown,
    ) {
        let watchers = metrics::gauge!("feed_watchers");
        watchers.increment(1.0);
        let _open = scopeguard(move || watchers.decrement(1.0));
        let beat = |position: i64| pb::WatchCasesResponse {
            cursor: store::Cursor::encode(position),
            ..Default::default()
        };
        if out.send(Ok(beat(start))).await.is_err() {
            return;
        }
        let mut live = self.fanout.subscribe();
        let mut position = start;
        let mut last_sent = tokio::time::Instant::now();
        'catch_up: loop {
            // From the database up to the fan-out's head (read after subscribing, so nothing
            // between the two is missed).
            let head = tokio::select! {
                h = self.head() => h,
                _ = shutdown.cancelled() => return,
            };
            while position < head {
                let rows = match store::feed_after(
                    &pool,
                    position,
                    head,
                    &filter.grids,
                    &filter.statuses,
                    READ_BATCH,
                )
                .await
                {
                    Ok(rows) => rows,
                    Err(e) => {
                        let _ = out.send(Err(feed_unavailable(e))).await;
                        return;
                    }
                };
                let full = rows.len() as i64 == READ_BATCH;
                for row in rows {
                    position = row.position;
                    let Ok(change) = FeedChange::from_row(row) else {
                        continue; // counted and logged by the fan-out
                    };
                    if let Some(m) = change.message_for(&filter) {
                        if out.send(Ok(m)).await.is_err() {
                            return;
                        }
                        last_sent = tokio::time::Instant::now();
                    }
                }
                if !full {
                    position = head;
                }
            }
            loop {
                let change = tokio::select! {
                    r = live.recv() => match r {
                        Ok(change) => change,
                        // Fell behind the fan-out: the database has what was dropped.
                        Err(broadcast::error::RecvError::Lagged(_)) => continue 'catch_up,
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = tokio::time::sleep_until(last_sent + heartbeat) => {
                        if out.send(Ok(beat(position))).await.is_err() {
                            return;
                        }
                        last_sent = tokio::time::Instant::now();
                        continue;
                    }
                    _ = out.closed() => return,
                    _ = shutdown.cancelled() => return,
                };
                if change.position <= position {
                    continue; // already had it from the catch-up
                }
                position = change.position;
                if let Some(m) = change.message_for(&filter) {
                    if out.send(Ok(m)).await.is_err() {
                        return;
                    }
                    last_sent = tokio::time::Instant::now();
                }
            }
        }
    }
}

/// Numbers committed changes in the order they were written, a batch per transaction, until none
/// is left; returns how many.
pub async fn sequence(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        store::lock_sequencer(&mut tx).await?;
        let numbered = store::number_changes(&mut tx).await?;
        tx.commit().await?;
        total += numbered;
        if numbered < store::SEQUENCE_BATCH as u64 {
            return Ok(total);
        }
    }
}

fn feed_unavailable(e: sqlx::Error) -> Status {
    kit::api::internal("reading the case feed", e)
}

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

#[derive(Debug, thiserror::Error)]
enum FeedError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}
