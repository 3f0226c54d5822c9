//! Activities, their lecture series, sign-ups and attendance, and what education keeps of
//! stations' stations (where an activity may be held).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::Seats;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeriesRow {
    pub id: Uuid,
    pub title: String,
    pub theme: i16,
    pub departments: Vec<String>,
    pub year: i32,
    pub sessions_scheduled: i64,
    pub sessions_held: i64,
    pub activities_held: i64,
    pub attendances: i64,
    pub version: i64,
}

macro_rules! series_select {
    () => {
        "SELECT l.id, l.title, l.theme, l.departments, l.year, l.version,
                (SELECT count(*) FROM sessions s WHERE s.series_id = l.id) AS sessions_scheduled,
                (SELECT count(*) FROM sessions s WHERE s.series_id = l.id AND s.starts_at <= now())
                    AS sessions_held,
                (SELECT count(*) FROM activities a
                  WHERE a.series_id = l.id AND a.starts_at <= now() AND a.cancelled_at IS NULL)
                    AS activities_held,
                (SELECT count(*) FROM attendances t JOIN sessions s ON s.id = t.session_id
                  WHERE s.series_id = l.id)
                + (SELECT count(*) FROM activity_attendances t JOIN activities a ON a.id = t.activity_id
                  WHERE a.series_id = l.id AND a.cancelled_at IS NULL) AS attendances
         FROM lecture_series l "
    };
}

pub struct NewSeries<'a> {
    pub title: &'a str,
    pub theme: i16,
    pub departments: &'a [String],
    pub year: i32,
}

/// Inserts a series once per `(caller, request_id)`; `None` when the request made one already.
pub async fn insert_series(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
    s: &NewSeries<'_>,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO lecture_series (id, title, theme, departments, year, created_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (created_by, request_id) DO NOTHING
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(s.title)
    .bind(s.theme)
    .bind(s.departments)
    .bind(s.year)
    .bind(caller)
    .bind(request_id)
    .fetch_optional(tx)
    .await
}

pub async fn series_by_request(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM lecture_series WHERE created_by = $1 AND request_id = $2")
        .bind(caller)
        .bind(request_id)
        .fetch_optional(tx)
        .await
}

pub async fn series(conn: &mut PgConnection, id: Uuid) -> Result<Option<SeriesRow>, sqlx::Error> {
    sqlx::query_as(concat!(series_select!(), "WHERE l.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn list_series(
    pool: &PgPool,
    year: Option<i32>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SeriesRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        series_select!(),
        "WHERE ($1::int IS NULL OR l.year = $1) AND ($2::uuid IS NULL OR l.id > $2)
         ORDER BY l.id LIMIT $3"
    ))
    .bind(year)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A station announced by stations, if newer than what is kept.
pub async fn apply_station(
    tx: &mut PgConnection,
    id: Uuid,
    name: &str,
    retired: bool,
    version: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stations (id, name, retired, version) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE
           SET name = EXCLUDED.name, retired = EXCLUDED.retired, version = EXCLUDED.version
         WHERE stations.version < EXCLUDED.version",
    )
    .bind(id)
    .bind(name)
    .bind(retired)
    .bind(version)
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether the station is known, and retired: `None` when education never heard of it.
pub async fn station_retired_in(
    tx: &mut PgConnection,
    id: Uuid,
) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar("SELECT retired FROM stations WHERE id = $1")
        .bind(id)
        .fetch_optional(tx)
        .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRow {
    pub id: Uuid,
    pub kind: i16,
    pub title: String,
    pub description: String,
    pub organizer_community_id: Option<Uuid>,
    pub organizer_department: String,
    pub site_id: Option<Uuid>,
    pub station_id: Option<Uuid>,
    pub address: String,
    pub community_id: Option<Uuid>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub series_id: Option<Uuid>,
    pub sign_ups: i64,
    pub attendance_count: i64,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: String,
    /// Who last corrected or cancelled it, and when (`None`: as announced).
    pub changed_by: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
}

macro_rules! activity_select {
    () => {
        "SELECT a.id, a.kind, a.title, a.description, a.organizer_community_id,
                a.organizer_department, a.site_id, a.station_id, a.address, a.community_id,
                a.starts_at, a.ends_at, a.capacity, a.series_id,
                (SELECT count(*) FROM activity_sign_ups u
                  WHERE u.activity_id = a.id AND u.cancelled_at IS NULL) AS sign_ups,
                (SELECT count(*) FROM activity_attendances t WHERE t.activity_id = a.id)
                    AS attendance_count,
                a.version, a.created_at, a.cancelled_at, a.cancel_reason, a.changed_by,
                a.changed_at
         FROM activities a "
    };
}

pub struct NewActivity<'a> {
    pub kind: i16,
    pub title: &'a str,
    pub description: &'a str,
    pub organizer_community_id: Option<Uuid>,
    pub organizer_department: &'a str,
    pub site_id: Option<Uuid>,
    pub station_id: Option<Uuid>,
    pub address: &'a str,
    pub community_id: Option<Uuid>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub series_id: Option<Uuid>,
}

/// Inserts an activity once per `(caller, request_id)`; `None` when the request made one already.
pub async fn insert_activity(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
    a: &NewActivity<'_>,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO activities (id, kind, title, description, organizer_community_id,
             organizer_department, site_id, station_id, address, community_id, starts_at, ends_at,
             capacity, series_id, created_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (created_by, request_id) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(a.kind)
    .bind(a.title)
    .bind(a.description)
    .bind(a.organizer_community_id)
    .bind(a.organizer_department)
    .bind(a.site_id)
    .bind(a.station_id)
    .bind(a.address)
    .bind(a.community_id)
    .bind(a.starts_at)
    .bind(a.ends_at)
    .bind(a.capacity)
    .bind(a.series_id)
    .bind(caller)
    .bind(request_id)
    .fetch_optional(tx)
    .await
}

pub async fn activity_by_request(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM activities WHERE created_by = $1 AND request_id = $2")
        .bind(caller)
        .bind(request_id)
        .fetch_optional(tx)
        .await
}

pub async fn activity(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<ActivityRow>, sqlx::Error> {
    sqlx::query_as(concat!(activity_select!(), "WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// What a list of activities is narrowed to: each `None` is no limit.
#[derive(Debug, Default)]
pub struct ActivityFilter {
    pub kind: Option<i16>,
    pub community: Option<Uuid>,
    pub series: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

pub async fn list_activities(
    pool: &PgPool,
    f: &ActivityFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ActivityRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        activity_select!(),
        "WHERE ($1::smallint IS NULL OR a.kind = $1) AND ($2::uuid IS NULL OR a.community_id = $2)
           AND ($3::uuid IS NULL OR a.series_id = $3)
           AND ($4::timestamptz IS NULL OR a.starts_at >= $4)
           AND ($5::timestamptz IS NULL OR a.starts_at < $5)
           AND ($6::uuid IS NULL OR a.id > $6)
         ORDER BY a.id LIMIT $7"
    ))
    .bind(f.kind)
    .bind(f.community)
    .bind(f.series)
    .bind(f.from)
    .bind(f.until)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Locks the activity row (sign-ups and check-ins to one activity run one at a time, so its
/// seats hold); false when there is none.
pub async fn lock_activity(tx: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query_scalar::<_, i32>("SELECT 1 FROM activities WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(tx)
            .await?
            .is_some(),
    )
}

/// The seats of a locked activity.
pub async fn seats(tx: &mut PgConnection, id: Uuid) -> Result<Seats, sqlx::Error> {
    let (capacity, signed_up, walk_ins): (i32, i64, i64) = sqlx::query_as(
        "SELECT a.capacity,
                (SELECT count(*) FROM activity_sign_ups u
                  WHERE u.activity_id = a.id AND u.cancelled_at IS NULL),
                (SELECT count(*) FROM activity_attendances t
                  WHERE t.activity_id = a.id AND NOT t.signed_up)
         FROM activities a WHERE a.id = $1",
    )
    .bind(id)
    .fetch_one(tx)
    .await?;
    Ok(Seats {
        capacity: i64::from(capacity),
        signed_up,
        walk_ins,
    })
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SignUpRow {
    pub activity_id: Uuid,
    pub worker_id: Uuid,
    pub signed_up_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub version: i64,
}

pub async fn sign_up_of(
    tx: &mut PgConnection,
    activity: Uuid,
    worker: Uuid,
) -> Result<Option<SignUpRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT activity_id, worker_id, signed_up_at, cancelled_at, version FROM activity_sign_ups
         WHERE activity_id = $1 AND worker_id = $2",
    )
    .bind(activity)
    .bind(worker)
    .fetch_optional(tx)
    .await
}

/// Signs a worker up, or back up after a cancellation (a new version).
pub async fn upsert_sign_up(
    tx: &mut PgConnection,
    activity: Uuid,
    worker: Uuid,
) -> Result<SignUpRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO activity_sign_ups (activity_id, worker_id) VALUES ($1, $2)
         ON CONFLICT (activity_id, worker_id) DO UPDATE
           SET cancelled_at = NULL, signed_up_at = now(),
               version = activity_sign_ups.version + 1
         RETURNING activity_id, worker_id, signed_up_at, cancelled_at, version",
    )
    .bind(activity)
    .bind(worker)
    .fetch_one(tx)
    .await
}

pub async fn cancel_sign_up(
    tx: &mut PgConnection,
    activity: Uuid,
    worker: Uuid,
) -> Result<SignUpRow, sqlx::Error> {
    sqlx::query_as(
        "UPDATE activity_sign_ups SET cancelled_at = now(), version = version + 1
         WHERE activity_id = $1 AND worker_id = $2
         RETURNING activity_id, worker_id, signed_up_at, cancelled_at, version",
    )
    .bind(activity)
    .bind(worker)
    .fetch_one(tx)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityAttendanceRow {
    pub id: Uuid,
    pub activity_id: Uuid,
    pub worker_id: Uuid,
    pub signed_up: bool,
    pub checked_in_at: DateTime<Utc>,
}

pub async fn activity_attendance_of(
    tx: &mut PgConnection,
    activity: Uuid,
    worker: Uuid,
) -> Result<Option<ActivityAttendanceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, activity_id, worker_id, signed_up, checked_in_at FROM activity_attendances
         WHERE activity_id = $1 AND worker_id = $2",
    )
    .bind(activity)
    .bind(worker)
    .fetch_optional(tx)
    .await
}

/// Records an activity attendance (with the code that admitted it, if any) and marks the code
/// used.
pub async fn insert_activity_attendance(
    tx: &mut PgConnection,
    activity: Uuid,
    worker: Uuid,
    code: Option<&str>,
    signed_up: bool,
    at: DateTime<Utc>,
) -> Result<ActivityAttendanceRow, sqlx::Error> {
    if let Some(code) = code {
        super::use_code(&mut *tx, code, worker, at).await?;
    }
    sqlx::query_as(
        "INSERT INTO activity_attendances (id, activity_id, worker_id, code, signed_up, checked_in_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, activity_id, worker_id, signed_up, checked_in_at",
    )
    .bind(Uuid::now_v7())
    .bind(activity)
    .bind(worker)
    .bind(code)
    .bind(signed_up)
    .bind(at)
    .fetch_one(tx)
    .await
}

pub async fn list_activity_attendance(
    pool: &PgPool,
    activity: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ActivityAttendanceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, activity_id, worker_id, signed_up, checked_in_at FROM activity_attendances
         WHERE activity_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
    )
    .bind(activity)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Per kind: activities, live sign-ups, attendances, of activities starting in [from, until) of
/// `communities` (None: all); and the workers who attended any of them.
pub async fn activity_figures(
    pool: &PgPool,
    communities: Option<&[Uuid]>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<(Vec<(i16, i64, i64, i64)>, i64), sqlx::Error> {
    let by_kind = sqlx::query_as(
        "SELECT a.kind, count(*),
                coalesce(sum((SELECT count(*) FROM activity_sign_ups u
                               WHERE u.activity_id = a.id AND u.cancelled_at IS NULL)), 0)::bigint,
                coalesce(sum((SELECT count(*) FROM activity_attendances t
                               WHERE t.activity_id = a.id)), 0)::bigint
         FROM activities a
         WHERE a.cancelled_at IS NULL AND ($1::uuid[] IS NULL OR a.community_id = ANY ($1))
           AND ($2::timestamptz IS NULL OR a.starts_at >= $2)
           AND ($3::timestamptz IS NULL OR a.starts_at < $3)
         GROUP BY a.kind ORDER BY a.kind",
    )
    .bind(communities)
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await?;
    let reached = sqlx::query_scalar(
        "SELECT count(DISTINCT t.worker_id) FROM activity_attendances t
         JOIN activities a ON a.id = t.activity_id
         WHERE a.cancelled_at IS NULL AND ($1::uuid[] IS NULL OR a.community_id = ANY ($1))
           AND ($2::timestamptz IS NULL OR a.starts_at >= $2)
           AND ($3::timestamptz IS NULL OR a.starts_at < $3)",
    )
    .bind(communities)
    .bind(from)
    .bind(until)
    .fetch_one(pool)
    .await?;
    Ok((by_kind, reached))
}
