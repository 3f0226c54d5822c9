//! The organization tree: the working committee, its industry committees, and the party
//! organizations under them, each with its formation mode.

use chrono::NaiveDate;
use redsupply_proto::organization::v1::{FormationMode, OrganizationKind};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events, rules,
    store::tree::{self, OrganizationFields, OrganizationRow},
};

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

pub async fn upsert(
    pool: &PgPool,
    caller: &str,
    c: OrganizationChange<'_>,
) -> Result<OrganizationRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let parent_kind = match c.parent_id {
        None => None,
        Some(p) => match tree::live_kind(&mut tx, p).await? {
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
    let fields = OrganizationFields {
        name: c.name,
        parent_id: c.parent_id,
        formation_mode: c.formation_mode as i16,
        community_id: c.community_id,
        enterprise_ids: &c.enterprise_ids,
        founded_on: c.founded_on,
    };
    let id = match c.id {
        Some(id) => {
            change::lock(&mut tx, Aggregate::Organization, id, c.expected_version).await?;
            let current = tree::get(&mut tx, id).await?.expect("locked row exists");
            if i32::from(current.kind) != c.kind as i32 {
                return Err(ChangeError::invalid(
                    "organization.kind",
                    "the kind of an organization cannot change",
                ));
            }
            tree::update(&mut tx, id, &fields).await?;
            id
        }
        None => {
            let id = Uuid::now_v7();
            if let Some(existing) =
                change::claim_request(&mut tx, caller, c.request_id, Aggregate::Organization, id)
                    .await?
            {
                return Ok(tree::get(&mut tx, existing)
                    .await?
                    .expect("claimed organization exists"));
            }
            if c.kind == OrganizationKind::WorkingCommittee
                && tree::working_committee_exists(&mut tx).await?
            {
                return Err(ChangeError::Precondition(
                    "the county already has a working committee".into(),
                ));
            }
            tree::insert(&mut tx, id, c.kind as i16, &fields).await?;
            id
        }
    };
    let row = tree::get(&mut tx, id)
        .await?
        .expect("organization just written");
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
    let (children, members) = tree::children_and_members(&mut tx, id).await?;
    if children > 0 || members > 0 {
        return Err(ChangeError::Precondition(format!(
            "organization {id} still has {children} organizations under it and {members} members"
        )));
    }
    change::mark_deleted(&mut tx, Aggregate::Organization, id).await?;
    let row = tree::get(&mut tx, id).await?.expect("organization exists");
    events::organization_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}
