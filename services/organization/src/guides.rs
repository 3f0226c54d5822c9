//! The people who guide: party-building instructors (党建指导员) and red commissioners (红色专员),
//! each assigned to one enterprise or several, and instructors to party organizations.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events,
};

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

macro_rules! guide_columns {
    () => {
        "id, name, kind, department, enterprise_ids, organization_ids, version, updated_at, deleted_at"
    };
}

pub struct GuideChange<'a> {
    pub id: Option<Uuid>,
    pub expected_version: i64,
    pub request_id: &'a str,
    pub name: &'a str,
    pub kind: i16,
    pub department: &'a str,
    pub enterprise_ids: Vec<Uuid>,
    pub organization_ids: Vec<Uuid>,
}

async fn get(tx: &mut PgConnection, id: Uuid) -> Result<GuideRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        guide_columns!(),
        " FROM guides WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(tx)
    .await
}

pub async fn upsert(
    pool: &PgPool,
    caller: &str,
    c: GuideChange<'_>,
) -> Result<GuideRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::require_all(
        &mut tx,
        Aggregate::Enterprise,
        "guide.enterprise_ids",
        &c.enterprise_ids,
    )
    .await?;
    change::require_all(
        &mut tx,
        Aggregate::Organization,
        "guide.organization_ids",
        &c.organization_ids,
    )
    .await?;
    let id = match c.id {
        Some(id) => {
            change::lock(&mut tx, Aggregate::Guide, id, c.expected_version).await?;
            sqlx::query(
                "UPDATE guides SET name = $2, kind = $3, department = $4, enterprise_ids = $5,
                    organization_ids = $6, version = version + 1, updated_at = now()
                 WHERE id = $1",
            )
            .bind(id)
            .bind(c.name)
            .bind(c.kind)
            .bind(c.department)
            .bind(&c.enterprise_ids)
            .bind(&c.organization_ids)
            .execute(&mut *tx)
            .await?;
            id
        }
        None => {
            let id = Uuid::now_v7();
            if let Some(existing) =
                change::claim_request(&mut tx, caller, c.request_id, Aggregate::Guide, id).await?
            {
                return Ok(get(&mut tx, existing).await?);
            }
            sqlx::query(
                "INSERT INTO guides (id, name, kind, department, enterprise_ids, organization_ids)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(c.name)
            .bind(c.kind)
            .bind(c.department)
            .bind(&c.enterprise_ids)
            .bind(&c.organization_ids)
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    let row = get(&mut tx, id).await?;
    events::guide_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<GuideRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Guide, id, expected_version).await?;
    change::mark_deleted(&mut tx, Aggregate::Guide, id).await?;
    let row = get(&mut tx, id).await?;
    events::guide_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
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
