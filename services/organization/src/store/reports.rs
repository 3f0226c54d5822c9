//! Reports for the staff who run the registry: what happened within a period, the ledgers to
//! review (stale visits, the ledger's headcount beside the registry's workers), and the names of
//! what listed records refer to. Every figure is counted from the data, never stored.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A period in the county's calendar: dates inclusive, and the instants that bound it (from
/// inclusive, to exclusive) for what is stamped rather than dated.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub starts: DateTime<Utc>,
    pub ends: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct PeriodFigures {
    pub workers_registered: i64,
    pub workers_reported_in: i64,
    pub join_requests_approved: i64,
    pub memberships_begun: i64,
    pub memberships_ended: i64,
    pub census_visits: i64,
    pub enterprises_visited: i64,
    pub forums_held: i64,
    pub enterprise_issues_raised: i64,
    pub enterprise_issues_resolved: i64,
    pub care_visits: i64,
    pub hardship_files_opened: i64,
    pub hardship_files_closed: i64,
}

/// What happened within `p` over `communities` (None: the whole county); forums are the
/// county's and counted county-wide. Only records that stand count, and only of live workers.
pub async fn period_figures(
    pool: &PgPool,
    communities: Option<&[Uuid]>,
    p: &Period,
) -> Result<PeriodFigures, sqlx::Error> {
    sqlx::query_as(
        "WITH scoped_workers AS (
             SELECT id FROM workers
             WHERE deleted_at IS NULL AND ($1::uuid[] IS NULL OR community_id = ANY($1))
         ), scoped_enterprises AS (
             SELECT id FROM enterprises WHERE $1::uuid[] IS NULL OR community_id = ANY($1)
         ), visits AS (
             SELECT enterprise_id FROM census_visits
             WHERE withdrawn_at IS NULL AND visited_on BETWEEN $4 AND $5
               AND enterprise_id IN (SELECT id FROM scoped_enterprises)
         )
         SELECT
           (SELECT count(*) FROM workers WHERE registered_at >= $2 AND registered_at < $3
              AND id IN (SELECT id FROM scoped_workers)) AS workers_registered,
           (SELECT count(DISTINCT worker_id) FROM report_ins WHERE reported_at >= $2 AND reported_at < $3
              AND ($1::uuid[] IS NULL OR community_id = ANY($1))
              AND worker_id IN (SELECT id FROM workers WHERE deleted_at IS NULL)) AS workers_reported_in,
           (SELECT count(*) FROM join_requests WHERE status = 2 AND decided_at >= $2 AND decided_at < $3
              AND worker_id IN (SELECT id FROM scoped_workers)) AS join_requests_approved,
           (SELECT count(*) FROM membership_spells WHERE joined_at >= $2 AND joined_at < $3
              AND worker_id IN (SELECT id FROM scoped_workers)) AS memberships_begun,
           (SELECT count(*) FROM membership_spells WHERE left_at >= $2 AND left_at < $3
              AND worker_id IN (SELECT id FROM scoped_workers)) AS memberships_ended,
           (SELECT count(*) FROM visits) AS census_visits,
           (SELECT count(DISTINCT enterprise_id) FROM visits) AS enterprises_visited,
           (SELECT count(*) FROM forums WHERE withdrawn_at IS NULL AND held_on BETWEEN $4 AND $5) AS forums_held,
           (SELECT count(*) FROM enterprise_issues WHERE withdrawn_at IS NULL AND raised_on BETWEEN $4 AND $5
              AND ($1::uuid[] IS NULL OR enterprise_id IN (SELECT id FROM scoped_enterprises)))
              AS enterprise_issues_raised,
           (SELECT count(*) FROM enterprise_issues WHERE withdrawn_at IS NULL AND status = 2
              AND resolved_on BETWEEN $4 AND $5
              AND ($1::uuid[] IS NULL OR enterprise_id IN (SELECT id FROM scoped_enterprises)))
              AS enterprise_issues_resolved,
           (SELECT count(*) FROM care_visits WHERE withdrawn_at IS NULL AND visited_on BETWEEN $4 AND $5
              AND worker_id IN (SELECT id FROM scoped_workers)) AS care_visits,
           (SELECT count(*) FROM hardship_files WHERE withdrawn_at IS NULL AND opened_at >= $2 AND opened_at < $3
              AND worker_id IN (SELECT id FROM scoped_workers)) AS hardship_files_opened,
           (SELECT count(*) FROM hardship_files WHERE withdrawn_at IS NULL AND closed_at >= $2 AND closed_at < $3
              AND worker_id IN (SELECT id FROM scoped_workers)) AS hardship_files_closed",
    )
    .bind(communities)
    .bind(p.starts)
    .bind(p.ends)
    .bind(p.from)
    .bind(p.to)
    .fetch_one(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LedgerReviewRow {
    pub id: Uuid,
    pub name: String,
    pub community_id: Option<Uuid>,
    pub community_name: Option<String>,
    pub last_visited_on: Option<NaiveDate>,
    pub headcount: Option<i32>,
    pub registered_workers: i64,
}

/// Which ledgers to review: live enterprises over `communities` (None: the county), and only
/// those last visited on or before `visited_by` (never visited included) when given.
#[derive(Debug, Clone, Copy)]
pub struct LedgerSelection<'a> {
    pub communities: Option<&'a [Uuid]>,
    pub visited_by: Option<NaiveDate>,
}

macro_rules! selected_enterprises {
    () => {
        " FROM enterprises e
          WHERE e.deleted_at IS NULL AND ($1::uuid[] IS NULL OR e.community_id = ANY($1))
            AND ($2::date IS NULL OR e.last_visited_on IS NULL OR e.last_visited_on <= $2)"
    };
}

/// A page of the selected ledgers in id order after `after`, and how many are selected.
pub async fn ledger_reviews(
    pool: &PgPool,
    s: LedgerSelection<'_>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<(Vec<LedgerReviewRow>, i64), sqlx::Error> {
    let rows = sqlx::query_as(concat!(
        "SELECT e.id, e.name, e.community_id,
            (SELECT c.name FROM communities c WHERE c.id = e.community_id) AS community_name,
            e.last_visited_on, e.headcount,
            (SELECT count(*) FROM workers w WHERE w.enterprise_id = e.id AND w.deleted_at IS NULL)
              AS registered_workers",
        selected_enterprises!(),
        " AND ($3::uuid IS NULL OR e.id > $3) ORDER BY e.id LIMIT $4"
    ))
    .bind(s.communities)
    .bind(s.visited_by)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let total = sqlx::query_scalar(concat!("SELECT count(*)", selected_enterprises!()))
        .bind(s.communities)
        .bind(s.visited_by)
        .fetch_one(pool)
        .await?;
    Ok((rows, total))
}

/// Whose names a caller may read beside a list: organizations, communities, townships and grids
/// are the county's open structure; workers and enterprises only within `communities` (None:
/// the county) and only for staff, and a worker their own name.
#[derive(Debug, Clone, Copy)]
pub struct NameScope<'a> {
    pub staff: bool,
    pub communities: Option<&'a [Uuid]>,
    pub caller: Option<Uuid>,
}

/// The names of the workers, enterprises, organizations, communities, townships and grids
/// among `ids` that `scope` may read (deleted ones included; others are left out).
pub async fn names(
    pool: &PgPool,
    ids: &[Uuid],
    scope: NameScope<'_>,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "SELECT id, name FROM workers WHERE id = ANY($1)
            AND (id = $4 OR ($2 AND ($3::uuid[] IS NULL OR community_id = ANY($3))))
         UNION ALL SELECT id, name FROM enterprises WHERE id = ANY($1)
            AND $2 AND ($3::uuid[] IS NULL OR community_id = ANY($3))
         UNION ALL SELECT id, name FROM organizations WHERE id = ANY($1)
         UNION ALL SELECT id, name FROM communities WHERE id = ANY($1)
         UNION ALL SELECT id, name FROM townships WHERE id = ANY($1)
         UNION ALL SELECT id, name FROM grids WHERE id = ANY($1)",
    )
    .bind(ids)
    .bind(scope.staff)
    .bind(scope.communities)
    .bind(scope.caller)
    .fetch_all(pool)
    .await
}

/// The communities of a township.
pub async fn township_communities(pool: &PgPool, township: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM communities WHERE township_id = $1 ORDER BY id")
        .bind(township)
        .fetch_all(pool)
        .await
}
