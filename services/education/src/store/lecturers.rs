//! The lecturer pool and their availability.

use sqlx::PgPool;
use uuid::Uuid;

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
    let mut conn = pool.acquire().await?;
    let insert = sqlx::query_as(
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
    .bind(request_id);
    let existing = sqlx::query_as(
        "SELECT id, name, department, expertise, available, version FROM lecturers
         WHERE created_by = $1 AND request_id = $2",
    )
    .bind(caller)
    .bind(request_id);
    Ok(kit::db::create_once(&mut conn, insert, existing).await?.0)
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
