//! Courses: what is taught, in which format and theme.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

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
    let mut conn = pool.acquire().await?;
    let insert = sqlx::query_as(
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
    .bind(request_id);
    let existing = sqlx::query_as(
        "SELECT id, title, format, theme, duration_minutes, description FROM courses
         WHERE created_by = $1 AND request_id = $2",
    )
    .bind(caller)
    .bind(request_id);
    Ok(kit::db::create_once(&mut conn, insert, existing).await?.0)
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
