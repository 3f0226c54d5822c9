//! Group commit for tip intake. Concurrent `SubmitTip` calls queue here; a few committers each take
//! whatever has queued (up to [`MAX_BATCH`]) and store it in one statement — a multi-row insert of
//! tips and of their outbox events, committed together — and only then answer each call. A tip is
//! acknowledged only after its commit, as before, but the cost of a commit (and its fsync) is
//! shared by every tip that arrived while the previous one was in flight. If a batch fails for a
//! reason other than the database being away, its tips are retried one by one, so one bad tip
//! cannot fail its neighbours.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use chrono::{Duration, SubsecRound, Utc};
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

use crate::{
    events::publish,
    store::{NewTip, TipRow},
};

/// Most tips in one statement.
pub const MAX_BATCH: usize = 256;
/// Batches in flight at once. One gathers while the other commits: with more, an idle committer
/// takes each tip alone the moment it comes, and at moderate rates every "group" holds one tip.
pub const COMMITTERS: usize = 2;
/// Calls that may wait for a committer before SubmitTip answers UNAVAILABLE.
const QUEUE: usize = 20_000;

/// What became of a submitted tip.
#[derive(Debug)]
pub enum Outcome {
    /// Stored (`true`) or already stored under the same request id (`false`).
    Stored(Box<TipRow>, bool),
    /// The reporter is over the per-minute limit and this is a new tip.
    RateLimited,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("storing the tip failed")]
    Database(#[from] sqlx::Error),
    #[error("tip intake is shutting down or overloaded")]
    Unavailable,
}

struct Pending {
    tip: NewTip,
    trace: HashMap<String, String>,
    reply: oneshot::Sender<Result<Outcome, Arc<sqlx::Error>>>,
}

/// The handle SubmitTip uses; cheap to clone.
#[derive(Clone)]
pub struct Intake {
    queue: mpsc::Sender<Pending>,
}

impl Intake {
    /// Starts the committers. They stop once every handle is gone (the server has drained its
    /// calls at shutdown) and the queue is empty, so no accepted call goes unanswered.
    ///
    /// The committers have connections of their own (one each), whose statements run on generic
    /// plans: intake's statements have one shape each, and re-planning them cost about a sixth
    /// of their execution.
    pub fn spawn(
        pool: &PgPool,
        tips_per_minute: u32,
        linger: std::time::Duration,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let pool = kit::db::generic_plans_pool(pool, COMMITTERS as u32);
        let tasks = (0..COMMITTERS)
            .map(|_| {
                let (pool, rx) = (pool.clone(), rx.clone());
                tokio::spawn(async move {
                    while let Some(batch) = next_batch(&rx, linger).await {
                        commit_batch(&pool, tips_per_minute, batch).await;
                    }
                })
            })
            .collect();
        (Self { queue: tx }, tasks)
    }

    /// Stores the tip with whichever others are waiting; answers after the commit.
    pub async fn submit(
        &self,
        tip: NewTip,
        trace: HashMap<String, String>,
    ) -> Result<Outcome, IntakeError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Pending { tip, trace, reply })
            .map_err(|_| IntakeError::Unavailable)?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(e)) => Err(IntakeError::Database(unshare(e))),
            Err(_) => Err(IntakeError::Unavailable),
        }
    }
}

/// Stores one tip at once, outside the group commit (the demo seed's tips): the same statements,
/// the same event, no per-minute limit.
pub async fn store_one(pool: &PgPool, tip: &NewTip) -> Result<Outcome, sqlx::Error> {
    let mut outcomes = store_batch(pool, 0, &[tip], &[&HashMap::new()]).await?;
    Ok(outcomes.pop().expect("one outcome per tip"))
}

/// One batch's error is shared by its tips; each caller gets its own copy of the cause.
fn unshare(e: Arc<sqlx::Error>) -> sqlx::Error {
    match Arc::try_unwrap(e) {
        Ok(e) => e,
        Err(shared) => sqlx::Error::Protocol(format!("batch commit failed: {shared}")),
    }
}

/// Waits for one tip, then takes whatever else queues within `linger` of it, up to
/// [`MAX_BATCH`]. The other committers wait for the lock meanwhile: one gathers at a time.
async fn next_batch<T>(
    rx: &Mutex<mpsc::Receiver<T>>,
    linger: std::time::Duration,
) -> Option<Vec<T>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    let deadline = tokio::time::Instant::now() + linger;
    let mut batch = Vec::with_capacity(MAX_BATCH.min(rx.len() + 1));
    batch.push(first);
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(p) => batch.push(p),
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(p)) => batch.push(p),
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
    Some(batch)
}

async fn commit_batch(pool: &PgPool, tips_per_minute: u32, batch: Vec<Pending>) {
    metrics::histogram!("intake_batch_size").record(batch.len() as f64);
    let tips: Vec<&NewTip> = batch.iter().map(|p| &p.tip).collect();
    let traces: Vec<&HashMap<String, String>> = batch.iter().map(|p| &p.trace).collect();
    match store_batch(pool, tips_per_minute, &tips, &traces).await {
        Ok(outcomes) => {
            for (p, o) in batch.into_iter().zip(outcomes) {
                let _ = p.reply.send(Ok(o));
            }
        }
        Err(e) if batch.len() > 1 && !unavailable(&e) => {
            tracing::warn!(error = %e, tips = batch.len(), "a batch of tips failed; storing them one by one");
            for p in batch {
                let one = store_batch(pool, tips_per_minute, &[&p.tip], &[&p.trace]).await;
                let _ = p.reply.send(
                    one.map(|mut o| o.pop().expect("one outcome per tip"))
                        .map_err(Arc::new),
                );
            }
        }
        Err(e) => {
            // The last reply takes the error itself, so a tip alone in its batch gets its own
            // cause back whole (what its status is made from), not a copy.
            let mut e = Some(Arc::new(e));
            let n = batch.len();
            for (i, p) in batch.into_iter().enumerate() {
                let err = if i + 1 == n { e.take() } else { e.clone() };
                let _ = p.reply.send(Err(err.expect("an error for every tip")));
            }
        }
    }
}

/// The database is away (or refusing connections): retrying tip by tip would only wait longer.
fn unavailable(e: &sqlx::Error) -> bool {
    kit::db::classify(e) == kit::db::StoreFailure::Unavailable
}

/// Stores the tips; outcomes in the order given. Two statements: the rate-limit count, then one
/// that inserts the tips with their outbox events and commits them.
async fn store_batch(
    pool: &PgPool,
    tips_per_minute: u32,
    tips: &[&NewTip],
    traces: &[&HashMap<String, String>],
) -> Result<Vec<Outcome>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let admitted = admit(&mut conn, tips_per_minute, tips).await?;
    // The rows as they will be stored (the timestamp at the database's microseconds), so that
    // each event is encoded before the statement that stores both.
    let now = Utc::now().trunc_subsecs(6);
    let mut rows = Vec::with_capacity(tips.len());
    let mut row_of: Vec<Option<usize>> = Vec::with_capacity(tips.len());
    let mut row_traces = Vec::with_capacity(tips.len());
    for (i, (t, ok)) in tips.iter().zip(&admitted).enumerate() {
        if !ok {
            row_of.push(None);
            continue;
        }
        row_of.push(Some(rows.len()));
        row_traces.push(traces[i].clone());
        rows.push(t.to_row(now));
    }
    let announce = kit::bus::OutboxRows::new(
        rows.iter().map(publish::tip_submitted_event).collect(),
        &row_traces,
    );
    let stored: HashSet<Uuid> = crate::store::insert_tips_announced(&mut conn, &rows, &announce)
        .await?
        .into_iter()
        .collect();
    // Everything not stored now: retries of stored tips (a repeat within this batch included),
    // or refused ones (which a retry may be).
    let missing: Vec<&NewTip> = tips
        .iter()
        .zip(&row_of)
        .filter(|(_, r)| !r.is_some_and(|r| stored.contains(&rows[r].id)))
        .map(|(t, _)| *t)
        .collect();
    let existing = crate::store::tips_by_requests(&mut conn, &missing).await?;
    let existing: HashMap<(Uuid, &str), &TipRow> = existing
        .iter()
        .map(|t| ((t.reporter_id, t.request_id.as_str()), t))
        .collect();
    Ok(tips
        .iter()
        .zip(&row_of)
        .map(|(t, r)| match r {
            Some(r) if stored.contains(&rows[*r].id) => {
                Outcome::Stored(Box::new(rows[*r].clone()), true)
            }
            _ => match existing.get(&(t.reporter_id, t.request_id.as_str())) {
                Some(row) => Outcome::Stored(Box::new((*row).clone()), false),
                None => Outcome::RateLimited,
            },
        })
        .collect())
}

/// Which tips are within their reporter's per-minute limit, counting the tips stored in the last
/// minute and those earlier in this batch.
async fn admit(
    tx: &mut PgConnection,
    tips_per_minute: u32,
    tips: &[&NewTip],
) -> Result<Vec<bool>, sqlx::Error> {
    if tips_per_minute == 0 {
        return Ok(vec![true; tips.len()]);
    }
    let mut reporters: Vec<Uuid> = tips.iter().map(|t| t.reporter_id).collect();
    reporters.sort_unstable();
    reporters.dedup();
    let mut recent: HashMap<Uuid, i64> =
        crate::store::tips_since_many(tx, &reporters, Utc::now() - Duration::minutes(1))
            .await?
            .into_iter()
            .collect();
    // A request id repeated within the batch is one tip: it takes one slot, once, and every copy
    // shares the first one's answer.
    let mut decided: HashMap<(Uuid, &str), bool> = HashMap::new();
    Ok(tips
        .iter()
        .map(|t| {
            *decided
                .entry((t.reporter_id, t.request_id.as_str()))
                .or_insert_with(|| {
                    let n = recent.entry(t.reporter_id).or_default();
                    let ok = *n < i64::from(tips_per_minute);
                    if ok {
                        *n += 1;
                    }
                    ok
                })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_batch_waits_its_linger_for_tips_that_come_after_the_first() {
        let (tx, rx) = mpsc::channel(8);
        let rx = Mutex::new(rx);
        tx.send(1).await.unwrap();
        // The second tip comes while the batch lingers; then intake closes, which ends the wait
        // long before the (long) linger would.
        tokio::spawn(async move {
            tx.send(2).await.unwrap();
        });
        let batch = next_batch(&rx, Duration::from_secs(600)).await.unwrap();
        assert_eq!(batch, vec![1, 2]);
        assert!(next_batch(&rx, Duration::from_secs(600)).await.is_none());
    }

    #[tokio::test]
    async fn without_a_linger_a_batch_takes_only_what_waits_already() {
        let (tx, rx) = mpsc::channel(8);
        let rx = Mutex::new(rx);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        assert_eq!(next_batch(&rx, Duration::ZERO).await.unwrap(), vec![1, 2]);
        tx.send(3).await.unwrap();
        assert_eq!(next_batch(&rx, Duration::ZERO).await.unwrap(), vec![3]);
    }

    #[tokio::test]
    async fn a_full_batch_does_not_wait() {
        let (tx, rx) = mpsc::channel(MAX_BATCH + 1);
        let rx = Mutex::new(rx);
        for i in 0..=MAX_BATCH {
            tx.send(i).await.unwrap();
        }
        // The sender stays open: only the batch's bound ends the linger.
        let batch = next_batch(&rx, Duration::from_secs(600)).await.unwrap();
        assert_eq!(batch.len(), MAX_BATCH);
        drop(tx);
    }
}
