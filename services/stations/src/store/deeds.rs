//! What a worker did that an honours candidate's record counts besides the ledger (volunteer
//! shifts with their hours, trainings and activities attended, whatever points they earned), and
//! the record itself, assembled from the ledger and the deeds in one statement.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::honours::CandidateRecord;

/// A deed a candidate's record counts: what `worker` did by `event` (when, if it says).
pub struct Deed<'a> {
    pub event: Uuid,
    pub worker: Uuid,
    pub deed: &'a str,
    pub subject: &'a str,
    pub hours: Option<f64>,
    /// When it was done, as the event tells; `None`: now.
    pub done_at: Option<DateTime<Utc>>,
}

impl<'a> Deed<'a> {
    /// A deed without hours.
    pub fn new(
        event: Uuid,
        worker: Uuid,
        deed: &'a str,
        subject: &'a str,
        done_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            event,
            worker,
            deed,
            subject,
            hours: None,
            done_at,
        }
    }
}

/// Records a deed once per source event and worker.
pub async fn record_deed(tx: &mut PgConnection, d: &Deed<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO worker_deeds (source_event_id, worker_id, deed, subject_ref, hours, done_at)
         VALUES ($1, $2, $3, $4, $5, COALESCE($6, now())) ON CONFLICT DO NOTHING",
    )
    .bind(d.event)
    .bind(d.worker)
    .bind(d.deed)
    .bind(d.subject)
    .bind(d.hours)
    .bind(d.done_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// A worker's record over [from, until): points earned that still stand (redemption refunds and
/// honours' own points left out), submitted tips confirmed (released, or from before points were
/// pending) and never rejected, volunteer shifts and their known hours, distinct trainings and
/// activities attended; and honours awarded in nominations other than `besides`.
pub async fn candidate_record(
    conn: &mut PgConnection,
    worker: Uuid,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    besides: Uuid,
) -> Result<CandidateRecord, sqlx::Error> {
    let row: (i64, i32, i32, f64, i32, i32, i32) = sqlx::query_as(
        "SELECT
           (SELECT COALESCE(sum(l.points + COALESCE((SELECT sum(r.points) FROM ledger_entries r
                                                    WHERE r.reverses_entry_id = l.id), 0)), 0)::bigint
            FROM ledger_entries l
            WHERE l.worker_id = $1 AND l.points > 0 AND l.reverses_entry_id IS NULL
              AND l.reason NOT IN ('redemption_cancelled', 'honour_awarded')
              AND l.created_at >= $2 AND l.created_at < $3),
           (SELECT count(*)::int FROM ledger_entries l
            WHERE l.worker_id = $1 AND l.reason = 'tip_submitted' AND l.points > 0
              AND l.reverses_entry_id IS NULL AND l.created_at >= $2 AND l.created_at < $3
              AND (l.pending_change = 0 OR EXISTS (SELECT 1 FROM ledger_entries x WHERE x.releases_entry_id = l.id))
              AND NOT EXISTS (SELECT 1 FROM ledger_entries r
                              WHERE r.reverses_entry_id = l.id AND r.reason LIKE 'tip\\_rejected%')),
           (SELECT count(*)::int FROM (SELECT DISTINCT subject_ref FROM worker_deeds
            WHERE worker_id = $1 AND deed = 'volunteer_service' AND done_at >= $2 AND done_at < $3) s),
           -- Each shift's hours once, however often its confirmation was told.
           (SELECT COALESCE(sum(h), 0)::float8 FROM (SELECT max(hours) AS h FROM worker_deeds
            WHERE worker_id = $1 AND deed = 'volunteer_service' AND done_at >= $2 AND done_at < $3
            GROUP BY subject_ref) s),
           (SELECT count(DISTINCT subject_ref)::int FROM worker_deeds
            WHERE worker_id = $1 AND deed = 'training_attended' AND done_at >= $2 AND done_at < $3),
           (SELECT count(DISTINCT subject_ref)::int FROM worker_deeds
            WHERE worker_id = $1 AND deed = 'activity_attended' AND done_at >= $2 AND done_at < $3),
           (SELECT count(*)::int FROM honour_nominations
            WHERE worker_id = $1 AND status = 3 AND id <> $4)",
    )
    .bind(worker)
    .bind(from)
    .bind(until)
    .bind(besides)
    .fetch_one(conn)
    .await?;
    Ok(CandidateRecord {
        points_standing: row.0,
        confirmed_tips: row.1,
        volunteer_shifts: row.2,
        volunteer_hours: row.3,
        trainings_attended: row.4,
        activities_attended: row.5,
        honours_before: row.6,
    })
}
