//! Learning-site SQL; a new site and its event share a transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SiteRow {
    pub id: Uuid,
    pub name: String,
    pub community_id: Option<Uuid>,
    pub address: String,
    pub capacity: i32,
    pub created_at: DateTime<Utc>,
}

pub struct NewSite<'a> {
    pub name: &'a str,
    pub community_id: Option<Uuid>,
    pub address: &'a str,
    pub capacity: i32,
}

/// Inserts unless this caller already created a site with `request_id`.
pub async fn insert_site(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
    s: &NewSite<'_>,
) -> Result<(SiteRow, bool), sqlx::Error> {
    let inserted: Option<SiteRow> = sqlx::query_as(
        "INSERT INTO learning_sites (id, name, community_id, address, capacity, created_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (created_by, request_id) DO NOTHING
         RETURNING id, name, community_id, address, capacity, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(s.name)
    .bind(s.community_id)
    .bind(s.address)
    .bind(s.capacity)
    .bind(caller)
    .bind(request_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = inserted {
        return Ok((row, true));
    }
    let row = sqlx::query_as(
        "SELECT id, name, community_id, address, capacity, created_at FROM learning_sites
         WHERE created_by = $1 AND request_id = $2",
    )
    .bind(caller)
    .bind(request_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok((row, false))
}

pub async fn list_sites(
    pool: &PgPool,
    community_id: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SiteRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, community_id, address, capacity, created_at FROM learning_sites
         WHERE ($1::uuid IS NULL OR community_id = $1) AND ($2::uuid IS NULL OR id > $2)
         ORDER BY id LIMIT $3",
    )
    .bind(community_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LecturerRow {
    pub id: Uuid,
    pub name: String,
    pub department: String,
    pub expertise: Vec<String>,
    pub available: bool,
    pub version: i64,
}

pub async fn insert_lecturer(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    name: &str,
    department: &str,
    expertise: &[String],
) -> Result<LecturerRow, sqlx::Error> {
    let inserted: Option<LecturerRow> = sqlx::query_as(
        "INSERT INTO lecturers (id, name, department, expertise, created_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (created_by, request_id) DO NOTHING
         RETURNING id, name, department, expertise, available, version",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(department)
    .bind(expertise)
    .bind(caller)
    .bind(request_id)
    .fetch_optional(pool)
    .await?;
    match inserted {
        Some(row) => Ok(row),
        None => {
            sqlx::query_as(
                "SELECT id, name, department, expertise, available, version FROM lecturers
                 WHERE created_by = $1 AND request_id = $2",
            )
            .bind(caller)
            .bind(request_id)
            .fetch_one(pool)
            .await
        }
    }
}

pub async fn set_lecturer_availability(
    pool: &PgPool,
    id: Uuid,
    available: bool,
) -> Result<Option<LecturerRow>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE lecturers SET available = $2,
             version = version + CASE WHEN available = $2 THEN 0 ELSE 1 END
         WHERE id = $1 RETURNING id, name, department, expertise, available, version",
    )
    .bind(id)
    .bind(available)
    .fetch_optional(pool)
    .await
}

pub async fn lecturer_exists(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM lecturers WHERE id = $1)")
        .bind(id)
        .fetch_one(pool)
        .await
}

pub async fn list_lecturers(
    pool: &PgPool,
    expertise: Option<&str>,
    available_only: bool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<LecturerRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, department, expertise, available, version FROM lecturers
         WHERE ($1::text IS NULL OR $1 = ANY(expertise)) AND (NOT $2 OR available)
           AND ($3::uuid IS NULL OR id > $3)
         ORDER BY id LIMIT $4",
    )
    .bind(expertise)
    .bind(available_only)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CourseRow {
    pub id: Uuid,
    pub title: String,
    pub format: i16,
    pub theme: i16,
    pub duration_minutes: i32,
    pub description: String,
}

pub struct NewCourse<'a> {
    pub title: &'a str,
    pub format: i16,
    pub theme: i16,
    pub duration_minutes: i32,
    pub description: &'a str,
}

pub async fn insert_course(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    c: &NewCourse<'_>,
) -> Result<CourseRow, sqlx::Error> {
    let inserted: Option<CourseRow> = sqlx::query_as(
        "INSERT INTO courses (id, title, format, theme, duration_minutes, description, created_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (created_by, request_id) DO NOTHING
         RETURNING id, title, format, theme, duration_minutes, description",
    )
    .bind(Uuid::now_v7())
    .bind(c.title)
    .bind(c.format)
    .bind(c.theme)
    .bind(c.duration_minutes)
    .bind(c.description)
    .bind(caller)
    .bind(request_id)
    .fetch_optional(pool)
    .await?;
    match inserted {
        Some(row) => Ok(row),
        None => {
            sqlx::query_as(
                "SELECT id, title, format, theme, duration_minutes, description FROM courses
                 WHERE created_by = $1 AND request_id = $2",
            )
            .bind(caller)
            .bind(request_id)
            .fetch_one(pool)
            .await
        }
    }
}

pub async fn course(conn: &mut PgConnection, id: Uuid) -> Result<Option<CourseRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, title, format, theme, duration_minutes, description FROM courses WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn list_courses(
    pool: &PgPool,
    theme: Option<i16>,
    format: Option<i16>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<CourseRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, title, format, theme, duration_minutes, description FROM courses
         WHERE ($1::smallint IS NULL OR theme = $1) AND ($2::smallint IS NULL OR format = $2)
           AND ($3::uuid IS NULL OR id > $3)
         ORDER BY id LIMIT $4",
    )
    .bind(theme)
    .bind(format)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A session with its course's title, format and theme and its attendance so far.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub course_id: Uuid,
    pub site_id: Uuid,
    pub lecturer_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub attendance_count: i64,
    pub format: i16,
    pub theme: i16,
    pub course_title: String,
}

macro_rules! session_select {
    () => {
        "SELECT s.id, s.course_id, s.site_id, s.lecturer_id, s.starts_at, s.ends_at, s.capacity,
                (SELECT count(*) FROM attendances a WHERE a.session_id = s.id) AS attendance_count,
                c.format, c.theme, c.title AS course_title
         FROM sessions s JOIN courses c ON c.id = s.course_id "
    };
}

pub async fn session(conn: &mut PgConnection, id: Uuid) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(concat!(session_select!(), "WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn session_by_request(
    conn: &mut PgConnection,
    caller: &str,
    request_id: &str,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        session_select!(),
        "WHERE s.created_by = $1 AND s.request_id = $2"
    ))
    .bind(caller)
    .bind(request_id)
    .fetch_optional(conn)
    .await
}

pub async fn list_sessions(
    pool: &PgPool,
    site: Option<Uuid>,
    lecturer: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        session_select!(),
        "WHERE ($1::uuid IS NULL OR s.site_id = $1) AND ($2::uuid IS NULL OR s.lecturer_id = $2)
           AND ($3::uuid IS NULL OR s.id > $3)
         ORDER BY s.id LIMIT $4"
    ))
    .bind(site)
    .bind(lecturer)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Locks the lecturer row (serializing bookings of that lecturer); `None` when unknown.
pub async fn lock_lecturer(tx: &mut PgConnection, id: Uuid) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar("SELECT available FROM lecturers WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// Locks the site row (serializing bookings of that site); its capacity, `None` when unknown.
pub async fn lock_site(tx: &mut PgConnection, id: Uuid) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar("SELECT capacity FROM learning_sites WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// A session of this lecturer or at this site overlapping [starts_at, ends_at).
#[derive(Debug, sqlx::FromRow)]
pub struct Clash {
    pub id: Uuid,
    pub lecturer_id: Uuid,
    pub site_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

pub async fn clash(
    tx: &mut PgConnection,
    lecturer: Uuid,
    site: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<Option<Clash>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, lecturer_id, site_id, starts_at, ends_at FROM sessions
         WHERE (lecturer_id = $1 OR site_id = $2)
           AND tstzrange(starts_at, ends_at) && tstzrange($3, $4)
         ORDER BY starts_at LIMIT 1",
    )
    .bind(lecturer)
    .bind(site)
    .bind(starts_at)
    .bind(ends_at)
    .fetch_optional(tx)
    .await
}

pub struct NewSession {
    pub course_id: Uuid,
    pub site_id: Uuid,
    pub lecturer_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
}

pub async fn insert_session(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
    s: &NewSession,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO sessions (id, course_id, site_id, lecturer_id, starts_at, ends_at, capacity, created_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(s.course_id)
    .bind(s.site_id)
    .bind(s.lecturer_id)
    .bind(s.starts_at)
    .bind(s.ends_at)
    .bind(s.capacity)
    .bind(caller)
    .bind(request_id)
    .fetch_one(tx)
    .await
}

/// Locks the session row: check-ins to one session run one at a time, so capacity holds.
pub async fn lock_session(tx: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query_scalar::<_, i32>("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(tx)
            .await?
            .is_some(),
    )
}

/// Stores new codes for a session, skipping any that collide with an existing one.
pub async fn insert_codes(
    tx: &mut PgConnection,
    session: Uuid,
    codes: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO check_in_codes (code, session_id) SELECT unnest($1::text[]), $2
         ON CONFLICT (code) DO NOTHING RETURNING code",
    )
    .bind(codes)
    .bind(session)
    .fetch_all(tx)
    .await
}

#[derive(Debug, sqlx::FromRow)]
pub struct CodeRow {
    pub session_id: Uuid,
    pub used_by: Option<Uuid>,
}

pub async fn lock_code(tx: &mut PgConnection, code: &str) -> Result<Option<CodeRow>, sqlx::Error> {
    sqlx::query_as("SELECT session_id, used_by FROM check_in_codes WHERE code = $1 FOR UPDATE")
        .bind(code)
        .fetch_optional(tx)
        .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttendanceRow {
    pub id: Uuid,
    pub session_id: Uuid,
    pub worker_id: Uuid,
    pub checked_in_at: DateTime<Utc>,
}

pub async fn attendance_of(
    tx: &mut PgConnection,
    session: Uuid,
    worker: Uuid,
) -> Result<Option<AttendanceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, session_id, worker_id, checked_in_at FROM attendances
         WHERE session_id = $1 AND worker_id = $2",
    )
    .bind(session)
    .bind(worker)
    .fetch_optional(tx)
    .await
}

pub async fn attendance_count(tx: &mut PgConnection, session: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM attendances WHERE session_id = $1")
        .bind(session)
        .fetch_one(tx)
        .await
}

/// Records attendance (with the code that admitted it, if any) and marks the code used.
pub async fn insert_attendance(
    tx: &mut PgConnection,
    session: Uuid,
    worker: Uuid,
    code: Option<&str>,
    checked_in_at: DateTime<Utc>,
) -> Result<AttendanceRow, sqlx::Error> {
    if let Some(code) = code {
        sqlx::query("UPDATE check_in_codes SET used_by = $2, used_at = $3 WHERE code = $1")
            .bind(code)
            .bind(worker)
            .bind(checked_in_at)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query_as(
        "INSERT INTO attendances (id, session_id, worker_id, code, checked_in_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, session_id, worker_id, checked_in_at",
    )
    .bind(Uuid::now_v7())
    .bind(session)
    .bind(worker)
    .bind(code)
    .bind(checked_in_at)
    .fetch_one(tx)
    .await
}

pub async fn list_attendance(
    pool: &PgPool,
    session: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AttendanceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, session_id, worker_id, checked_in_at FROM attendances
         WHERE session_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
    )
    .bind(session)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A worker's attendances with their sessions, oldest first.
/// A worker's attendances, limited to sessions at sites of `in_communities` (None: all).
pub async fn learning_record(
    pool: &PgPool,
    worker: Uuid,
    in_communities: Option<&[Uuid]>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(AttendanceRow, SessionRow)>, sqlx::Error> {
    let attendances: Vec<AttendanceRow> = sqlx::query_as(
        "SELECT id, session_id, worker_id, checked_in_at FROM attendances
         WHERE worker_id = $1 AND ($2::uuid IS NULL OR id > $2)
           AND ($4::uuid[] IS NULL OR session_id IN (
                SELECT s.id FROM sessions s JOIN learning_sites l ON l.id = s.site_id
                WHERE l.community_id = ANY($4)))
         ORDER BY id LIMIT $3",
    )
    .bind(worker)
    .bind(after)
    .bind(limit)
    .bind(in_communities)
    .fetch_all(pool)
    .await?;
    let ids: Vec<Uuid> = attendances.iter().map(|a| a.session_id).collect();
    let sessions: Vec<SessionRow> =
        sqlx::query_as(concat!(session_select!(), "WHERE s.id = ANY($1)"))
            .bind(&ids)
            .fetch_all(pool)
            .await?;
    Ok(attendances
        .into_iter()
        .filter_map(|a| {
            let s = sessions.iter().find(|s| s.id == a.session_id)?.clone();
            Some((a, s))
        })
        .collect())
}

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

/// The community of the site a session is held at: `None` when there is no such session.
pub async fn session_community(
    pool: &PgPool,
    session: Uuid,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT l.community_id FROM sessions s JOIN learning_sites l ON l.id = s.site_id WHERE s.id = $1",
    )
    .bind(session)
    .fetch_optional(pool)
    .await
}

/// The community of a learning site: `None` when there is no such site.
pub async fn site_community(
    pool: &PgPool,
    site: Uuid,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar("SELECT community_id FROM learning_sites WHERE id = $1")
        .bind(site)
        .fetch_optional(pool)
        .await
}
