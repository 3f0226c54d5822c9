//! Attendance: who checked in where, and a worker's learning record.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::SessionRow;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttendanceRow {
    pub id: Uuid,
    pub session_id: Uuid,
    pub worker_id: Uuid,
    pub checked_in_at: DateTime<Utc>,
}

pub async fn attendance_of(
    tx: &mut PgConnection,
    session: Uuid,
    worker: Uuid,
) -> Result<Option<AttendanceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, session_id, worker_id, checked_in_at FROM attendances
         WHERE session_id = $1 AND worker_id = $2",
    )
    .bind(session)
    .bind(worker)
    .fetch_optional(tx)
    .await
}

pub async fn attendance_count(tx: &mut PgConnection, session: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM attendances WHERE session_id = $1")
        .bind(session)
        .fetch_one(tx)
        .await
}

/// Records attendance (with the code that admitted it, if any) and marks the code used.
pub async fn insert_attendance(
    tx: &mut PgConnection,
    session: Uuid,
    worker: Uuid,
    code: Option<&str>,
    checked_in_at: DateTime<Utc>,
) -> Result<AttendanceRow, sqlx::Error> {
    if let Some(code) = code {
        super::use_code(&mut *tx, code, worker, checked_in_at).await?;
    }
    sqlx::query_as(
        "INSERT INTO attendances (id, session_id, worker_id, code, checked_in_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, session_id, worker_id, checked_in_at",
    )
    .bind(Uuid::now_v7())
    .bind(session)
    .bind(worker)
    .bind(code)
    .bind(checked_in_at)
    .fetch_one(tx)
    .await
}

pub async fn list_attendance(
    pool: &PgPool,
    session: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AttendanceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, session_id, worker_id, checked_in_at FROM attendances
         WHERE session_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
    )
    .bind(session)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A worker's attendances with their sessions, oldest first.
/// A worker's attendances, limited to sessions at sites of `in_communities` (None: all).
pub async fn learning_record(
    pool: &PgPool,
    worker: Uuid,
    in_communities: Option<&[Uuid]>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(AttendanceRow, SessionRow)>, sqlx::Error> {
    let attendances: Vec<AttendanceRow> = sqlx::query_as(
        "SELECT id, session_id, worker_id, checked_in_at FROM attendances
         WHERE worker_id = $1 AND ($2::uuid IS NULL OR id > $2)
           AND ($4::uuid[] IS NULL OR session_id IN (
                SELECT s.id FROM sessions s JOIN learning_sites l ON l.id = s.site_id
                WHERE l.community_id = ANY($4)))
         ORDER BY id LIMIT $3",
    )
    .bind(worker)
    .bind(after)
    .bind(limit)
    .bind(in_communities)
    .fetch_all(pool)
    .await?;
    let ids: Vec<Uuid> = attendances.iter().map(|a| a.session_id).collect();
    let sessions: Vec<SessionRow> =
        sqlx::query_as(concat!(session_select!(), "WHERE s.id = ANY($1)"))
            .bind(&ids)
            .fetch_all(pool)
            .await?;
    Ok(attendances
        .into_iter()
        .filter_map(|a| {
            let s = sessions.iter().find(|s| s.id == a.session_id)?.clone();
            Some((a, s))
        })
        .collect())
}
