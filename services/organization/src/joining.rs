//! "Member finds organization": a party member asks to join a party organization, and the
//! organization approves (the worker becomes its member) or declines with a reason.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events, workers,
};

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

async fn get(tx: &mut PgConnection, id: Uuid) -> Result<JoinRequestRow, sqlx::Error> {
    sqlx::query_as(SELECT).bind(id).fetch_one(tx).await
}

pub async fn request(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    worker_id: Uuid,
    organization_id: Uuid,
    note: &str,
) -> Result<JoinRequestRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    if let Some(existing) =
        change::claim_request(&mut tx, caller, request_id, Aggregate::JoinRequest, id).await?
    {
        return Ok(get(&mut tx, existing).await?);
    }
    change::lock(&mut tx, Aggregate::Worker, worker_id, 0).await?;
    let worker = workers::load(&mut tx, worker_id).await?;
    let kind: Option<i16> =
        sqlx::query_scalar("SELECT kind FROM organizations WHERE id = $1 AND deleted_at IS NULL")
            .bind(organization_id)
            .fetch_optional(&mut *tx)
            .await?;
    match kind {
        None => {
            return Err(ChangeError::invalid(
                "organization_id",
                format!("organization {organization_id} does not exist"),
            ));
        }
        Some(3) => {}
        Some(_) => {
            return Err(ChangeError::invalid(
                "organization_id",
                "members join party organizations, not committees",
            ));
        }
    }
    if !worker.party_member {
        return Err(ChangeError::Precondition(format!(
            "worker {worker_id} is not a party member"
        )));
    }
    if worker.organization_id == Some(organization_id) {
        return Err(ChangeError::Precondition(format!(
            "worker {worker_id} is already a member of organization {organization_id}"
        )));
    }
    let pending: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM join_requests WHERE worker_id = $1 AND organization_id = $2 AND status = 1",
    )
    .bind(worker_id)
    .bind(organization_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(p) = pending {
        return Err(ChangeError::Precondition(format!(
            "join request {p} for this organization is still pending"
        )));
    }
    sqlx::query(
        "INSERT INTO join_requests (id, worker_id, organization_id, note) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(worker_id)
    .bind(organization_id)
    .bind(note)
    .execute(&mut *tx)
    .await?;
    let row = get(&mut tx, id).await?;
    events::join_request_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// Approves or declines a pending request; approval makes the worker a member of the organization.
/// The worker a join request is from.
pub async fn worker_of(pool: &PgPool, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT worker_id FROM join_requests WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn decide(
    pool: &PgPool,
    caller: &str,
    id: Uuid,
    approve: bool,
    reason: &str,
) -> Result<JoinRequestRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::JoinRequest, id, 0).await?;
    let current = get(&mut tx, id).await?;
    if current.status != PENDING {
        return Err(ChangeError::Precondition(format!(
            "join request {id} was already decided"
        )));
    }
    if approve {
        change::lock(&mut tx, Aggregate::Worker, current.worker_id, 0).await?;
        if !change::exists(&mut tx, Aggregate::Organization, current.organization_id).await? {
            return Err(ChangeError::Precondition(format!(
                "organization {} was deleted",
                current.organization_id
            )));
        }
        sqlx::query(
            "UPDATE workers SET organization_id = $2, version = version + 1, updated_at = now() WHERE id = $1",
        )
        .bind(current.worker_id)
        .bind(current.organization_id)
        .execute(&mut *tx)
        .await?;
        let worker = workers::load(&mut tx, current.worker_id).await?;
        events::worker_updated(&mut tx, &worker).await?;
    }
    sqlx::query(
        "UPDATE join_requests SET status = $2, decided_by = $3, decided_at = now(), reason = $4,
            version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(if approve { APPROVED } else { DECLINED })
    .bind(caller)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    let row = get(&mut tx, id).await?;
    events::join_request_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
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
