//! Governance statistics: tips reported and problems solved, per period and grid.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::GridScope;
use uuid::Uuid;

pub struct Stats {
    pub tips_by_grid: Vec<(Option<Uuid>, i64)>,
    pub resolved_by_grid: Vec<(Option<Uuid>, i64)>,
    pub solved_by_volunteers: i64,
    pub volunteers: i64,
    pub role_holders: i64,
    pub volunteer_hours: f64,
}

/// Tips reported (not rejected) and cases resolved per grid in [from, until), and the volunteer
/// team's figures.
pub async fn stats(
    pool: &PgPool,
    scope: &GridScope,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Stats, sqlx::Error> {
    let tips_by_grid = sqlx::query_as(concat!(
        "SELECT c.grid_id, count(*) FROM tips t LEFT JOIN cases c ON c.id = t.case_id
         WHERE t.status <> 4 AND ($1::timestamptz IS NULL OR t.submitted_at >= $1)
           AND ($2::timestamptz IS NULL OR t.submitted_at < $2) AND ",
        in_grid_scope!("c.grid_id", "$3", "$4"),
        " GROUP BY c.grid_id"
    ))
    .bind(from)
    .bind(until)
    .bind(scope.grids.as_deref())
    .bind(&scope.communities)
    .fetch_all(pool)
    .await?;
    let resolved_by_grid = sqlx::query_as(concat!(
        "SELECT grid_id, count(*) FROM cases
         WHERE resolved_at IS NOT NULL AND ($1::timestamptz IS NULL OR resolved_at >= $1)
           AND ($2::timestamptz IS NULL OR resolved_at < $2) AND ",
        in_grid_scope!("grid_id", "$3", "$4"),
        " GROUP BY grid_id"
    ))
    .bind(from)
    .bind(until)
    .bind(scope.grids.as_deref())
    .bind(&scope.communities)
    .fetch_all(pool)
    .await?;
    let (solved_by_volunteers, volunteer_hours): (i64, f64) = sqlx::query_as(
        "SELECT COALESCE(sum(problems_solved), 0)::bigint, COALESCE(sum(hours), 0)::float8 FROM service_records
         WHERE ended_at IS NOT NULL AND ($1::timestamptz IS NULL OR ended_at >= $1)
           AND ($2::timestamptz IS NULL OR ended_at < $2)",
    )
    .bind(from)
    .bind(until)
    .fetch_one(pool)
    .await?;
    let (volunteers, role_holders): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM volunteers), (SELECT count(DISTINCT worker_id) FROM volunteer_roles)",
    )
    .fetch_one(pool)
    .await?;
    Ok(Stats {
        tips_by_grid,
        resolved_by_grid,
        solved_by_volunteers,
        volunteers,
        role_holders,
        volunteer_hours,
    })
}
