//! The organization tree: the working committee, its industry committees, and the party
//! organizations under them, each with its formation mode and its member count.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganizationRow {
    pub id: Uuid,
    pub name: String,
    pub kind: i16,
    pub parent_id: Option<Uuid>,
    pub formation_mode: i16,
    pub community_id: Option<Uuid>,
    pub enterprise_ids: Vec<Uuid>,
    pub founded_on: Option<NaiveDate>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub member_count: i64,
}

/// The columns an organization is written with (its kind is set once, when it is created).
pub struct OrganizationFields<'a> {
    pub name: &'a str,
    pub parent_id: Option<Uuid>,
    pub formation_mode: i16,
    pub community_id: Option<Uuid>,
    pub enterprise_ids: &'a [Uuid],
    pub founded_on: Option<NaiveDate>,
}

macro_rules! organization_columns {
    () => {
        "id, name, kind, parent_id, formation_mode, community_id, enterprise_ids, founded_on, version, updated_at, deleted_at,
         (SELECT count(*) FROM workers w WHERE w.organization_id = organizations.id AND w.deleted_at IS NULL) AS member_count"
    };
}

pub async fn get(tx: &mut PgConnection, id: Uuid) -> Result<Option<OrganizationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        organization_columns!(),
        " FROM organizations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// The kind of a live (not deleted) organization.
pub async fn live_kind(tx: &mut PgConnection, id: Uuid) -> Result<Option<i16>, sqlx::Error> {
    // FOR SHARE: a deletion (which locks the row for update) waits for what is placed under the
    // organization, or in it, and then counts it; or this waits and finds it deleted.
    sqlx::query_scalar(
        "SELECT kind FROM organizations WHERE id = $1 AND deleted_at IS NULL FOR SHARE",
    )
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Whether the county has a live working committee.
pub async fn working_committee_exists(tx: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM organizations WHERE kind = 1 AND deleted_at IS NULL)",
    )
    .fetch_one(&mut *tx)
    .await
}

pub async fn update(
    tx: &mut PgConnection,
    id: Uuid,
    f: &OrganizationFields<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE organizations SET name = $2, parent_id = $3, formation_mode = $4, community_id = $5,
            enterprise_ids = $6, founded_on = $7, version = version + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(f.name)
    .bind(f.parent_id)
    .bind(f.formation_mode)
    .bind(f.community_id)
    .bind(f.enterprise_ids)
    .bind(f.founded_on)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn insert(
    tx: &mut PgConnection,
    id: Uuid,
    kind: i16,
    f: &OrganizationFields<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO organizations (id, name, kind, parent_id, formation_mode, community_id, enterprise_ids, founded_on)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(f.name)
    .bind(kind)
    .bind(f.parent_id)
    .bind(f.formation_mode)
    .bind(f.community_id)
    .bind(f.enterprise_ids)
    .bind(f.founded_on)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// How many live organizations sit under the organization, and how many live workers are its
/// members.
pub async fn children_and_members(
    tx: &mut PgConnection,
    id: Uuid,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM organizations WHERE parent_id = $1 AND deleted_at IS NULL),
                (SELECT count(*) FROM workers WHERE organization_id = $1 AND deleted_at IS NULL)",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await
}

pub struct OrganizationFilter {
    pub parent_id: Option<Uuid>,
    pub kind: Option<i16>,
    pub formation_mode: Option<i16>,
}

pub async fn list(
    pool: &PgPool,
    f: &OrganizationFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<OrganizationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        organization_columns!(),
        " FROM organizations
         WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR parent_id = $1)
           AND ($2::smallint IS NULL OR kind = $2) AND ($3::smallint IS NULL OR formation_mode = $3)
           AND ($4::uuid IS NULL OR id > $4)
         ORDER BY id LIMIT $5"
    ))
    .bind(f.parent_id)
    .bind(f.kind)
    .bind(f.formation_mode)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}
