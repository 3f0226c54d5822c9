//! The organization tree: the working committee, its industry committees, and the party
//! organizations under them, each with its formation mode.

use chrono::{DateTime, NaiveDate, Utc};
use redsupply_proto::organization::v1::{FormationMode, OrganizationKind};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events, rules,
};

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

macro_rules! organization_columns {
    () => {
        "id, name, kind, parent_id, formation_mode, community_id, enterprise_ids, founded_on, version, updated_at, deleted_at,
         (SELECT count(*) FROM workers w WHERE w.organization_id = organizations.id AND w.deleted_at IS NULL) AS member_count"
    };
}

pub struct OrganizationChange<'a> {
    pub id: Option<Uuid>,
    pub expected_version: i64,
    pub request_id: &'a str,
    pub name: &'a str,
    pub kind: OrganizationKind,
    pub parent_id: Option<Uuid>,
    pub formation_mode: FormationMode,
    pub community_id: Option<Uuid>,
    pub enterprise_ids: Vec<Uuid>,
    pub founded_on: Option<NaiveDate>,
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

async fn kind_of(tx: &mut PgConnection, id: Uuid) -> Result<Option<i16>, sqlx::Error> {
    sqlx::query_scalar("SELECT kind FROM organizations WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(tx)
        .await
}

pub async fn upsert(
    pool: &PgPool,
    caller: &str,
    c: OrganizationChange<'_>,
) -> Result<OrganizationRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let parent_kind = match c.parent_id {
        None => None,
        Some(p) => match kind_of(&mut tx, p).await? {
            Some(k) => Some(OrganizationKind::try_from(i32::from(k)).unwrap_or_default()),
            None => {
                return Err(ChangeError::invalid(
                    "organization.parent_id",
                    format!("organization {p} does not exist"),
                ));
            }
        },
    };
    rules::check_placement(c.kind, parent_kind, c.formation_mode)
        .map_err(|e| ChangeError::invalid(e.field(), e.to_string()))?;
    if c.parent_id.is_some() && c.parent_id == c.id {
        return Err(ChangeError::invalid(
            "organization.parent_id",
            "an organization cannot be its own parent",
        ));
    }
    if let Some(community) = c.community_id
        && !change::exists(&mut tx, Aggregate::Community, community).await?
    {
        return Err(ChangeError::invalid(
            "organization.community_id",
            format!("community {community} does not exist"),
        ));
    }
    change::require_all(
        &mut tx,
        Aggregate::Enterprise,
        "organization.enterprise_ids",
        &c.enterprise_ids,
    )
    .await?;
    let id = match c.id {
        Some(id) => {
            change::lock(&mut tx, Aggregate::Organization, id, c.expected_version).await?;
            let current = get(&mut tx, id).await?.expect("locked row exists");
            if i32::from(current.kind) != c.kind as i32 {
                return Err(ChangeError::invalid(
                    "organization.kind",
                    "the kind of an organization cannot change",
                ));
            }
            sqlx::query(
                "UPDATE organizations SET name = $2, parent_id = $3, formation_mode = $4, community_id = $5,
                    enterprise_ids = $6, founded_on = $7, version = version + 1, updated_at = now()
                 WHERE id = $1",
            )
            .bind(id)
            .bind(c.name)
            .bind(c.parent_id)
            .bind(c.formation_mode as i16)
            .bind(c.community_id)
            .bind(&c.enterprise_ids)
            .bind(c.founded_on)
            .execute(&mut *tx)
            .await?;
            id
        }
        None => {
            let id = Uuid::now_v7();
            if let Some(existing) =
                change::claim_request(&mut tx, caller, c.request_id, Aggregate::Organization, id)
                    .await?
            {
                return Ok(get(&mut tx, existing)
                    .await?
                    .expect("claimed organization exists"));
            }
            if c.kind == OrganizationKind::WorkingCommittee {
                let exists: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM organizations WHERE kind = 1 AND deleted_at IS NULL)",
                )
                .fetch_one(&mut *tx)
                .await?;
                if exists {
                    return Err(ChangeError::Precondition(
                        "the county already has a working committee".into(),
                    ));
                }
            }
            sqlx::query(
                "INSERT INTO organizations (id, name, kind, parent_id, formation_mode, community_id, enterprise_ids, founded_on)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id)
            .bind(c.name)
            .bind(c.kind as i16)
            .bind(c.parent_id)
            .bind(c.formation_mode as i16)
            .bind(c.community_id)
            .bind(&c.enterprise_ids)
            .bind(c.founded_on)
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    let row = get(&mut tx, id).await?.expect("organization just written");
    events::organization_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// Soft delete, refused while live children or members remain (they would be orphaned).
pub async fn delete(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<OrganizationRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Organization, id, expected_version).await?;
    let (children, members): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM organizations WHERE parent_id = $1 AND deleted_at IS NULL),
                (SELECT count(*) FROM workers WHERE organization_id = $1 AND deleted_at IS NULL)",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if children > 0 || members > 0 {
        return Err(ChangeError::Precondition(format!(
            "organization {id} still has {children} organizations under it and {members} members"
        )));
    }
    change::mark_deleted(&mut tx, Aggregate::Organization, id).await?;
    let row = get(&mut tx, id).await?.expect("organization exists");
    events::organization_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
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
