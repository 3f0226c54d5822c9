//! The people who guide: party-building instructors (党建指导员) and red commissioners (红色专员),
//! with the enterprises and party organizations each is assigned to.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub const INSTRUCTOR: i16 = 1;
pub const RED_COMMISSIONER: i16 = 2;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GuideRow {
    pub id: Uuid,
    pub name: String,
    pub kind: i16,
    pub department: String,
    pub enterprise_ids: Vec<Uuid>,
    pub organization_ids: Vec<Uuid>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The columns a guide is written with.
pub struct GuideFields<'a> {
    pub name: &'a str,
    pub kind: i16,
    pub department: &'a str,
    pub enterprise_ids: &'a [Uuid],
    pub organization_ids: &'a [Uuid],
}

macro_rules! guide_columns {
    () => {
        "id, name, kind, department, enterprise_ids, organization_ids, version, updated_at, deleted_at"
    };
}

pub async fn get(tx: &mut PgConnection, id: Uuid) -> Result<GuideRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        guide_columns!(),
        " FROM guides WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(tx)
    .await
}

pub async fn update(
    tx: &mut PgConnection,
    id: Uuid,
    f: &GuideFields<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE guides SET name = $2, kind = $3, department = $4, enterprise_ids = $5,
            organization_ids = $6, version = version + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(f.name)
    .bind(f.kind)
    .bind(f.department)
    .bind(f.enterprise_ids)
    .bind(f.organization_ids)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn insert(
    tx: &mut PgConnection,
    id: Uuid,
    f: &GuideFields<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO guides (id, name, kind, department, enterprise_ids, organization_ids)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(f.name)
    .bind(f.kind)
    .bind(f.department)
    .bind(f.enterprise_ids)
    .bind(f.organization_ids)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn list(
    pool: &PgPool,
    kind: Option<i16>,
    enterprise_id: Option<Uuid>,
    organization_id: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<GuideRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        guide_columns!(),
        " FROM guides
         WHERE deleted_at IS NULL AND ($1::smallint IS NULL OR kind = $1)
           AND ($2::uuid IS NULL OR $2 = ANY (enterprise_ids))
           AND ($3::uuid IS NULL OR $3 = ANY (organization_ids))
           AND ($4::uuid IS NULL OR id > $4)
         ORDER BY id LIMIT $5"
    ))
    .bind(kind)
    .bind(enterprise_id)
    .bind(organization_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}
