//! The volunteer team's tables: members (`volunteers`), their roles (`volunteer_roles`) and
//! their services (`service_records`).

use chrono::{DateTime, Utc};
use kit::time::to_timestamp;
use redsupply_proto::governance::v1 as pb;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ServiceRecordRow {
    pub id: Uuid,
    pub worker_id: Uuid,
    pub role: i16,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub hours: Option<f64>,
    pub problems_solved: i32,
    pub note: String,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub confirmed_by: Option<String>,
    pub confirmed_hours: Option<f64>,
}

impl ServiceRecordRow {
    pub fn to_pb(&self) -> pb::ServiceRecord {
        pb::ServiceRecord {
            id: self.id.to_string(),
            worker_id: self.worker_id.to_string(),
            role: i32::from(self.role),
            started_at: Some(to_timestamp(self.started_at)),
            ended_at: self.ended_at.map(to_timestamp),
            hours: self.hours.unwrap_or(0.0),
            problems_solved: self.problems_solved,
            note: self.note.clone(),
            confirmed_at: self.confirmed_at.map(to_timestamp),
            confirmed_by: self.confirmed_by.clone().unwrap_or_default(),
            confirmed_hours: self.confirmed_hours.unwrap_or(0.0),
        }
    }
}

macro_rules! record_columns {
    () => {
        "id, worker_id, role, started_at, ended_at, hours, problems_solved, note, confirmed_at, confirmed_by, confirmed_hours"
    };
}

/// The member's record with roles and hours; None: not a member.
pub async fn volunteer(
    conn: &mut PgConnection,
    worker: Uuid,
) -> Result<Option<pb::Volunteer>, sqlx::Error> {
    let joined: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT joined_at FROM volunteers WHERE worker_id = $1")
            .bind(worker)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(joined) = joined else {
        return Ok(None);
    };
    let roles = roles_of(conn, worker).await?;
    let hours: f64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(hours), 0)::float8 FROM service_records WHERE worker_id = $1",
    )
    .bind(worker)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(pb::Volunteer {
        worker_id: worker.to_string(),
        roles: roles.into_iter().map(i32::from).collect(),
        joined_at: Some(to_timestamp(joined)),
        hours,
    }))
}

pub async fn roles_of(conn: &mut PgConnection, worker: Uuid) -> Result<Vec<i16>, sqlx::Error> {
    sqlx::query_scalar("SELECT role FROM volunteer_roles WHERE worker_id = $1 ORDER BY role")
        .bind(worker)
        .fetch_all(&mut *conn)
        .await
}

/// Members in id order after `after`, holding `role` (0: any).
pub async fn volunteer_ids(
    pool: &PgPool,
    role: i16,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT v.worker_id FROM volunteers v
         WHERE ($1 = 0 OR EXISTS (SELECT 1 FROM volunteer_roles r WHERE r.worker_id = v.worker_id AND r.role = $1))
           AND ($2::uuid IS NULL OR v.worker_id > $2)
         ORDER BY v.worker_id LIMIT $3",
    )
    .bind(role)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn insert_volunteer(conn: &mut PgConnection, worker: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO volunteers (worker_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(worker)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn is_volunteer(conn: &mut PgConnection, worker: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM volunteers WHERE worker_id = $1)")
        .bind(worker)
        .fetch_one(&mut *conn)
        .await
}

/// Adds the role; false when the worker held it already.
pub async fn add_role(
    conn: &mut PgConnection,
    worker: Uuid,
    role: i16,
    by: &str,
) -> Result<bool, sqlx::Error> {
    let added = sqlx::query(
        "INSERT INTO volunteer_roles (worker_id, role, appointed_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(worker)
    .bind(role)
    .bind(by)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(added == 1)
}

/// A finished service, unless the worker recorded one with `request_id` before.
#[allow(clippy::too_many_arguments)]
pub async fn insert_finished_service(
    conn: &mut PgConnection,
    worker: Uuid,
    request_id: &str,
    role: i16,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    hours: f64,
    problems_solved: i32,
) -> Result<Option<ServiceRecordRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO service_records (id, worker_id, role, started_at, ended_at, hours, problems_solved, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (worker_id, request_id) DO NOTHING
         RETURNING ",
        record_columns!(),
        ""
    ))
    .bind(Uuid::now_v7())
    .bind(worker)
    .bind(role)
    .bind(started_at)
    .bind(ended_at)
    .bind(hours)
    .bind(problems_solved)
    .bind(request_id)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn service_by_request(
    conn: &mut PgConnection,
    worker: Uuid,
    request_id: &str,
) -> Result<Option<ServiceRecordRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        record_columns!(),
        " FROM service_records WHERE worker_id = $1 AND request_id = $2"
    ))
    .bind(worker)
    .bind(request_id)
    .fetch_optional(&mut *conn)
    .await
}

/// Opens a service; None when one is open already (one open service per worker).
pub async fn open_service(
    conn: &mut PgConnection,
    worker: Uuid,
    role: i16,
    request_id: &str,
) -> Result<Option<ServiceRecordRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO service_records (id, worker_id, role, request_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING
         RETURNING ",
        record_columns!(),
        ""
    ))
    .bind(Uuid::now_v7())
    .bind(worker)
    .bind(role)
    .bind(request_id)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn lock_service(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<ServiceRecordRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        record_columns!(),
        " FROM service_records WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn close_service(
    conn: &mut PgConnection,
    id: Uuid,
    ended_at: DateTime<Utc>,
    hours: f64,
    problems_solved: i32,
    note: &str,
) -> Result<ServiceRecordRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE service_records SET ended_at = $2, hours = $3, problems_solved = $4, note = $5 WHERE id = $1
         RETURNING ",
        record_columns!(),
        ""
    ))
    .bind(id)
    .bind(ended_at)
    .bind(hours)
    .bind(problems_solved)
    .bind(note)
    .fetch_one(&mut *conn)
    .await
}

/// Confirms a finished service for `hours`, once.
pub async fn confirm_service(
    conn: &mut PgConnection,
    id: Uuid,
    by: &str,
    hours: f64,
) -> Result<ServiceRecordRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE service_records SET confirmed_at = now(), confirmed_by = $2, confirmed_hours = $3
         WHERE id = $1 RETURNING ",
        record_columns!(),
        ""
    ))
    .bind(id)
    .bind(by)
    .bind(hours)
    .fetch_one(&mut *conn)
    .await
}
