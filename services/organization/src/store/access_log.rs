//! The access log of personal data: one row each time staff saw a worker's phone or ID number in
//! clear (a worker reading their own record is not logged). Written in the call that opened the
//! numbers, so an unlogged disclosure cannot happen; read by county admins.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, sqlx::FromRow)]
pub struct AccessRow {
    pub id: i64,
    pub accessor: String,
    pub accessor_roles: Vec<String>,
    pub worker_id: Uuid,
    pub call: String,
    pub accessed_at: DateTime<Utc>,
}

/// Records that `accessor` (calling with `roles`) saw the numbers of `workers` through `call`.
pub async fn record(
    pool: &PgPool,
    accessor: &str,
    roles: &[String],
    workers: &[Uuid],
    call: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO personal_data_access (accessor, accessor_roles, worker_id, call)
         SELECT $1, $2, w, $4 FROM unnest($3::uuid[]) AS w",
    )
    .bind(accessor)
    .bind(roles)
    .bind(workers)
    .bind(call)
    .execute(pool)
    .await?;
    Ok(())
}

/// Accesses newest first, before the row `before`, optionally of one worker or one accessor.
pub async fn list(
    pool: &PgPool,
    worker: Option<Uuid>,
    accessor: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AccessRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, accessor, accessor_roles, worker_id, call, accessed_at FROM personal_data_access
         WHERE ($1::uuid IS NULL OR worker_id = $1) AND ($2::text IS NULL OR accessor = $2)
           AND ($3::bigint IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4",
    )
    .bind(worker)
    .bind(accessor)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}
