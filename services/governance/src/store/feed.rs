//! The case feed's SQL. Every path that changes a case appends a change (the case as `GetCase`
//! shows it at that version, and what it was before); the sequencer numbers committed changes in
//! commit order; readers follow the numbers. No reader depends on the server's transaction-id
//! horizon, so a transaction left open anywhere on the server cannot hold a watcher back.

use prost::Message;
use redsupply_proto::governance::v1 as pb;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The `NOTIFY` channel of the feed: a writer committed a change, or the sequencer numbered some.
pub const FEED_CHANNEL: &str = "governance_case_changes";

/// The advisory lock that makes one sequencer at a time number changes, across replicas.
const SEQUENCER_LOCK: i64 = 0x6665_6564; // "feed"

/// At most this many changes are numbered per sequencer transaction.
pub const SEQUENCE_BATCH: i64 = 10_000;

/// What a case was before a change: its status and grid (None: the county queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Before {
    pub status: i16,
    pub grid_id: Option<Uuid>,
}

impl Before {
    pub fn of(case: &super::CaseRow) -> Self {
        Self {
            status: case.status,
            grid_id: case.grid_id,
        }
    }
}

/// One change to append: the case after it, and what it was before (None: the change created it).
pub struct NewChange {
    pub case: pb::Case,
    pub before: Option<Before>,
}

/// Appends the case as it now stands in this transaction (its row and its tips, exactly what
/// `GetCase` would answer once the transaction commits) to the feed, and returns it.
pub async fn record_change(
    tx: &mut PgConnection,
    case_id: Uuid,
    before: Option<Before>,
) -> Result<pb::Case, sqlx::Error> {
    let row = super::case(tx, case_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    let tips = super::case_tip_ids(tx, case_id).await?;
    let case = row.to_pb(&tips);
    record_changes(
        tx,
        &[NewChange {
            case: case.clone(),
            before,
        }],
    )
    .await?;
    Ok(case)
}

/// Appends changes in the order given, then wakes the feed once the transaction commits.
pub async fn record_changes(
    tx: &mut PgConnection,
    changes: &[NewChange],
) -> Result<(), sqlx::Error> {
    if changes.is_empty() {
        return Ok(());
    }
    let grid = |c: &pb::Case| Uuid::parse_str(&c.grid_id).ok();
    sqlx::query(
        "WITH added AS (
             INSERT INTO case_changes (case_id, grid_id, previous_grid_id, snapshot, status, previous_status)
             SELECT u.case_id, u.grid_id, u.previous_grid_id, u.snapshot, u.status, u.previous_status
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::bytea[], $5::int2[], $6::int2[])
                  WITH ORDINALITY AS u(case_id, grid_id, previous_grid_id, snapshot, status, previous_status, n)
             ORDER BY u.n
             RETURNING 1)
         SELECT pg_notify($7, '') FROM (SELECT count(*) FROM added) a",
    )
    .bind(
        changes
            .iter()
            .map(|c| Uuid::parse_str(&c.case.id).unwrap_or_default())
            .collect::<Vec<_>>(),
    )
    .bind(changes.iter().map(|c| grid(&c.case)).collect::<Vec<_>>())
    .bind(
        changes
            .iter()
            .map(|c| c.before.and_then(|b| b.grid_id))
            .collect::<Vec<_>>(),
    )
    .bind(
        changes
            .iter()
            .map(|c| c.case.encode_to_vec())
            .collect::<Vec<_>>(),
    )
    .bind(
        changes
            .iter()
            .map(|c| c.case.status as i16)
            .collect::<Vec<_>>(),
    )
    .bind(
        changes
            .iter()
            .map(|c| c.before.map(|b| b.status))
            .collect::<Vec<_>>(),
    )
    .bind(FEED_CHANNEL)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A position in the feed, as a client holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// Every change up to and including this position has been considered.
    At(i64),
    /// The form given out before positions existed: (transaction id, sequence).
    Legacy { xid: u64, seq: i64 },
}

impl Cursor {
    pub fn encode(position: i64) -> String {
        position.to_string()
    }

    pub fn decode(s: &str) -> Option<Self> {
        if let Some((x, q)) = s.split_once('.') {
            return Some(Self::Legacy {
                xid: x.parse().ok()?,
                seq: q.parse().ok()?,
            });
        }
        let at: i64 = s.parse().ok()?;
        (at >= 0).then_some(Self::At(at))
    }
}

/// The newest numbered position (0: nothing yet): "now" for a watcher that gives no cursor.
pub async fn feed_head(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(max(position), 0) FROM case_changes WHERE position IS NOT NULL",
    )
    .fetch_one(pool)
    .await
}

/// The position a legacy cursor stands for: the last change at or before it in the old order.
pub async fn legacy_position(pool: &PgPool, xid: u64, seq: i64) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT position FROM case_changes
         WHERE (xid, seq) <= ($1::text::xid8, $2) AND position IS NOT NULL
         ORDER BY xid DESC, seq DESC LIMIT 1",
    )
    .bind(xid.to_string())
    .bind(seq)
    .fetch_optional(pool)
    .await?
    .unwrap_or(0))
}

/// How long the oldest committed change not yet fanned out past `head` has waited: for a
/// position, or (numbered) for this process to read it. None: nothing waits.
pub async fn feed_wait(pool: &PgPool, head: i64) -> Result<FeedWait, sqlx::Error> {
    // Two index probes (the unsequenced partial index, the first position after the head), not
    // one OR over the table: this runs every round (measured: the OR form planned a scan, 7.5 ms a
    // round at 2,000 changes/s).
    sqlx::query_as(
        "SELECT extract(epoch FROM now() - least(
                    (SELECT min(changed_at) FROM case_changes WHERE position IS NULL),
                    (SELECT changed_at FROM case_changes WHERE position > $1
                     ORDER BY position LIMIT 1)))::float8 AS oldest,
                (SELECT count(*) FROM case_changes WHERE position IS NULL) AS unsequenced",
    )
    .bind(head)
    .fetch_one(pool)
    .await
}

#[derive(Debug, sqlx::FromRow)]
pub struct FeedWait {
    /// Seconds the oldest waiting change has waited.
    pub oldest: Option<f64>,
    pub unsequenced: i64,
}

/// Takes the sequencer's lock for this transaction (one sequencer at a time), waiting at most 5 s.
pub async fn lock_sequencer(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('lock_timeout', '5s', true), pg_advisory_xact_lock($1)")
        .bind(SEQUENCER_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Numbers up to [`SEQUENCE_BATCH`] committed changes in the order they were written, above the
/// highest number so far (row_number over `seq` gives the order explicitly), and wakes the feeds;
/// returns how many. Run under [`lock_sequencer`], as a statement of its own: it starts (and takes
/// its snapshot) only after the lock is held, so it sees every number an earlier run committed.
pub async fn number_changes(tx: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let numbered = sqlx::query_as(
        "WITH numbered AS (
             UPDATE case_changes c SET position = b.base + n.rn
             FROM (SELECT seq, row_number() OVER (ORDER BY seq) AS rn
                   FROM case_changes WHERE position IS NULL ORDER BY seq LIMIT $1) n,
                  (SELECT coalesce(max(position), 0) AS base FROM case_changes
                   WHERE position IS NOT NULL) b
             WHERE c.seq = n.seq
             RETURNING 1),
         total AS (SELECT count(*) AS n FROM numbered)
         SELECT n, CASE WHEN n > 0 THEN pg_notify($2, '')::text END FROM total",
    )
    .bind(SEQUENCE_BATCH)
    .bind(FEED_CHANNEL)
    .fetch_one(&mut *tx)
    .await
    .map(|(n, _): (i64, Option<String>)| n)?;
    Ok(numbered as u64)
}

/// A numbered change as the feed stores it.
#[derive(Debug, sqlx::FromRow)]
pub struct FeedRow {
    pub position: i64,
    pub previous_grid_id: Option<Uuid>,
    pub previous_status: Option<i16>,
    pub snapshot: Vec<u8>,
}

/// Numbered changes after `after` (and at most `upto`), in order. With a filter, only changes
/// that match it now or matched it before (a superset of what a watcher is sent).
pub async fn feed_after(
    pool: &PgPool,
    after: i64,
    upto: i64,
    grids: &[Uuid],
    statuses: &[i16],
    limit: i64,
) -> Result<Vec<FeedRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT position, previous_grid_id, previous_status, snapshot FROM case_changes
         WHERE position > $1 AND position <= $2
           AND (cardinality($3::uuid[]) = 0 OR grid_id = ANY($3) OR previous_grid_id = ANY($3))
           AND (cardinality($4::smallint[]) = 0 OR status = ANY($4) OR previous_status = ANY($4)
                OR status IS NULL)
         ORDER BY position LIMIT $5",
    )
    .bind(after)
    .bind(upto)
    .bind(grids)
    .bind(statuses)
    .bind(limit)
    .fetch_all(pool)
    .await
}
