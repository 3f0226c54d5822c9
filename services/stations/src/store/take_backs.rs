//! Take-backs many at once (the merged tips of a consumer group, see `app::merges`): the awards
//! of many tips with what stands of them, which tips are merged, and compensating entries
//! appended with their workers' balances moved, one statement each however many tips.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{EntryRow, NewEntry, StandingAward};

/// The `reason` awards recorded against any of `subjects` of which something still stands, by
/// worker and then entry.
pub async fn standing_awards_of(
    tx: &mut PgConnection,
    subjects: &[String],
    reason: &str,
) -> Result<Vec<StandingAward>, sqlx::Error> {
    let rows: Vec<StandingAward> = sqlx::query_as(standing_award!(
        "e.subject_ref = ANY($1) AND e.reason = $2 AND e.points > 0 AND e.reverses_entry_id IS NULL
         ORDER BY e.worker_id, e.id"
    ))
    .bind(subjects)
    .bind(reason)
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().filter(|a| a.standing > 0).collect())
}

/// Notes that these tips were merged into an existing case.
pub async fn mark_merged(tx: &mut PgConnection, tips: &[Uuid]) -> Result<(), sqlx::Error> {
    let mut tips = tips.to_vec();
    tips.sort_unstable();
    tips.dedup();
    sqlx::query(
        "INSERT INTO tip_marks (tip_id, merged) SELECT t, TRUE FROM unnest($1::uuid[]) AS t ORDER BY t
         ON CONFLICT (tip_id) DO UPDATE SET merged = TRUE",
    )
    .bind(&tips)
    .execute(tx)
    .await?;
    Ok(())
}

/// Appends take-backs (each with the award it `reverses`) unless their source event has its
/// entry already, and moves each worker's balance by what was appended, in one statement;
/// returns the entries appended. The caller locked the balances (an UPDATE, not an upsert: the
/// never-negative constraints are checked on the row that results).
pub async fn append_take_backs(
    tx: &mut PgConnection,
    entries: &[NewEntry<'_>],
) -> Result<Vec<EntryRow>, sqlx::Error> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut workers: Vec<Uuid> = entries.iter().map(|e| e.worker).collect();
    workers.sort_unstable();
    workers.dedup();
    let query = sqlx::query_as(concat!(
        "WITH e AS (
             INSERT INTO ledger_entries (id, worker_id, points, reason, source_event_id, subject_ref,
                 pending_change, debt_change, reverses_entry_id)
             SELECT u.id, u.worker_id, u.points, u.reason, u.source_event_id, u.subject_ref,
                 u.pending_change, u.debt_change, u.reverses
             FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::uuid[], $6::text[],
                         $7::int8[], $8::int8[], $9::uuid[]) WITH ORDINALITY
                  AS u(id, worker_id, points, reason, source_event_id, subject_ref, pending_change,
                       debt_change, reverses, n)
             ORDER BY u.n
             ON CONFLICT (source_event_id, reason, worker_id) DO NOTHING
             RETURNING ",
        entry_columns!(),
        "), moved AS (
             UPDATE balances b SET points = b.points + m.available, pending = b.pending + m.pending,
                 debt = b.debt + m.debt, updated_at = now()
             FROM (SELECT worker_id, sum(points - pending_change + debt_change)::bigint AS available,
                          sum(pending_change)::bigint AS pending, sum(debt_change)::bigint AS debt
                   FROM e GROUP BY worker_id) AS m
             -- The primary key finds each row, whatever the statistics say.
             WHERE b.worker_id = ANY($10) AND b.worker_id = m.worker_id)
         SELECT * FROM e"
    ));
    super::ledger::bind_entries(query, entries)
        .bind(entries.iter().map(|e| e.reverses).collect::<Vec<_>>())
        .bind(&workers)
        .fetch_all(tx)
        .await
}
