//! Governance SQL: tips, cases and the grid read model; the case feed in [`feed`].

mod feed;

pub use feed::*;

use chrono::{DateTime, Utc};
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{self as pb},
};
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

use kit::time::to_timestamp;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TipRow {
    pub id: Uuid,
    pub request_id: String,
    pub reporter_id: Uuid,
    pub submitted_by: String,
    pub category: i16,
    pub description: String,
    pub latitude: f64,
    pub longitude: f64,
    pub photo_urls: Vec<String>,
    pub observed_at: DateTime<Utc>,
    pub submitted_at: DateTime<Utc>,
    pub status: i16,
    pub case_id: Option<Uuid>,
    pub rejection_reason: String,
    pub confirmed_fixed: Option<bool>,
}

impl TipRow {
    pub fn to_pb(&self) -> pb::Tip {
        pb::Tip {
            id: self.id.to_string(),
            reporter_id: self.reporter_id.to_string(),
            category: i32::from(self.category),
            description: self.description.clone(),
            location: Some(LatLng {
                latitude: self.latitude,
                longitude: self.longitude,
            }),
            photo_urls: self.photo_urls.clone(),
            observed_at: Some(to_timestamp(self.observed_at)),
            status: i32::from(self.status),
            case_id: self.case_id.map(|c| c.to_string()).unwrap_or_default(),
            submitted_at: Some(to_timestamp(self.submitted_at)),
            request_id: self.request_id.clone(),
            // Filled where the case is at hand (GetTip, ListTips).
            case_status: 0,
            case_note: String::new(),
            case_number: String::new(),
            rejection_reason: self.rejection_reason.clone(),
            case_resolution: 0,
            confirmed_fixed: self.confirmed_fixed,
        }
    }

    /// Adds what the reporter is told of the tip's case.
    pub fn with_case(mut tip: pb::Tip, case: &CaseFeedback) -> pb::Tip {
        tip.case_status = i32::from(case.status);
        tip.case_note = case.public_reply.clone();
        tip.case_number = case.number.clone().unwrap_or_default();
        tip.case_resolution = i32::from(case.resolution);
        tip
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseRow {
    pub id: Uuid,
    pub grid_id: Option<Uuid>,
    pub department: String,
    pub status: i16,
    pub category: i16,
    pub latitude: f64,
    pub longitude: f64,
    pub due_at: DateTime<Utc>,
    pub note: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub number: Option<String>,
    pub external_ref: String,
    pub escalated_at: Option<DateTime<Utc>>,
    pub reporter_count: i64,
    pub public_reply: String,
    pub resolution: i16,
    pub closed_at: Option<DateTime<Utc>>,
}

/// What a reporter is told of their tip's case.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseFeedback {
    pub id: Uuid,
    pub status: i16,
    pub public_reply: String,
    pub number: Option<String>,
    pub resolution: i16,
}

impl From<&CaseRow> for CaseFeedback {
    fn from(c: &CaseRow) -> Self {
        Self {
            id: c.id,
            status: c.status,
            public_reply: c.public_reply.clone(),
            number: c.number.clone(),
            resolution: c.resolution,
        }
    }
}

impl CaseRow {
    pub fn to_pb(&self, tip_ids: &[Uuid]) -> pb::Case {
        pb::Case {
            id: self.id.to_string(),
            tip_ids: tip_ids.iter().map(Uuid::to_string).collect(),
            grid_id: self.grid_id.map(|g| g.to_string()).unwrap_or_default(),
            department: self.department.clone(),
            status: i32::from(self.status),
            due_at: Some(to_timestamp(self.due_at)),
            category: i32::from(self.category),
            location: Some(LatLng {
                latitude: self.latitude,
                longitude: self.longitude,
            }),
            created_at: Some(to_timestamp(self.created_at)),
            updated_at: Some(to_timestamp(self.updated_at)),
            version: self.version,
            note: self.note.clone(),
            number: self.number.clone().unwrap_or_default(),
            external_ref: self.external_ref.clone(),
            escalated_at: self.escalated_at.map(to_timestamp),
            reporter_count: self.reporter_count as i32,
            public_reply: self.public_reply.clone(),
            resolution: i32::from(self.resolution),
            closed_at: self.closed_at.map(to_timestamp),
        }
    }
}

macro_rules! tip_columns {
    () => {
        "id, request_id, reporter_id, submitted_by, category, description, latitude, longitude, photo_urls, observed_at, submitted_at, status, case_id,
         rejection_reason, confirmed_fixed"
    };
}
macro_rules! case_columns {
    () => {
        "id, grid_id, department, status, category, latitude, longitude, due_at, note, version, created_at, updated_at,
         number, external_ref, escalated_at, public_reply, resolution, closed_at,
         (SELECT count(DISTINCT t.reporter_id) FROM tips t WHERE t.case_id = cases.id AND t.status <> 4) AS reporter_count"
    };
}

pub struct NewTip {
    pub request_id: String,
    pub reporter_id: Uuid,
    pub submitted_by: String,
    pub category: i16,
    pub description: String,
    pub latitude: f64,
    pub longitude: f64,
    pub photo_urls: Vec<String>,
    pub observed_at: DateTime<Utc>,
}

impl NewTip {
    /// The row this tip becomes when stored at `at` (a new id, received, in no case yet). `at`
    /// should have the database's microsecond precision, as an event announcing the row carries it.
    pub fn to_row(&self, at: DateTime<Utc>) -> TipRow {
        TipRow {
            id: Uuid::now_v7(),
            request_id: self.request_id.clone(),
            reporter_id: self.reporter_id,
            submitted_by: self.submitted_by.clone(),
            category: self.category,
            description: self.description.clone(),
            latitude: self.latitude,
            longitude: self.longitude,
            photo_urls: self.photo_urls.clone(),
            observed_at: self.observed_at,
            submitted_at: at,
            status: pb::TipStatus::Received as i16,
            case_id: None,
            rejection_reason: String::new(),
            confirmed_fixed: None,
        }
    }
}

/// Inserts the tip unless the reporter already sent `request_id`; returns the tip and whether it
/// is new.
pub async fn insert_tip(tx: &mut PgConnection, t: &NewTip) -> Result<(TipRow, bool), sqlx::Error> {
    let inserted: Option<TipRow> = sqlx::query_as(concat!(
        "INSERT INTO tips (id, request_id, reporter_id, submitted_by, category, description, latitude, longitude, photo_urls, observed_at, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (reporter_id, request_id) DO NOTHING
         RETURNING ",
        tip_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(&t.request_id)
    .bind(t.reporter_id)
    .bind(&t.submitted_by)
    .bind(t.category)
    .bind(&t.description)
    .bind(t.latitude)
    .bind(t.longitude)
    .bind(&t.photo_urls)
    .bind(t.observed_at)
    .bind(pb::TipStatus::Received as i16)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = inserted {
        return Ok((row, true));
    }
    let existing = sqlx::query_as(concat!(
        "SELECT ",
        tip_columns!(),
        " FROM tips WHERE reporter_id = $1 AND request_id = $2"
    ))
    .bind(t.reporter_id)
    .bind(&t.request_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok((existing, false))
}

pub async fn tip(pool: &PgPool, id: Uuid) -> Result<Option<TipRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        tip_columns!(),
        " FROM tips WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The tip, locked until the transaction ends.
pub async fn lock_tip(tx: &mut PgConnection, id: Uuid) -> Result<Option<TipRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        tip_columns!(),
        " FROM tips WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(tx)
    .await
}

pub async fn insert_case(tx: &mut PgConnection, c: &CaseRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cases (id, grid_id, department, status, category, latitude, longitude, due_at, note, version, created_at, updated_at, number)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(c.id)
    .bind(c.grid_id)
    .bind(&c.department)
    .bind(c.status)
    .bind(c.category)
    .bind(c.latitude)
    .bind(c.longitude)
    .bind(c.due_at)
    .bind(&c.note)
    .bind(c.version)
    .bind(c.created_at)
    .bind(c.updated_at)
    .bind(&c.number)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn link_tip(
    tx: &mut PgConnection,
    tip_id: Uuid,
    case_id: Uuid,
    status: pb::TipStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tips SET case_id = $2, status = $3 WHERE id = $1")
        .bind(tip_id)
        .bind(case_id)
        .bind(status as i16)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn case(conn: &mut PgConnection, id: Uuid) -> Result<Option<CaseRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        case_columns!(),
        " FROM cases WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn lock_case(tx: &mut PgConnection, id: Uuid) -> Result<Option<CaseRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        case_columns!(),
        " FROM cases WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// The workers whose (not rejected) tips make up the case.
pub async fn case_reporters(
    conn: &mut PgConnection,
    case_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT reporter_id FROM tips WHERE case_id = $1 AND status <> $2 ORDER BY reporter_id",
    )
    .bind(case_id)
    .bind(pb::TipStatus::Rejected as i16)
    .fetch_all(conn)
    .await
}

pub async fn case_tip_ids(
    conn: &mut PgConnection,
    case_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM tips WHERE case_id = $1 ORDER BY id")
        .bind(case_id)
        .fetch_all(conn)
        .await
}

/// What `ListCases` filters on; `None` and `false` filter nothing.
#[derive(Debug, Default)]
pub struct CaseQuery {
    pub grid_id: Option<Uuid>,
    pub county_queue: bool,
    pub status: Option<i16>,
    pub department: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub escalated: bool,
    pub number: Option<String>,
    pub external_ref: Option<String>,
}

/// Cases in id order (creation order), after `after`, that match `q`, with their tips.
pub async fn list_cases(
    pool: &PgPool,
    q: &CaseQuery,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(CaseRow, Vec<Uuid>)>, sqlx::Error> {
    let rows: Vec<CaseRow> = sqlx::query_as(concat!(
        "SELECT ",
        case_columns!(),
        " FROM cases
         WHERE ($1::uuid IS NULL OR grid_id = $1) AND ($2::smallint IS NULL OR status = $2)
           AND ($3::uuid IS NULL OR id > $3)
           AND (NOT $5 OR grid_id IS NULL)
           AND ($6::text IS NULL OR department = $6)
           AND ($7::timestamptz IS NULL OR updated_at >= $7)
           AND ($8::timestamptz IS NULL OR updated_at < $8)
           AND (NOT $9 OR (status IN (1, 2, 3) AND due_at < now()))
           AND (NOT $10 OR escalated_at IS NOT NULL)
           AND ($11::text IS NULL OR number = $11)
           AND ($12::text IS NULL OR (external_ref = $12 AND external_ref <> ''))
         ORDER BY id LIMIT $4"
    ))
    .bind(q.grid_id)
    .bind(q.status)
    .bind(after)
    .bind(limit)
    .bind(q.county_queue)
    .bind(q.department.as_deref())
    .bind(q.updated_since)
    .bind(q.updated_before)
    .bind(q.overdue)
    .bind(q.escalated)
    .bind(q.number.as_deref())
    .bind(q.external_ref.as_deref())
    .fetch_all(pool)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
    let links: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT case_id, id FROM tips WHERE case_id = ANY($1) ORDER BY id")
            .bind(&ids)
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|c| {
            let tips = links
                .iter()
                .filter(|(case, _)| *case == c.id)
                .map(|(_, tip)| *tip)
                .collect();
            (c, tips)
        })
        .collect())
}

/// A change of a case's status and notes. `None` keeps what the case has.
pub struct CaseUpdate<'a> {
    pub status: i16,
    pub resolution: i16,
    pub note: Option<&'a str>,
    pub public_reply: Option<&'a str>,
    pub external_ref: Option<&'a str>,
    /// A new deadline (a reopened case), which also clears the escalation.
    pub due_at: Option<DateTime<Utc>>,
}

/// Applies `u` and bumps the version; resolved and closed times follow the status.
pub async fn update_case(
    tx: &mut PgConnection,
    id: Uuid,
    u: &CaseUpdate<'_>,
) -> Result<CaseRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE cases SET status = $2, resolution = $3,
             note = coalesce($4, note), public_reply = coalesce($5, public_reply),
             external_ref = coalesce($6, external_ref),
             due_at = coalesce($7, due_at),
             escalated_at = CASE WHEN $7::timestamptz IS NULL THEN escalated_at END,
             resolved_at = CASE WHEN $3 = 2 THEN NULL
                                WHEN $2 = 4 AND status <> 4 THEN now() WHEN $2 < 4 THEN NULL ELSE resolved_at END,
             closed_at = CASE WHEN $2 = 5 AND status <> 5 THEN now() WHEN $2 = 5 THEN closed_at END,
             version = version + 1, updated_at = now()
         WHERE id = $1 RETURNING ",
        case_columns!()
    ))
    .bind(id)
    .bind(u.status)
    .bind(u.resolution)
    .bind(u.note)
    .bind(u.public_reply)
    .bind(u.external_ref)
    .bind(u.due_at)
    .fetch_one(tx)
    .await
}

/// Bumps a case's version (its tips changed: one was rejected).
pub async fn touch_case(tx: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE cases SET version = version + 1, updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Rejects the tip with `reason`.
pub async fn reject_tip(
    tx: &mut PgConnection,
    id: Uuid,
    reason: &str,
) -> Result<TipRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE tips SET status = $2, rejection_reason = $3 WHERE id = $1 RETURNING ",
        tip_columns!()
    ))
    .bind(id)
    .bind(pb::TipStatus::Rejected as i16)
    .bind(reason)
    .fetch_one(tx)
    .await
}

/// Records the reporter's answer to "is it fixed?".
pub async fn confirm_tip(
    tx: &mut PgConnection,
    id: Uuid,
    fixed: bool,
) -> Result<TipRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE tips SET confirmed_fixed = $2, confirmed_at = now() WHERE id = $1 RETURNING ",
        tip_columns!()
    ))
    .bind(id)
    .bind(fixed)
    .fetch_one(tx)
    .await
}

/// The next case number of the county's year (a counter row: gap-free, one writer at a time).
pub async fn next_case_number(
    tx: &mut PgConnection,
    county: &str,
    year: i32,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO case_counters (county, year, last) VALUES ($1, $2, 1)
         ON CONFLICT (county, year) DO UPDATE SET last = case_counters.last + 1 RETURNING last",
    )
    .bind(county)
    .bind(year)
    .fetch_one(tx)
    .await
}

/// Open cases of a category inside a box, created since `since` (candidates for a merge).
pub async fn open_cases_near(
    tx: &mut PgConnection,
    category: i16,
    (lat_min, lat_max): (f64, f64),
    (lng_min, lng_max): (f64, f64),
    since: DateTime<Utc>,
) -> Result<Vec<CaseRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        case_columns!(),
        " FROM cases WHERE category = $1 AND status IN (1, 2, 3)
           AND latitude BETWEEN $2 AND $3 AND longitude BETWEEN $4 AND $5 AND created_at >= $6"
    ))
    .bind(category)
    .bind(lat_min)
    .bind(lat_max)
    .bind(lng_min)
    .bind(lng_max)
    .bind(since)
    .fetch_all(tx)
    .await
}

/// Bumps a case's version (a tip joined it) if it is still open; `None` when it no longer is.
pub async fn touch_open_case(
    tx: &mut PgConnection,
    id: Uuid,
) -> Result<Option<CaseRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE cases SET version = version + 1, updated_at = now() WHERE id = $1 AND status IN (1, 2, 3) RETURNING ",
        case_columns!()
    ))
    .bind(id)
    .fetch_optional(tx)
    .await
}

pub struct Route<'a> {
    pub grid_id: Option<Uuid>,
    pub department: &'a str,
    pub category: i16,
    pub due_at: DateTime<Utc>,
    pub status: i16,
}

pub async fn reroute_case(
    tx: &mut PgConnection,
    id: Uuid,
    r: &Route<'_>,
) -> Result<CaseRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE cases SET grid_id = $2, department = $3, category = $4, due_at = $5, status = $6,
             escalated_at = CASE WHEN $5 > now() THEN NULL ELSE escalated_at END,
             resolved_at = NULL,
             version = version + 1, updated_at = now()
         WHERE id = $1 RETURNING ",
        case_columns!()
    ))
    .bind(id)
    .bind(r.grid_id)
    .bind(r.department)
    .bind(r.category)
    .bind(r.due_at)
    .bind(r.status)
    .fetch_one(tx)
    .await
}

/// Open cases past due and not yet escalated, locked (other sweepers skip them).
pub async fn lock_overdue(tx: &mut PgConnection, limit: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM cases WHERE escalated_at IS NULL AND status IN (1, 2, 3) AND due_at < now()
         ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// Open (or resolved) cases none of whose tips is left unrejected, locked (other sweepers skip
/// them): cases rejected before voiding existed, or left so by a crash of an older version.
pub async fn lock_abandoned(tx: &mut PgConnection, limit: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT c.id FROM cases c WHERE c.status IN (1, 2, 3, 4)
           AND NOT EXISTS (SELECT 1 FROM tips t WHERE t.case_id = c.id AND t.status <> 4)
         ORDER BY c.id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(tx)
    .await
}

pub async fn escalate(tx: &mut PgConnection, id: Uuid) -> Result<CaseRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE cases SET escalated_at = now(), version = version + 1, updated_at = now()
         WHERE id = $1 RETURNING ",
        case_columns!()
    ))
    .bind(id)
    .fetch_one(tx)
    .await
}

pub struct Transition<'a> {
    pub case_id: Uuid,
    pub from_status: Option<i16>,
    pub to_status: i16,
    pub from_grid: Option<Uuid>,
    pub to_grid: Option<Uuid>,
    pub from_department: Option<&'a str>,
    pub to_department: &'a str,
    pub actor: &'a str,
    pub reason: &'a str,
    pub public_reply: &'a str,
    /// The case's version after the change.
    pub version: i64,
}

pub async fn record_transition(
    tx: &mut PgConnection,
    t: &Transition<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO case_transitions (case_id, from_status, to_status, from_grid_id, to_grid_id,
             from_department, to_department, actor, reason, public_reply, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(t.case_id)
    .bind(t.from_status)
    .bind(t.to_status)
    .bind(t.from_grid)
    .bind(t.to_grid)
    .bind(t.from_department)
    .bind(t.to_department)
    .bind(t.actor)
    .bind(t.reason)
    .bind(t.public_reply)
    .bind(t.version)
    .execute(tx)
    .await?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub struct TransitionRow {
    pub from_status: Option<i16>,
    pub to_status: i16,
    pub from_grid_id: Option<Uuid>,
    pub to_grid_id: Option<Uuid>,
    pub from_department: Option<String>,
    pub to_department: String,
    pub actor: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    pub public_reply: String,
    pub version: i64,
}

pub async fn transitions(pool: &PgPool, case_id: Uuid) -> Result<Vec<TransitionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT from_status, to_status, from_grid_id, to_grid_id, from_department, to_department, actor, reason, at,
                public_reply, coalesce(version, 0) AS version
         FROM case_transitions WHERE case_id = $1 ORDER BY id",
    )
    .bind(case_id)
    .fetch_all(pool)
    .await
}

pub async fn grid_known(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM grids WHERE id = $1 AND jsonb_array_length(boundary) >= 3)",
    )
    .bind(id)
    .fetch_one(conn)
    .await
}

/// The grid's boundary from the read model.
pub async fn grid_boundary(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Vec<(f64, f64)>>, sqlx::Error> {
    let b: Option<Json<Vec<(f64, f64)>>> =
        sqlx::query_scalar("SELECT boundary FROM grids WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(b.map(|b| b.0))
}

/// A reporter's tips, newest first, with their case's status, note and number.
pub async fn tips_of(
    pool: &PgPool,
    reporter: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(TipRow, Option<CaseFeedback>)>, sqlx::Error> {
    let tips: Vec<TipRow> = sqlx::query_as(concat!(
        "SELECT ",
        tip_columns!(),
        " FROM tips WHERE reporter_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(reporter)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let case_ids: Vec<Uuid> = tips.iter().filter_map(|t| t.case_id).collect();
    let cases: Vec<CaseFeedback> = sqlx::query_as(
        "SELECT id, status, public_reply, number, resolution FROM cases WHERE id = ANY($1)",
    )
    .bind(&case_ids)
    .fetch_all(pool)
    .await?;
    Ok(tips
        .into_iter()
        .map(|t| {
            let c = t
                .case_id
                .and_then(|id| cases.iter().find(|c| c.id == id).cloned());
            (t, c)
        })
        .collect())
}

/// Open county-queue cases (no grid), for routing once a grid appears.
pub async fn county_queue(tx: &mut PgConnection) -> Result<Vec<CaseRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        case_columns!(),
        " FROM cases WHERE grid_id IS NULL AND status IN (1, 2, 3) FOR UPDATE"
    ))
    .fetch_all(tx)
    .await
}

/// Applies a grid from organization's event if it is newer than what we hold.
pub async fn apply_grid(
    tx: &mut PgConnection,
    id: Uuid,
    name: &str,
    community_id: Option<Uuid>,
    boundary: &[(f64, f64)],
    version: i64,
) -> Result<bool, sqlx::Error> {
    let applied = sqlx::query(
        "INSERT INTO grids (id, name, community_id, boundary, version) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE
           SET name = EXCLUDED.name, community_id = EXCLUDED.community_id, boundary = EXCLUDED.boundary,
               version = EXCLUDED.version, applied_seq = nextval('grid_applied_seq')
         WHERE grids.version < EXCLUDED.version",
    )
    .bind(id)
    .bind(name)
    .bind(community_id)
    .bind(Json(boundary))
    .bind(version)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if applied {
        sqlx::query("SELECT pg_notify('governance_grids', $1)")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
    }
    Ok(applied)
}

#[derive(sqlx::FromRow)]
struct GridRow {
    id: Uuid,
    boundary: Json<Vec<(f64, f64)>>,
    applied_seq: i64,
}

/// Marks a deleted grid in the read model (a tombstone: no boundary, the deletion's version, so
/// that an older event arriving late cannot bring it back) and wakes every replica's index. Its
/// cases keep their grid id.
pub async fn remove_grid(
    tx: &mut PgConnection,
    id: Uuid,
    version: i64,
) -> Result<bool, sqlx::Error> {
    let removed = sqlx::query(
        "INSERT INTO grids (id, name, community_id, boundary, version) VALUES ($1, '', NULL, '[]'::jsonb, $2)
         ON CONFLICT (id) DO UPDATE
           SET boundary = '[]'::jsonb, version = EXCLUDED.version, applied_seq = nextval('grid_applied_seq')
         WHERE grids.version < EXCLUDED.version",
    )
    .bind(id)
    .bind(version)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if removed {
        sqlx::query("SELECT pg_notify('governance_grids', $1)")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
    }
    Ok(removed)
}

/// Every grid with the latest change applied, and the newest change's sequence.
pub async fn grids(pool: &PgPool) -> Result<(Vec<(Uuid, Vec<(f64, f64)>)>, i64), sqlx::Error> {
    let rows: Vec<GridRow> = sqlx::query_as("SELECT id, boundary, applied_seq FROM grids")
        .fetch_all(pool)
        .await?;
    let generation = rows.iter().map(|r| r.applied_seq).max().unwrap_or(0);
    Ok((
        rows.into_iter().map(|g| (g.id, g.boundary.0)).collect(),
        generation,
    ))
}

pub async fn grid_generation(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(max(applied_seq), 0) FROM grids")
        .fetch_one(conn)
        .await
}

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
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Stats, sqlx::Error> {
    let tips_by_grid = sqlx::query_as(
        "SELECT c.grid_id, count(*) FROM tips t LEFT JOIN cases c ON c.id = t.case_id
         WHERE t.status <> 4 AND ($1::timestamptz IS NULL OR t.submitted_at >= $1)
           AND ($2::timestamptz IS NULL OR t.submitted_at < $2)
         GROUP BY c.grid_id",
    )
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await?;
    let resolved_by_grid = sqlx::query_as(
        "SELECT grid_id, count(*) FROM cases
         WHERE resolved_at IS NOT NULL AND ($1::timestamptz IS NULL OR resolved_at >= $1)
           AND ($2::timestamptz IS NULL OR resolved_at < $2)
         GROUP BY grid_id",
    )
    .bind(from)
    .bind(until)
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

/// Dispatch holds this lock shared while it locates a tip's grid; applying a grid holds it
/// exclusively. So a grid and a tip it holds never pass each other: either dispatch sees the grid,
/// or the grid's consumer sees the tip's county-queue case.
pub const GRID_ROUTING_LOCK: i64 = 0x5245_4453_5550_0002;

pub async fn lock_grid_routing(tx: &mut PgConnection, exclusive: bool) -> Result<(), sqlx::Error> {
    let sql = if exclusive {
        "SELECT pg_advisory_xact_lock($1)"
    } else {
        "SELECT pg_advisory_xact_lock_shared($1)"
    };
    sqlx::query(sql).bind(GRID_ROUTING_LOCK).execute(tx).await?;
    Ok(())
}

/// Stores the tips (as built by the caller, ids and submission time included) unless their
/// reporter already sent the request id, together with the outbox row announcing each one stored
/// (`announce[i]` for `tips[i]`), in one statement: it commits on its own, with one NOTIFY.
/// Returns the ids of the tips stored.
pub async fn insert_tips_announced(
    conn: &mut PgConnection,
    tips: &[TipRow],
    announce: &kit::bus::OutboxRows,
) -> Result<Vec<Uuid>, sqlx::Error> {
    if tips.is_empty() {
        return Ok(Vec::new());
    }
    let query = sqlx::query(
        "WITH stored AS (
             INSERT INTO tips (id, request_id, reporter_id, submitted_by, category, description, latitude, longitude, photo_urls, observed_at, submitted_at, status)
             SELECT u.id, u.request_id, u.reporter_id, u.submitted_by, u.category, u.description, u.latitude, u.longitude,
                    ARRAY(SELECT jsonb_array_elements_text(u.photos)), u.observed_at, u.submitted_at, u.status
             FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::int2[], $6::text[], $7::float8[], $8::float8[],
                         $9::jsonb[], $10::timestamptz[], $11::timestamptz[], $12::int2[])
                  AS u(id, request_id, reporter_id, submitted_by, category, description, latitude, longitude, photos, observed_at, submitted_at, status)
             ON CONFLICT (reporter_id, request_id) DO NOTHING
             RETURNING id
         ), announced AS (
             INSERT INTO outbox (event_id, subject, source, ce_subject, payload, traceparent, tracestate)
             SELECT e.event_id, e.subject, e.source, e.ce_subject, e.payload, e.traceparent, e.tracestate
             FROM UNNEST($13::uuid[], $14::text[], $15::text[], $16::text[], $17::bytea[], $18::text[], $19::text[], $1::uuid[])
                  AS e(event_id, subject, source, ce_subject, payload, traceparent, tracestate, tip_id)
             JOIN stored ON stored.id = e.tip_id
             RETURNING 1
         ), notified AS (
             SELECT count(pg_notify(current_schema() || '_outbox', '')) AS n FROM (SELECT 1 FROM announced LIMIT 1) AS one
         )
         SELECT stored.id FROM stored, notified",
    )
    .bind(tips.iter().map(|t| t.id).collect::<Vec<_>>())
    .bind(tips.iter().map(|t| t.request_id.as_str()).collect::<Vec<_>>())
    .bind(tips.iter().map(|t| t.reporter_id).collect::<Vec<_>>())
    .bind(tips.iter().map(|t| t.submitted_by.as_str()).collect::<Vec<_>>())
    .bind(tips.iter().map(|t| t.category).collect::<Vec<_>>())
    .bind(tips.iter().map(|t| t.description.as_str()).collect::<Vec<_>>())
    .bind(tips.iter().map(|t| t.latitude).collect::<Vec<_>>())
    .bind(tips.iter().map(|t| t.longitude).collect::<Vec<_>>())
    .bind(
        tips.iter()
            .map(|t| sqlx::types::Json(&t.photo_urls))
            .collect::<Vec<_>>(),
    )
    .bind(tips.iter().map(|t| t.observed_at).collect::<Vec<_>>())
    .bind(tips.iter().map(|t| t.submitted_at).collect::<Vec<_>>())
    .bind(tips.iter().map(|t| t.status).collect::<Vec<_>>());
    announce
        .bind_to(query)
        .try_map(|row: sqlx::postgres::PgRow| sqlx::Row::try_get(&row, 0))
        .fetch_all(conn)
        .await
}

/// The stored tips for these (reporter, request id) keys.
pub async fn tips_by_requests(
    tx: &mut PgConnection,
    tips: &[&NewTip],
) -> Result<Vec<TipRow>, sqlx::Error> {
    if tips.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(concat!(
        "SELECT ",
        tip_columns!(),
        " FROM tips WHERE reporter_id = ANY($1) AND (reporter_id, request_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::text[]))"
    ))
    .bind(tips.iter().map(|t| t.reporter_id).collect::<Vec<_>>())
    .bind(tips.iter().map(|t| t.request_id.as_str()).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
}

/// Tips per reporter since `since`, for the reporters given (absent: none).
pub async fn tips_since_many(
    conn: &mut PgConnection,
    reporters: &[Uuid],
    since: DateTime<Utc>,
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    sqlx::query_as(
        // One index probe per reporter, whatever the statistics of a fast-growing table say. The
        // array and the bound are sub-selects so that the planner cannot see them: visible, they
        // make each call's own plan look cheaper than the shared one (an array of one reporter
        // against the default ten), so it plans every call anew (0.23 ms under load, measured).
        "SELECT r, (SELECT count(*) FROM tips WHERE reporter_id = r AND submitted_at >= (SELECT $2::timestamptz))
         FROM unnest((SELECT $1::uuid[])) AS r",
    )
    .bind(reporters)
    .bind(since)
    .fetch_all(conn)
    .await
}

// ---- Set-wise dispatch: the same effects as the per-tip statements above, for a whole group of
// tips in a handful of statements.

/// Locks the tips (in id order, as every dispatcher does) and returns them in that order.
pub async fn lock_tips(tx: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<TipRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        tip_columns!(),
        " FROM tips WHERE id = ANY($1) ORDER BY id FOR UPDATE"
    ))
    .bind(ids)
    .fetch_all(tx)
    .await
}

/// Takes transaction-scoped advisory locks on `keys` in ascending order.
pub async fn advisory_xact_locks(tx: &mut PgConnection, keys: &[i64]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT k FROM unnest($1::int8[]) AS k ORDER BY k) AS s",
    )
    .bind(keys)
    .execute(tx)
    .await?;
    Ok(())
}

/// A tip's merge neighbourhood: its category and a box around it.
pub struct MergeBox {
    pub category: i16,
    pub lat: (f64, f64),
    pub lng: (f64, f64),
}

/// Open cases created since `since` inside each box, tagged with the box's index.
pub async fn open_cases_near_many(
    tx: &mut PgConnection,
    boxes: &[MergeBox],
    since: DateTime<Utc>,
) -> Result<Vec<(i32, CaseRow)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Tagged {
        idx: i32,
        #[sqlx(flatten)]
        case: CaseRow,
    }
    let rows: Vec<Tagged> = sqlx::query_as(
        "SELECT u.idx, c.id, c.grid_id, c.department, c.status, c.category, c.latitude, c.longitude, c.due_at,
                c.note, c.version, c.created_at, c.updated_at, c.number, c.external_ref, c.escalated_at,
                c.public_reply, c.resolution, c.closed_at,
                (SELECT count(DISTINCT t.reporter_id) FROM tips t WHERE t.case_id = c.id AND t.status <> 4) AS reporter_count
         FROM unnest($1::int4[], $2::int2[], $3::float8[], $4::float8[], $5::float8[], $6::float8[])
              AS u(idx, category, lat_min, lat_max, lng_min, lng_max)
         -- One probe of cases_open_near per box (OFFSET 0 keeps the planner from turning it into
         -- a hash join over every open case).
         CROSS JOIN LATERAL (
             SELECT * FROM cases c WHERE c.category = u.category AND c.status IN (1, 2, 3)
                 AND c.latitude BETWEEN u.lat_min AND u.lat_max AND c.longitude BETWEEN u.lng_min AND u.lng_max
                 AND c.created_at >= $7
             OFFSET 0) c",
    )
    .bind((0..boxes.len() as i32).collect::<Vec<_>>())
    .bind(boxes.iter().map(|b| b.category).collect::<Vec<_>>())
    .bind(boxes.iter().map(|b| b.lat.0).collect::<Vec<_>>())
    .bind(boxes.iter().map(|b| b.lat.1).collect::<Vec<_>>())
    .bind(boxes.iter().map(|b| b.lng.0).collect::<Vec<_>>())
    .bind(boxes.iter().map(|b| b.lng.1).collect::<Vec<_>>())
    .bind(since)
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.idx, r.case)).collect())
}

/// Reserves `count` consecutive case numbers; returns the last.
pub async fn reserve_case_numbers(
    tx: &mut PgConnection,
    county: &str,
    year: i32,
    count: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO case_counters (county, year, last) VALUES ($1, $2, $3)
         ON CONFLICT (county, year) DO UPDATE SET last = case_counters.last + $3 RETURNING last",
    )
    .bind(county)
    .bind(year)
    .bind(count)
    .fetch_one(tx)
    .await
}

pub async fn insert_cases(tx: &mut PgConnection, cases: &[CaseRow]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cases (id, grid_id, department, status, category, latitude, longitude, due_at, note, version, created_at, updated_at, number)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int2[], $5::int2[], $6::float8[], $7::float8[],
                              $8::timestamptz[], $9::text[], $10::int8[], $11::timestamptz[], $12::timestamptz[], $13::text[])",
    )
    .bind(cases.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.grid_id).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.department.as_str()).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.status).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.category).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.latitude).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.longitude).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.due_at).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.note.as_str()).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.version).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.created_at).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.updated_at).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.number.as_deref()).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
}

/// The system's first transition of each new case (to its grid, or to the county queue).
pub async fn record_dispatch_transitions(
    tx: &mut PgConnection,
    cases: &[CaseRow],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO case_transitions (case_id, from_status, to_status, from_grid_id, to_grid_id,
             from_department, to_department, actor, reason, version)
         SELECT u.case_id, NULL, u.to_status, NULL, u.to_grid_id, NULL, u.to_department, 'system',
                CASE WHEN u.to_grid_id IS NULL THEN 'outside every grid: county queue'
                     ELSE 'dispatched to the grid holding the tip' END, 1
         FROM UNNEST($1::uuid[], $2::int2[], $3::uuid[], $4::text[]) AS u(case_id, to_status, to_grid_id, to_department)",
    )
    .bind(cases.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.status).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.grid_id).collect::<Vec<_>>())
    .bind(cases.iter().map(|c| c.department.as_str()).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
}

/// Bumps each case's version by its count (tips joined it) if it is still open; returns the cases
/// bumped, as they now stand (reporters counted before the joining tips are linked).
pub async fn touch_open_cases(
    tx: &mut PgConnection,
    ids: &[Uuid],
    counts: &[i64],
) -> Result<Vec<CaseRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE cases SET version = cases.version + u.n, updated_at = now()
         FROM UNNEST($1::uuid[], $2::int8[]) AS u(case_id, n)
         WHERE cases.id = ANY($1) AND cases.id = u.case_id AND cases.status IN (1, 2, 3)
         RETURNING ",
        case_columns!()
    ))
    .bind(ids)
    .bind(counts)
    .fetch_all(tx)
    .await
}

/// The tips (id, reporter) each case holds, in id order.
pub async fn tips_of_cases(
    tx: &mut PgConnection,
    cases: &[Uuid],
) -> Result<Vec<(Uuid, Uuid, Uuid, i16)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT case_id, id, reporter_id, status FROM tips WHERE case_id = ANY($1) ORDER BY case_id, id",
    )
    .bind(cases)
    .fetch_all(tx)
    .await
}

/// Links each tip to its case with its new status.
pub async fn link_tips(
    tx: &mut PgConnection,
    links: &[(Uuid, Uuid, pb::TipStatus)],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tips t SET case_id = u.case_id, status = u.status
         FROM UNNEST($1::uuid[], $2::uuid[], $3::int2[]) AS u(id, case_id, status)
         WHERE t.id = ANY($1) AND t.id = u.id",
    )
    .bind(links.iter().map(|l| l.0).collect::<Vec<_>>())
    .bind(links.iter().map(|l| l.1).collect::<Vec<_>>())
    .bind(links.iter().map(|l| l.2 as i16).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
}
