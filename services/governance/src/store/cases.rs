//! Cases: creating and numbering them, reading and locking them, the filters of `ListCases`,
//! status and note updates, reroutes, near-duplicate candidates and their locks, escalation.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{CaseRow, GridScope};

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
    pub scope: GridScope,
}

/// The grid of a case: `None` when there is no such case, `Some(None)` for the county queue.
pub async fn case_exists_in(pool: &PgPool, id: Uuid) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar("SELECT grid_id FROM cases WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
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
           AND ",
        in_grid_scope!("grid_id", "$13", "$14"),
        " ORDER BY id LIMIT $4"
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
    .bind(q.scope.grids.as_deref())
    .bind(&q.scope.communities)
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

/// Bumps a case's version (its tips changed: one was rejected); returns it as it now stands.
pub async fn touch_case(tx: &mut PgConnection, id: Uuid) -> Result<CaseRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE cases SET version = version + 1, updated_at = now() WHERE id = $1 RETURNING ",
        case_columns!()
    ))
    .bind(id)
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

/// The open cases of `grid`, locked: the grid is going away and they return to the county queue.
pub async fn open_cases_in_grid(
    tx: &mut PgConnection,
    grid: Uuid,
) -> Result<Vec<CaseRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        case_columns!(),
        " FROM cases WHERE grid_id = $1 AND status IN (1, 2, 3) ORDER BY id FOR UPDATE"
    ))
    .bind(grid)
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
