//! Sessions (a course at a site with a lecturer), their bookings and check-in codes.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

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
    pub series_id: Option<Uuid>,
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
    pub series_id: Option<Uuid>,
}

pub async fn insert_session(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
    s: &NewSession,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO sessions (id, course_id, site_id, lecturer_id, starts_at, ends_at, capacity,
                               created_by, request_id, series_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
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
    .bind(s.series_id)
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

/// What a check-in code admits to: one session or one activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeTarget {
    Session(Uuid),
    Activity(Uuid),
}

/// Stores new codes for a session or an activity, skipping any that collide with an existing one.
pub async fn insert_codes(
    tx: &mut PgConnection,
    target: CodeTarget,
    codes: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let (session, activity) = match target {
        CodeTarget::Session(s) => (Some(s), None),
        CodeTarget::Activity(a) => (None, Some(a)),
    };
    sqlx::query_scalar(
        "INSERT INTO check_in_codes (code, session_id, activity_id) SELECT unnest($1::text[]), $2, $3
         ON CONFLICT (code) DO NOTHING RETURNING code",
    )
    .bind(codes)
    .bind(session)
    .bind(activity)
    .fetch_all(tx)
    .await
}

#[derive(Debug, sqlx::FromRow)]
pub struct CodeRow {
    pub session_id: Option<Uuid>,
    pub activity_id: Option<Uuid>,
    pub used_by: Option<Uuid>,
}

impl CodeRow {
    /// Whether the code admits to `target`.
    pub fn admits(&self, target: CodeTarget) -> bool {
        match target {
            CodeTarget::Session(s) => self.session_id == Some(s),
            CodeTarget::Activity(a) => self.activity_id == Some(a),
        }
    }
}

pub async fn lock_code(tx: &mut PgConnection, code: &str) -> Result<Option<CodeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT session_id, activity_id, used_by FROM check_in_codes WHERE code = $1 FOR UPDATE",
    )
    .bind(code)
    .fetch_optional(tx)
    .await
}

/// Marks a code used by `worker` at `at`.
pub async fn use_code(
    tx: &mut PgConnection,
    code: &str,
    worker: Uuid,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE check_in_codes SET used_by = $2, used_at = $3 WHERE code = $1")
        .bind(code)
        .bind(worker)
        .bind(at)
        .execute(tx)
        .await?;
    Ok(())
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
