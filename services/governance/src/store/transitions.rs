//! A case's history: every transition with who, when, why and the version it produced.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::CaseRow;

pub struct Transition<'a> {
    pub case_id: Uuid,
    pub from_status: Option<i16>,
    pub to_status: i16,
    pub from_grid: Option<Uuid>,
    pub to_grid: Option<Uuid>,
    pub from_department: Option<&'a str>,
    pub to_department: &'a str,
    pub actor: &'a str,
    pub reason: &'a str,
    pub public_reply: &'a str,
    /// The case's version after the change.
    pub version: i64,
}

impl<'a> Transition<'a> {
    /// The transition of a case from `before` to `after` (the row the change returned), without a
    /// public reply.
    pub fn of(before: &'a CaseRow, after: &'a CaseRow, actor: &'a str, reason: &'a str) -> Self {
        Self {
            case_id: after.id,
            from_status: Some(before.status),
            to_status: after.status,
            from_grid: before.grid_id,
            to_grid: after.grid_id,
            from_department: Some(&before.department),
            to_department: &after.department,
            actor,
            reason,
            public_reply: "",
            version: after.version,
        }
    }
}

pub async fn record_transition(
    tx: &mut PgConnection,
    t: &Transition<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO case_transitions (case_id, from_status, to_status, from_grid_id, to_grid_id,
             from_department, to_department, actor, reason, public_reply, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(t.case_id)
    .bind(t.from_status)
    .bind(t.to_status)
    .bind(t.from_grid)
    .bind(t.to_grid)
    .bind(t.from_department)
    .bind(t.to_department)
    .bind(t.actor)
    .bind(t.reason)
    .bind(t.public_reply)
    .bind(t.version)
    .execute(tx)
    .await?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub struct TransitionRow {
    pub from_status: Option<i16>,
    pub to_status: i16,
    pub from_grid_id: Option<Uuid>,
    pub to_grid_id: Option<Uuid>,
    pub from_department: Option<String>,
    pub to_department: String,
    pub actor: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    pub public_reply: String,
    pub version: i64,
}

pub async fn transitions(pool: &PgPool, case_id: Uuid) -> Result<Vec<TransitionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT from_status, to_status, from_grid_id, to_grid_id, from_department, to_department, actor, reason, at,
                public_reply, coalesce(version, 0) AS version
         FROM case_transitions WHERE case_id = $1 ORDER BY id",
    )
    .bind(case_id)
    .fetch_all(pool)
    .await
}

/// The system's first transition of each new case (to its grid, or to the county queue).
pub async fn record_dispatch_transitions(
    tx: &mut PgConnection,
    cases: &[CaseRow],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO case_transitions (case_id, from_status, to_status, from_grid_id, to_grid_id,
             from_department, to_department, actor, reason, version)
         SELECT u.case_id, NULL, u.to_status, NULL, u.to_grid_id, NULL, u.to_department, 'system',
                CASE WHEN u.to_grid_id IS NULL THEN 'outside every grid: county queue'
                     ELSE 'dispatched to the grid holding the tip' END, 1
         FROM UNNEST($1::uuid[], $2::int2[], $3::uuid[], $4::text[]) AS u(case_id, to_status, to_grid_id, to_department)",
    )
    .bind(cases.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.status).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.grid_id).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.department.as_str()).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
}
