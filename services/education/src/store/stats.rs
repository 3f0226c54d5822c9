//! The figures of education's statistics.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::SessionRow;

/// Sessions starting in [from, until) with their attendance, for statistics.
/// Sessions starting in [from, until) at sites of `in_communities` (None: all).
pub async fn sessions_between(
    pool: &PgPool,
    in_communities: Option<&[Uuid]>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        session_select!(),
        "WHERE ($1::timestamptz IS NULL OR s.starts_at >= $1)
           AND ($2::timestamptz IS NULL OR s.starts_at < $2)
           AND ($3::uuid[] IS NULL OR s.site_id IN (
                SELECT id FROM learning_sites WHERE community_id = ANY($3)))"
    ))
    .bind(from)
    .bind(until)
    .bind(in_communities)
    .fetch_all(pool)
    .await
}

/// Learning sites of `in_communities` (None: all) and the county's lecturers.
pub async fn counts(
    pool: &PgPool,
    in_communities: Option<&[Uuid]>,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM learning_sites
                  WHERE $1::uuid[] IS NULL OR community_id = ANY($1)),
                (SELECT count(*) FROM lecturers)",
    )
    .bind(in_communities)
    .fetch_one(pool)
    .await
}
