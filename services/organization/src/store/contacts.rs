//! Contact links (党支部—党员—群众): the workers a party member keeps in touch with, the set's
//! version (one aggregate per member), and the coverage they give.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Bumps the version of the member's set (the first change makes it 1); returns the new one.
pub async fn bump_version(tx: &mut PgConnection, member: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO contact_sets (member_id, version) VALUES ($1, 1)
         ON CONFLICT (member_id) DO UPDATE SET version = contact_sets.version + 1
         RETURNING version",
    )
    .bind(member)
    .fetch_one(&mut *tx)
    .await
}

/// The workers the member keeps in touch with, by id.
pub async fn workers_of(tx: &mut PgConnection, member: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT worker_id FROM contact_links WHERE member_id = $1 ORDER BY worker_id",
    )
    .bind(member)
    .fetch_all(&mut *tx)
    .await
}

/// Links the member to each worker (links that exist are kept); returns how many are new.
pub async fn insert_links(
    tx: &mut PgConnection,
    member: Uuid,
    workers: &[Uuid],
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO contact_links (member_id, worker_id) SELECT $1, unnest($2::uuid[])
         ON CONFLICT DO NOTHING",
    )
    .bind(member)
    .bind(workers)
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

/// Removes the link; returns how many were removed (0 or 1).
pub async fn delete_link(
    tx: &mut PgConnection,
    member: Uuid,
    worker: Uuid,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM contact_links WHERE member_id = $1 AND worker_id = $2")
            .bind(member)
            .bind(worker)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
    )
}

/// The member's set as it stands: (count, version).
pub async fn current(tx: &mut PgConnection, member: Uuid) -> Result<(i32, i64), sqlx::Error> {
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
    /// (member, their name, workers they carry), most loaded first, at most 100.
    pub over_load: Vec<(Uuid, String, i64)>,
    /// How many members are over the load, listed or not.
    pub over_load_total: i64,
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
             JOIN workers m ON m.id = l.member_id AND m.deleted_at IS NULL AND m.party_member
         )
         SELECT (SELECT count(*) FROM scope),
                (SELECT count(DISTINCT worker_id) FROM live_links),
                (SELECT count(DISTINCT member_id) FROM live_links)",
    )
    .bind(community)
    .fetch_one(pool)
    .await?;
    let rows: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
        "SELECT l.member_id, m.name, count(*), count(*) OVER () FROM contact_links l
         JOIN workers w ON w.id = l.worker_id AND w.deleted_at IS NULL
         JOIN workers m ON m.id = l.member_id AND m.deleted_at IS NULL AND m.party_member
         WHERE ($1::uuid IS NULL OR w.community_id = $1)
         GROUP BY l.member_id, m.name HAVING count(*) > $2
         ORDER BY count(*) DESC, l.member_id LIMIT 100",
    )
    .bind(community)
    .bind(i64::from(load_limit))
    .fetch_all(pool)
    .await?;
    let over_load_total = rows.first().map_or(0, |r| r.3);
    Ok(Coverage {
        workers,
        workers_with_contact,
        members_in_touch,
        over_load: rows
            .into_iter()
            .map(|(m, name, n, _)| (m, name, n))
            .collect(),
        over_load_total,
    })
}
