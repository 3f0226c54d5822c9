//! Quarterly forums with enterprises (联席会议, 恳谈会) and the enterprise issues raised there,
//! with their resolution.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub const OPEN: i16 = 1;
pub const RESOLVED: i16 = 2;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ForumRow {
    pub id: Uuid,
    pub title: String,
    pub held_on: NaiveDate,
    pub enterprise_ids: Vec<Uuid>,
    pub version: i64,
    pub issues_raised: i64,
    pub issues_resolved: i64,
    /// Set once the forum is withdrawn: it no longer counts and takes no issues.
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_reason: String,
}

macro_rules! select_forums {
    () => {
        "SELECT id, title, held_on, enterprise_ids, version,
            (SELECT count(*) FROM enterprise_issues i
              WHERE i.forum_id = forums.id AND i.withdrawn_at IS NULL) AS issues_raised,
            (SELECT count(*) FROM enterprise_issues i
              WHERE i.forum_id = forums.id AND i.status = 2 AND i.withdrawn_at IS NULL) AS issues_resolved,
            withdrawn_at, withdrawn_reason
         FROM forums"
    };
}

pub async fn forum(tx: &mut PgConnection, id: Uuid) -> Result<ForumRow, sqlx::Error> {
    sqlx::query_as(concat!(select_forums!(), " WHERE id = $1"))
        .bind(id)
        .fetch_one(tx)
        .await
}

pub async fn insert_forum(
    tx: &mut PgConnection,
    id: Uuid,
    title: &str,
    held_on: NaiveDate,
    enterprise_ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO forums (id, title, held_on, enterprise_ids) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(title)
        .bind(held_on)
        .bind(enterprise_ids)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The day a forum that stands was held, the forum held against a concurrent correction or
/// withdrawal until the transaction ends; `None`: no such forum, `Some(None)`: withdrawn.
pub async fn standing_held_on(
    tx: &mut PgConnection,
    forum: Uuid,
) -> Result<Option<Option<NaiveDate>>, sqlx::Error> {
    let row: Option<(NaiveDate, bool)> = sqlx::query_as(
        "SELECT held_on, withdrawn_at IS NOT NULL FROM forums WHERE id = $1 FOR SHARE",
    )
    .bind(forum)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|(on, withdrawn)| (!withdrawn).then_some(on)))
}

/// Of the forum's issues that stand: how many, and the earliest day one was raised.
pub async fn standing_issues(
    tx: &mut PgConnection,
    forum: Uuid,
) -> Result<(i64, Option<NaiveDate>), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), min(raised_on) FROM enterprise_issues
         WHERE forum_id = $1 AND withdrawn_at IS NULL",
    )
    .bind(forum)
    .fetch_one(&mut *tx)
    .await
}

/// Writes the corrected forum with a new version.
pub async fn correct_forum(
    tx: &mut PgConnection,
    id: Uuid,
    title: &str,
    held_on: NaiveDate,
    enterprise_ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE forums SET title = $2, held_on = $3, enterprise_ids = $4, version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(title)
    .bind(held_on)
    .bind(enterprise_ids)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks the forum withdrawn, with a new version.
pub async fn withdraw_forum(
    tx: &mut PgConnection,
    id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE forums SET withdrawn_at = now(), withdrawn_reason = $2, version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn list_forums(
    pool: &PgPool,
    between: Option<(NaiveDate, NaiveDate)>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ForumRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_forums!(),
        " WHERE ($1::date IS NULL OR (held_on BETWEEN $1 AND $2 AND withdrawn_at IS NULL))
            AND ($3::uuid IS NULL OR id > $3)
          ORDER BY id LIMIT $4"
    ))
    .bind(between.map(|b| b.0))
    .bind(between.map(|b| b.1))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IssueRow {
    pub id: Uuid,
    pub forum_id: Uuid,
    pub enterprise_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    pub raised_on: NaiveDate,
    pub status: i16,
    pub resolution: String,
    pub resolved_on: Option<NaiveDate>,
    pub version: i64,
    /// Set once the issue is withdrawn: it no longer counts as raised or resolved.
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_reason: String,
}

pub struct NewIssue<'a> {
    pub forum_id: Uuid,
    pub enterprise_id: Option<Uuid>,
    pub title: &'a str,
    pub description: &'a str,
    /// None: the forum's date.
    pub raised_on: Option<NaiveDate>,
}

macro_rules! select_issues {
    () => {
        "SELECT id, forum_id, enterprise_id, title, description, raised_on, status, resolution, resolved_on, version,
            withdrawn_at, withdrawn_reason
         FROM enterprise_issues"
    };
}

pub async fn issue(tx: &mut PgConnection, id: Uuid) -> Result<IssueRow, sqlx::Error> {
    sqlx::query_as(concat!(select_issues!(), " WHERE id = $1"))
        .bind(id)
        .fetch_one(tx)
        .await
}

/// Inserts the issue, raised on `raised_on` (the request's date, or the forum's).
pub async fn insert_issue(
    tx: &mut PgConnection,
    id: Uuid,
    n: &NewIssue<'_>,
    raised_on: NaiveDate,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO enterprise_issues (id, forum_id, enterprise_id, title, description, raised_on)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(n.forum_id)
    .bind(n.enterprise_id)
    .bind(n.title)
    .bind(n.description)
    .bind(raised_on)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks the issue resolved, with a new version.
pub async fn resolve_issue(
    tx: &mut PgConnection,
    id: Uuid,
    resolution: &str,
    resolved_on: NaiveDate,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE enterprise_issues SET status = 2, resolution = $2, resolved_on = $3, version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(resolution)
    .bind(resolved_on)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Writes the corrected issue (the same id, forum and status) with a new version.
pub async fn correct_issue(tx: &mut PgConnection, i: &IssueRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE enterprise_issues SET enterprise_id = $2, title = $3, description = $4, raised_on = $5,
            resolution = $6, resolved_on = $7, version = version + 1
         WHERE id = $1",
    )
    .bind(i.id)
    .bind(i.enterprise_id)
    .bind(&i.title)
    .bind(&i.description)
    .bind(i.raised_on)
    .bind(&i.resolution)
    .bind(i.resolved_on)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks the issue withdrawn, with a new version.
pub async fn withdraw_issue(
    tx: &mut PgConnection,
    id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE enterprise_issues SET withdrawn_at = now(), withdrawn_reason = $2, version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The enterprise an issue was raised for: `None` when there is no such issue.
pub async fn enterprise_of_issue(
    pool: &PgPool,
    issue: Uuid,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar("SELECT enterprise_id FROM enterprise_issues WHERE id = $1")
        .bind(issue)
        .fetch_optional(pool)
        .await
}

pub async fn list_issues(
    pool: &PgPool,
    forum_id: Option<Uuid>,
    enterprise_id: Option<Uuid>,
    status: Option<i16>,
    in_communities: Option<&[Uuid]>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<IssueRow>, sqlx::Error> {
    // Out of scope: issues of enterprises in other communities, and those of no enterprise. A
    // status asked for is of the issues that stand; unfiltered lists show the withdrawn too.
    sqlx::query_as(concat!(
        select_issues!(),
        " WHERE ($1::uuid IS NULL OR forum_id = $1) AND ($2::uuid IS NULL OR enterprise_id = $2)
            AND ($3::smallint IS NULL OR (status = $3 AND withdrawn_at IS NULL))
            AND ($4::uuid IS NULL OR id > $4)
            AND ($6::uuid[] IS NULL OR enterprise_id IN (
                 SELECT id FROM enterprises WHERE community_id = ANY($6)))
          ORDER BY id LIMIT $5"
    ))
    .bind(forum_id)
    .bind(enterprise_id)
    .bind(status)
    .bind(after)
    .bind(limit)
    .bind(in_communities)
    .fetch_all(pool)
    .await
}
