//! Membership spells: which party organization a member belonged to, from when to when, how the
//! spell began and ended, by whom and why. `workers.organization_id` is the open spell's
//! organization; the use case changes both in one transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// How a spell began (`MembershipStart`).
pub const JOINED_BY_REQUEST: i16 = 1;
pub const TRANSFERRED_IN: i16 = 2;

/// How a spell ended (`MembershipEnd`).
pub const LEFT: i16 = 1;
pub const TRANSFERRED: i16 = 2;
pub const REMOVED: i16 = 3;
pub const MEMBERSHIP_CLEARED: i16 = 4;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SpellRow {
    pub id: Uuid,
    pub worker_id: Uuid,
    pub worker_name: String,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub joined_at: DateTime<Utc>,
    pub start_how: i16,
    pub join_request_id: Option<Uuid>,
    pub started_by: String,
    pub left_at: Option<DateTime<Utc>>,
    pub end_how: Option<i16>,
    pub reason: String,
    pub ended_by: String,
    pub transferred_to: Option<Uuid>,
}

macro_rules! spell_select {
    () => {
        "SELECT s.id, s.worker_id, w.name AS worker_name, s.organization_id,
       o.name AS organization_name, s.joined_at, s.start_how, s.join_request_id, s.started_by,
       s.left_at, s.end_how, s.reason, s.ended_by, s.transferred_to
     FROM membership_spells s
     JOIN workers w ON w.id = s.worker_id
     JOIN organizations o ON o.id = s.organization_id"
    };
}

pub async fn get(tx: &mut PgConnection, id: Uuid) -> Result<SpellRow, sqlx::Error> {
    sqlx::query_as(concat!(spell_select!(), " WHERE s.id = $1"))
        .bind(id)
        .fetch_one(tx)
        .await
}

/// How a spell begins: where, how, through which request, recorded by whom.
pub struct Start<'a> {
    pub organization_id: Uuid,
    pub how: i16,
    pub join_request_id: Option<Uuid>,
    pub by: &'a str,
}

/// Opens the worker's spell in the organization (the worker has no open one).
pub async fn open(
    tx: &mut PgConnection,
    worker: Uuid,
    start: &Start<'_>,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO membership_spells (id, worker_id, organization_id, start_how, join_request_id, started_by)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(worker)
    .bind(start.organization_id)
    .bind(start.how)
    .bind(start.join_request_id)
    .bind(start.by)
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

/// Opens the spell a worker's membership lacks: one made by a replica that kept no history (during
/// the upgrade to it), dated by the approval that made it, if found. Nothing for a worker of no
/// organization or with an open spell.
pub async fn record_missing(tx: &mut PgConnection, worker: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO membership_spells (id, worker_id, organization_id, joined_at, start_how)
         SELECT $2, w.id, w.organization_id,
                COALESCE((SELECT max(j.decided_at) FROM join_requests j
                          WHERE j.worker_id = w.id AND j.organization_id = w.organization_id
                            AND j.status = 2), now()),
                3
         FROM workers w
         WHERE w.id = $1 AND w.organization_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM membership_spells s
                           WHERE s.worker_id = w.id AND s.left_at IS NULL)",
    )
    .bind(worker)
    .bind(Uuid::now_v7())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// How a spell ends: how, why, by whom, and where a transfer leads.
pub struct End<'a> {
    pub how: i16,
    pub reason: &'a str,
    pub by: &'a str,
    pub transferred_to: Option<Uuid>,
}

/// Ends the worker's open spell; the id of the spell ended, if one was open.
pub async fn close(
    tx: &mut PgConnection,
    worker: Uuid,
    end: &End<'_>,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE membership_spells SET left_at = now(), end_how = $2, reason = $3, ended_by = $4,
            transferred_to = $5
         WHERE worker_id = $1 AND left_at IS NULL
         RETURNING id",
    )
    .bind(worker)
    .bind(end.how)
    .bind(end.reason)
    .bind(end.by)
    .bind(end.transferred_to)
    .fetch_optional(&mut *tx)
    .await
}

/// The spells of one worker or of one organization (of workers in `in_communities`, if given),
/// oldest first, a page after `after`.
pub async fn list(
    pool: &PgPool,
    worker: Option<Uuid>,
    organization: Option<Uuid>,
    in_communities: Option<&[Uuid]>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SpellRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        spell_select!(),
        " WHERE ($1::uuid IS NULL OR s.worker_id = $1) AND ($2::uuid IS NULL OR s.organization_id = $2)
           AND ($3::uuid IS NULL OR s.id > $3) AND ($5::uuid[] IS NULL OR w.community_id = ANY($5))
         ORDER BY s.id LIMIT $4"
    ))
    .bind(worker)
    .bind(organization)
    .bind(after)
    .bind(limit)
    .bind(in_communities)
    .fetch_all(pool)
    .await
}
