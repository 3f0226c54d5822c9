//! What the release of pending points needs: the queue of pending awards (the ledger stays the
//! record of what they hold), and what stations has heard about tips whose award may come later
//! (rejected, merged into a case, confirmed by their case's acceptance), and the cases whose pay a
//! reporter forfeited by a false tip.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A pending award waiting in the queue.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct PendingAward {
    pub entry_id: Uuid,
    pub worker_id: Uuid,
    pub tip_id: Uuid,
}

/// Queues pending awards `(entry, worker, tip)` for release after `release_after`.
pub async fn queue_pending(
    tx: &mut PgConnection,
    awards: &[PendingAward],
    release_after: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if awards.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO pending_awards (entry_id, worker_id, tip_id, release_after)
         SELECT e, w, t, $4 FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[]) AS u(e, w, t)
         ON CONFLICT DO NOTHING",
    )
    .bind(awards.iter().map(|a| a.entry_id).collect::<Vec<_>>())
    .bind(awards.iter().map(|a| a.worker_id).collect::<Vec<_>>())
    .bind(awards.iter().map(|a| a.tip_id).collect::<Vec<_>>())
    .bind(release_after)
    .execute(tx)
    .await?;
    Ok(())
}

/// Takes the award out of the queue; false when it was not there (released or taken back by
/// another transaction).
pub async fn dequeue_pending(tx: &mut PgConnection, entry: Uuid) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM pending_awards WHERE entry_id = $1")
            .bind(entry)
            .execute(tx)
            .await?
            .rows_affected()
            == 1,
    )
}

/// The queued awards of these tips.
pub async fn pending_of_tips(
    tx: &mut PgConnection,
    tips: &[Uuid],
) -> Result<Vec<PendingAward>, sqlx::Error> {
    sqlx::query_as(
        "SELECT entry_id, worker_id, tip_id FROM pending_awards WHERE tip_id = ANY($1)
         ORDER BY worker_id, entry_id",
    )
    .bind(tips)
    .fetch_all(tx)
    .await
}

/// Up to `limit` queued awards due for release, oldest first.
pub async fn due_pending(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<PendingAward>, sqlx::Error> {
    sqlx::query_as(
        "SELECT entry_id, worker_id, tip_id FROM pending_awards WHERE release_after <= now()
         ORDER BY release_after LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// What stations has heard about a tip before (or after) its award.
#[derive(Debug, Clone, Copy, Default)]
pub struct TipMarks {
    pub rejected: bool,
    pub merged: bool,
    pub confirmed: bool,
    /// Its submission event was handled already (a redelivery): it has its ledger entry, or it
    /// was capped.
    pub awarded: bool,
}

/// Notes that a tip was merged into an existing case and/or confirmed.
pub async fn mark_tip(
    tx: &mut PgConnection,
    tip: Uuid,
    merged: bool,
    confirmed: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tip_marks (tip_id, merged, confirmed) VALUES ($1, $2, $3)
         ON CONFLICT (tip_id) DO UPDATE SET merged = tip_marks.merged OR EXCLUDED.merged,
             confirmed = tip_marks.confirmed OR EXCLUDED.confirmed",
    )
    .bind(tip)
    .bind(merged)
    .bind(confirmed)
    .execute(tx)
    .await?;
    Ok(())
}

/// Notes that these tips are confirmed (their case was accepted).
pub async fn mark_confirmed(tx: &mut PgConnection, tips: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tip_marks (tip_id, confirmed) SELECT t, TRUE FROM unnest($1::uuid[]) AS t ORDER BY t
         ON CONFLICT (tip_id) DO UPDATE SET confirmed = TRUE",
    )
    .bind(tips)
    .execute(tx)
    .await?;
    Ok(())
}

/// What is known of each of these tips (only tips with news are in the map); with
/// `submissions` (the event that submitted each tip, in the same order) also whether that event
/// was handled already: it earned its `reason` entry, or the day's cap left it nothing.
pub async fn tip_marks(
    tx: &mut PgConnection,
    tips: &[Uuid],
    submissions: &[Uuid],
    reason: &str,
) -> Result<HashMap<Uuid, TipMarks>, sqlx::Error> {
    let rows: Vec<(Uuid, bool, bool, bool, bool)> = sqlx::query_as(
        "SELECT t.id, r.tip_id IS NOT NULL, COALESCE(m.merged, FALSE), COALESCE(m.confirmed, FALSE), a.awarded
         FROM unnest($1::uuid[], $2::uuid[]) AS t(id, ev)
         LEFT JOIN rejected_tips r ON r.tip_id = t.id
         LEFT JOIN tip_marks m ON m.tip_id = t.id
         CROSS JOIN LATERAL (SELECT t.ev IS NOT NULL AND (EXISTS (
             SELECT 1 FROM ledger_entries l WHERE l.source_event_id = t.ev AND l.reason = $3)
             OR EXISTS (SELECT 1 FROM capped_submissions c WHERE c.event_id = t.ev))) AS a(awarded)
         WHERE t.id IS NOT NULL AND (r.tip_id IS NOT NULL OR m.tip_id IS NOT NULL OR a.awarded)",
    )
    .bind(tips)
    .bind(submissions)
    .bind(reason)
    .fetch_all(tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(t, rejected, merged, confirmed, awarded)| {
            (
                t,
                TipMarks {
                    rejected,
                    merged,
                    confirmed,
                    awarded,
                },
            )
        })
        .collect())
}

/// A rejected tip's reporter forfeits what its case would pay them later (`case_resolved`).
pub async fn forfeit_case(
    tx: &mut PgConnection,
    case: &str,
    worker: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO case_forfeits (case_id, worker_id) VALUES ($1::uuid, $2) ON CONFLICT DO NOTHING",
    )
    .bind(case)
    .bind(worker)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn case_forfeited(
    tx: &mut PgConnection,
    case: &str,
    worker: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM case_forfeits WHERE case_id = $1::uuid AND worker_id = $2)",
    )
    .bind(case)
    .bind(worker)
    .fetch_one(tx)
    .await
}

/// Records submissions the daily cap left without points (see [`tip_marks`]).
pub async fn record_capped(
    tx: &mut PgConnection,
    capped: &[(Uuid, Uuid)],
) -> Result<(), sqlx::Error> {
    if capped.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO capped_submissions (event_id, worker_id)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING",
    )
    .bind(capped.iter().map(|c| c.0).collect::<Vec<_>>())
    .bind(capped.iter().map(|c| c.1).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
}
