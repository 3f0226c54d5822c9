//! Join requests ("member finds organization"): a party member's request to join a party
//! organization, and the organization's decision.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub const PENDING: i16 = 1;
pub const APPROVED: i16 = 2;
pub const DECLINED: i16 = 3;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JoinRequestRow {
    pub id: Uuid,
    pub worker_id: Uuid,
    pub organization_id: Uuid,
    pub status: i16,
    pub note: String,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub reason: String,
    pub version: i64,
}

const SELECT: &str = "SELECT id, worker_id, organization_id, status, note, requested_at, decided_by, decided_at, reason, version
     FROM join_requests WHERE id = $1";

pub async fn get(tx: &mut PgConnection, id: Uuid) -> Result<JoinRequestRow, sqlx::Error> {
    sqlx::query_as(SELECT).bind(id).fetch_one(tx).await
}

/// The worker a join request is from.
pub async fn worker_of(pool: &PgPool, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT worker_id FROM join_requests WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The worker's request to join the organization that is still pending, if any.
pub async fn pending(
    tx: &mut PgConnection,
    worker_id: Uuid,
    organization_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM join_requests WHERE worker_id = $1 AND organization_id = $2 AND status = 1",
    )
    .bind(worker_id)
    .bind(organization_id)
    .fetch_optional(&mut *tx)
    .await
}

pub async fn insert(
    tx: &mut PgConnection,
    id: Uuid,
    worker_id: Uuid,
    organization_id: Uuid,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO join_requests (id, worker_id, organization_id, note) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(worker_id)
    .bind(organization_id)
    .bind(note)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records the decision (`APPROVED` or `DECLINED`), by whom and why, with a new version.
pub async fn decide(
    tx: &mut PgConnection,
    id: Uuid,
    status: i16,
    decided_by: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE join_requests SET status = $2, decided_by = $3, decided_at = now(), reason = $4,
            version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(decided_by)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn list(
    pool: &PgPool,
    organization_id: Option<Uuid>,
    worker_id: Option<Uuid>,
    status: Option<i16>,
    in_communities: Option<&[Uuid]>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<JoinRequestRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, worker_id, organization_id, status, note, requested_at, decided_by, decided_at, reason, version
         FROM join_requests
         WHERE ($1::uuid IS NULL OR organization_id = $1) AND ($2::uuid IS NULL OR worker_id = $2)
           AND ($3::smallint IS NULL OR status = $3) AND ($4::uuid IS NULL OR id > $4)
           AND ($6::uuid[] IS NULL OR worker_id IN (SELECT id FROM workers WHERE community_id = ANY($6)))
         ORDER BY id LIMIT $5",
    )
    .bind(organization_id)
    .bind(worker_id)
    .bind(status)
    .bind(after)
    .bind(limit)
    .bind(in_communities)
    .fetch_all(pool)
    .await
}
