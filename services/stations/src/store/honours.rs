//! Honours: selections, and nominations with their reviews (the candidate's record is `deeds`').

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

use crate::domain::honours::CandidateRecord;

macro_rules! selection_columns {
    () => {
        "s.id, s.title, s.period, s.period_start, s.period_end, s.categories, s.places, s.award_points,
         s.opened_by, s.opened_at, s.closed_at, s.version, s.request_id,
         (SELECT count(*) FROM honour_nominations n WHERE n.selection_id = s.id)::int AS nominations,
         (SELECT count(*) FROM honour_nominations n WHERE n.selection_id = s.id AND n.status = 3)::int AS awards"
    };
}

macro_rules! nomination_columns {
    () => {
        "id, selection_id, category, worker_id, community_id, enterprise_id, reason, nominated_by,
         nominated_at, status, review_reason, reviewed_by, reviewed_at, record, points_awarded,
         version, request_id"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SelectionRow {
    pub id: Uuid,
    pub title: String,
    pub period: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub categories: Vec<i16>,
    pub places: i32,
    pub award_points: i64,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub request_id: String,
    pub nominations: i32,
    pub awards: i32,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NominationRow {
    pub id: Uuid,
    pub selection_id: Uuid,
    pub category: i16,
    pub worker_id: Uuid,
    pub community_id: Option<Uuid>,
    pub enterprise_id: Option<Uuid>,
    pub reason: String,
    pub nominated_by: String,
    pub nominated_at: DateTime<Utc>,
    pub status: i16,
    pub review_reason: String,
    pub reviewed_by: String,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub record: Option<Json<CandidateRecord>>,
    pub points_awarded: i64,
    pub version: i64,
    pub request_id: String,
}

pub struct NewSelection<'a> {
    pub id: Uuid,
    pub title: &'a str,
    pub period: &'a str,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub categories: &'a [i16],
    pub places: i32,
    pub award_points: i64,
    pub opened_by: &'a str,
    pub request_id: &'a str,
}

/// Inserts a selection; `None` when one of its period already has the title, or the caller's
/// request made one (a retry committed meanwhile).
pub async fn insert_selection(
    tx: &mut PgConnection,
    s: &NewSelection<'_>,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO honour_selections
             (id, title, period, period_start, period_end, categories, places, award_points, opened_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(s.id)
    .bind(s.title)
    .bind(s.period)
    .bind(s.period_start)
    .bind(s.period_end)
    .bind(s.categories)
    .bind(s.places)
    .bind(s.award_points)
    .bind(s.opened_by)
    .bind(s.request_id)
    .fetch_optional(tx)
    .await
}

pub async fn selection_by_request(
    tx: &mut PgConnection,
    by: &str,
    request_id: &str,
) -> Result<Option<SelectionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        selection_columns!(),
        " FROM honour_selections s WHERE s.opened_by = $1 AND s.request_id = $2"
    ))
    .bind(by)
    .bind(request_id)
    .fetch_optional(tx)
    .await
}

/// How a read takes a selection's row for the rest of the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLock {
    None,
    /// Nominations and reviews: many at once, but never beside a close.
    Share,
    /// Closing, and awards (which count the places taken).
    Update,
}

/// A selection, its row taken as `lock` says.
pub async fn selection(
    conn: &mut PgConnection,
    id: Uuid,
    lock: RowLock,
) -> Result<Option<SelectionRow>, sqlx::Error> {
    macro_rules! by_id {
        ($lock:literal) => {
            concat!(
                "SELECT ",
                selection_columns!(),
                " FROM honour_selections s WHERE s.id = $1",
                $lock
            )
        };
    }
    let sql = match lock {
        RowLock::None => by_id!(""),
        RowLock::Share => by_id!(" FOR SHARE OF s"),
        RowLock::Update => by_id!(" FOR UPDATE OF s"),
    };
    sqlx::query_as(sql).bind(id).fetch_optional(conn).await
}

pub async fn close_selection(tx: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE honour_selections SET closed_at = now(), version = version + 1
         WHERE id = $1 AND closed_at IS NULL",
    )
    .bind(id)
    .execute(tx)
    .await?;
    Ok(())
}

/// Selections, oldest first by id (ids are time-ordered, so a page token is the last id).
pub async fn selections(
    pool: &PgPool,
    open: Option<bool>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SelectionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        selection_columns!(),
        " FROM honour_selections s
         WHERE ($1::bool IS NULL OR (s.closed_at IS NULL) = $1) AND ($2::uuid IS NULL OR s.id > $2)
         ORDER BY s.id LIMIT $3"
    ))
    .bind(open)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub struct NewNomination<'a> {
    pub id: Uuid,
    pub selection_id: Uuid,
    pub category: i16,
    pub worker_id: Uuid,
    pub community_id: Option<Uuid>,
    pub enterprise_id: Option<Uuid>,
    pub reason: &'a str,
    pub nominated_by: &'a str,
    pub request_id: &'a str,
}

/// Inserts a nomination; `None` when the worker is already nominated in that category of the
/// selection (by anyone), or the caller's request made one (a retry committed meanwhile).
pub async fn insert_nomination(
    tx: &mut PgConnection,
    n: &NewNomination<'_>,
) -> Result<Option<NominationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO honour_nominations
             (id, selection_id, category, worker_id, community_id, enterprise_id, reason, nominated_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT DO NOTHING RETURNING ",
        nomination_columns!()
    ))
    .bind(n.id)
    .bind(n.selection_id)
    .bind(n.category)
    .bind(n.worker_id)
    .bind(n.community_id)
    .bind(n.enterprise_id)
    .bind(n.reason)
    .bind(n.nominated_by)
    .bind(n.request_id)
    .fetch_optional(tx)
    .await
}

pub async fn nomination_by_request(
    tx: &mut PgConnection,
    by: &str,
    request_id: &str,
) -> Result<Option<NominationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        nomination_columns!(),
        " FROM honour_nominations WHERE nominated_by = $1 AND request_id = $2"
    ))
    .bind(by)
    .bind(request_id)
    .fetch_optional(tx)
    .await
}

/// The nomination of a worker in one category of a selection.
pub async fn nomination_of(
    tx: &mut PgConnection,
    selection: Uuid,
    category: i16,
    worker: Uuid,
) -> Result<Option<NominationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        nomination_columns!(),
        " FROM honour_nominations WHERE selection_id = $1 AND category = $2 AND worker_id = $3"
    ))
    .bind(selection)
    .bind(category)
    .bind(worker)
    .fetch_optional(tx)
    .await
}

pub async fn nomination(
    conn: &mut PgConnection,
    id: Uuid,
    for_update: bool,
) -> Result<Option<NominationRow>, sqlx::Error> {
    macro_rules! by_id {
        ($lock:literal) => {
            concat!(
                "SELECT ",
                nomination_columns!(),
                " FROM honour_nominations WHERE id = $1",
                $lock
            )
        };
    }
    let sql = if for_update {
        by_id!(" FOR UPDATE")
    } else {
        by_id!("")
    };
    sqlx::query_as(sql).bind(id).fetch_optional(conn).await
}

/// What narrows a list of nominations.
pub struct NominationFilter<'a> {
    pub selection: Uuid,
    pub category: Option<i16>,
    pub status: Option<i16>,
    /// Only these communities' (`None`: all).
    pub communities: Option<&'a [Uuid]>,
    pub after: Option<Uuid>,
    pub limit: i64,
}

pub async fn nominations(
    pool: &PgPool,
    f: &NominationFilter<'_>,
) -> Result<Vec<NominationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        nomination_columns!(),
        " FROM honour_nominations
         WHERE selection_id = $1 AND ($2::smallint IS NULL OR category = $2)
           AND ($3::smallint IS NULL OR status = $3)
           AND ($4::uuid[] IS NULL OR community_id = ANY($4))
           AND ($5::uuid IS NULL OR id > $5)
         ORDER BY id LIMIT $6"
    ))
    .bind(f.selection)
    .bind(f.category)
    .bind(f.status)
    .bind(f.communities)
    .bind(f.after)
    .bind(f.limit)
    .fetch_all(pool)
    .await
}

/// Awards made in one category of a selection.
pub async fn awards_in(
    tx: &mut PgConnection,
    selection: Uuid,
    category: i16,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM honour_nominations WHERE selection_id = $1 AND category = $2 AND status = 3",
    )
    .bind(selection)
    .bind(category)
    .fetch_one(tx)
    .await
}

pub struct Review<'a> {
    pub id: Uuid,
    pub status: i16,
    pub reason: &'a str,
    pub by: &'a str,
    pub record: &'a CandidateRecord,
    pub points: i64,
}

pub async fn apply_review(
    tx: &mut PgConnection,
    r: &Review<'_>,
) -> Result<NominationRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE honour_nominations SET status = $2, review_reason = $3, reviewed_by = $4,
             reviewed_at = now(), record = $5, points_awarded = $6, version = version + 1
         WHERE id = $1 RETURNING ",
        nomination_columns!()
    ))
    .bind(r.id)
    .bind(r.status)
    .bind(r.reason)
    .bind(r.by)
    .bind(Json(r.record))
    .bind(r.points)
    .fetch_one(tx)
    .await
}

/// An honour on a worker's record, with its selection.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HonourRow {
    pub nomination_id: Uuid,
    pub selection_id: Uuid,
    pub title: String,
    pub period: String,
    pub category: i16,
    pub awarded_at: Option<DateTime<Utc>>,
    pub points_awarded: i64,
    pub review_reason: String,
}

pub async fn worker_honours(pool: &PgPool, worker: Uuid) -> Result<Vec<HonourRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT n.id AS nomination_id, n.selection_id, s.title, s.period, n.category,
                n.reviewed_at AS awarded_at, n.points_awarded, n.review_reason
         FROM honour_nominations n JOIN honour_selections s ON s.id = n.selection_id
         WHERE n.worker_id = $1 AND n.status = 3 ORDER BY n.reviewed_at, n.id",
    )
    .bind(worker)
    .fetch_all(pool)
    .await
}

/// A worker's community and enterprise as the registry last told stations; `None` unless the
/// worker is registered and not deleted.
pub async fn worker_affiliation(
    conn: &mut PgConnection,
    worker: Uuid,
) -> Result<Option<(Option<Uuid>, Option<Uuid>)>, sqlx::Error> {
    sqlx::query_as("SELECT community_id, enterprise_id FROM workers WHERE id = $1 AND NOT deleted")
        .bind(worker)
        .fetch_optional(conn)
        .await
}
