//! Contact links (党支部—党员—群众): a party member keeps in touch with a set of workers. The set
//! is one aggregate per member with its own version; coverage says how many workers have a contact
//! and which members carry more than they should.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events, workers,
};

/// Bumps the member's set version and announces the whole set; returns (count, version).
async fn announce(tx: &mut PgConnection, member: Uuid) -> Result<(i32, i64), sqlx::Error> {
    let version: i64 = sqlx::query_scalar(
        "INSERT INTO contact_sets (member_id, version) VALUES ($1, 1)
         ON CONFLICT (member_id) DO UPDATE SET version = contact_sets.version + 1
         RETURNING version",
    )
    .bind(member)
    .fetch_one(&mut *tx)
    .await?;
    let workers: Vec<Uuid> = sqlx::query_scalar(
        "SELECT worker_id FROM contact_links WHERE member_id = $1 ORDER BY worker_id",
    )
    .bind(member)
    .fetch_all(&mut *tx)
    .await?;
    events::contacts_changed(tx, member, &workers, version).await?;
    Ok((workers.len() as i32, version))
}

/// Adds links from the member to each worker (links that exist are kept). Replays of the same call
/// change nothing and publish nothing.
pub async fn link(
    pool: &PgPool,
    member: Uuid,
    worker_ids: &[Uuid],
) -> Result<(i32, i64), ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, member, 0).await?;
    let m = workers::load(&mut tx, member).await?;
    if !m.party_member {
        return Err(ChangeError::Precondition(format!(
            "worker {member} is not a party member"
        )));
    }
    if worker_ids.contains(&member) {
        return Err(ChangeError::invalid(
            "worker_ids",
            "a member does not keep in touch with themselves",
        ));
    }
    change::require_all(&mut tx, Aggregate::Worker, "worker_ids", worker_ids).await?;
    let added = sqlx::query(
        "INSERT INTO contact_links (member_id, worker_id) SELECT $1, unnest($2::uuid[])
         ON CONFLICT DO NOTHING",
    )
    .bind(member)
    .bind(worker_ids)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let result = if added > 0 {
        announce(&mut tx, member).await?
    } else {
        current(&mut tx, member).await?
    };
    tx.commit().await?;
    Ok(result)
}

pub async fn unlink(pool: &PgPool, member: Uuid, worker: Uuid) -> Result<(i32, i64), ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, member, 0).await?;
    let removed = sqlx::query("DELETE FROM contact_links WHERE member_id = $1 AND worker_id = $2")
        .bind(member)
        .bind(worker)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(ChangeError::Precondition(format!(
            "member {member} is not in touch with worker {worker}"
        )));
    }
    let result = announce(&mut tx, member).await?;
    tx.commit().await?;
    Ok(result)
}

async fn current(tx: &mut PgConnection, member: Uuid) -> Result<(i32, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*)::int FROM contact_links WHERE member_id = $1),
                COALESCE((SELECT version FROM contact_sets WHERE member_id = $1), 0)",
    )
    .bind(member)
    .fetch_one(tx)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkRow {
    pub member_id: Uuid,
    pub worker_id: Uuid,
    pub linked_at: DateTime<Utc>,
}

/// The member's workers (paged by worker id) or the worker's members (paged by member id).
pub async fn list(
    pool: &PgPool,
    member: Option<Uuid>,
    worker: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<LinkRow>, sqlx::Error> {
    match (member, worker) {
        (Some(m), _) => {
            sqlx::query_as(
                "SELECT member_id, worker_id, linked_at FROM contact_links
                 WHERE member_id = $1 AND ($2::uuid IS NULL OR worker_id = $2) AND ($3::uuid IS NULL OR worker_id > $3)
                 ORDER BY worker_id LIMIT $4",
            )
            .bind(m)
            .bind(worker)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await
        }
        (None, w) => {
            sqlx::query_as(
                "SELECT member_id, worker_id, linked_at FROM contact_links
                 WHERE worker_id = $1 AND ($2::uuid IS NULL OR member_id > $2)
                 ORDER BY member_id LIMIT $3",
            )
            .bind(w)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await
        }
    }
}

#[derive(Debug, Clone)]
pub struct Coverage {
    pub workers: i64,
    pub workers_with_contact: i64,
    pub members_in_touch: i64,
    pub over_load: Vec<(Uuid, i64)>,
}

/// Coverage of live workers (of one community, or all) by live members.
pub async fn coverage(
    pool: &PgPool,
    community: Option<Uuid>,
    load_limit: i32,
) -> Result<Coverage, sqlx::Error> {
    let (workers, workers_with_contact, members_in_touch): (i64, i64, i64) = sqlx::query_as(
        "WITH scope AS (
             SELECT id FROM workers WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR community_id = $1)
         ), live_links AS (
             SELECT l.member_id, l.worker_id FROM contact_links l
             JOIN scope s ON s.id = l.worker_id
             JOIN workers m ON m.id = l.member_id AND m.deleted_at IS NULL
         )
         SELECT (SELECT count(*) FROM scope),
                (SELECT count(DISTINCT worker_id) FROM live_links),
                (SELECT count(DISTINCT member_id) FROM live_links)",
    )
    .bind(community)
    .fetch_one(pool)
    .await?;
    let over_load: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT l.member_id, count(*) FROM contact_links l
         JOIN workers w ON w.id = l.worker_id AND w.deleted_at IS NULL
         JOIN workers m ON m.id = l.member_id AND m.deleted_at IS NULL
         WHERE ($1::uuid IS NULL OR w.community_id = $1)
         GROUP BY l.member_id HAVING count(*) > $2
         ORDER BY count(*) DESC, l.member_id LIMIT 100",
    )
    .bind(community)
    .bind(i64::from(load_limit))
    .fetch_all(pool)
    .await?;
    Ok(Coverage {
        workers,
        workers_with_contact,
        members_in_touch,
        over_load,
    })
}
