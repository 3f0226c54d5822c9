//! The party's use cases (`PartyService`), each one transaction holding the change and its
//! event: the organization tree (the working committee, its industry committees, and the party
//! organizations under them, each with its formation mode); "member finds organization" join
//! requests, approved (the worker becomes a member) or declined with a reason; the guides —
//! party-building instructors (党建指导员) and red commissioners (红色专员) — assigned to
//! enterprises and organizations; and contact links (党支部—党员—群众), one set per member with
//! its own version.

use chrono::NaiveDate;
use redsupply_proto::organization::v1::{FormationMode, OrganizationKind};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    domain,
    events::publish,
    store::{
        contacts,
        guides::{self, GuideFields, GuideRow},
        joining::{self, APPROVED, DECLINED, JoinRequestRow, PENDING},
        tree::{self, OrganizationFields, OrganizationRow},
        workers,
    },
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

pub async fn upsert_organization(
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
    domain::tree::check_placement(c.kind, parent_kind, c.formation_mode)
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
    publish::organization_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// Soft delete, refused while live children or members remain (they would be orphaned).
pub async fn delete_organization(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<OrganizationRow, ChangeError> {
    super::soft_delete(
        pool,
        Aggregate::Organization,
        id,
        expected_version,
        async |tx| {
            let (children, members) = tree::children_and_members(tx, id).await?;
            if children > 0 || members > 0 {
                return Err(ChangeError::Precondition(format!(
                    "organization {id} still has {children} organizations under it and {members} members"
                )));
            }
            Ok(())
        },
        async |tx| Ok(tree::get(tx, id).await?.expect("organization exists")),
        async |tx, row| publish::organization_changed(tx, row).await,
    )
    .await
}

pub async fn request_to_join(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    worker_id: Uuid,
    organization_id: Uuid,
    note: &str,
) -> Result<JoinRequestRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    if let Some(existing) =
        change::claim_request(&mut tx, caller, request_id, Aggregate::JoinRequest, id).await?
    {
        return Ok(joining::get(&mut tx, existing).await?);
    }
    change::lock(&mut tx, Aggregate::Worker, worker_id, 0).await?;
    let worker = workers::load(&mut tx, worker_id).await?;
    match tree::live_kind(&mut tx, organization_id).await? {
        None => {
            return Err(ChangeError::invalid(
                "organization_id",
                format!("organization {organization_id} does not exist"),
            ));
        }
        Some(3) => {}
        Some(_) => {
            return Err(ChangeError::invalid(
                "organization_id",
                "members join party organizations, not committees",
            ));
        }
    }
    if !worker.party_member {
        return Err(ChangeError::Precondition(format!(
            "worker {worker_id} is not a party member"
        )));
    }
    if worker.organization_id == Some(organization_id) {
        return Err(ChangeError::Precondition(format!(
            "worker {worker_id} is already a member of organization {organization_id}"
        )));
    }
    if let Some(p) = joining::pending(&mut tx, worker_id, organization_id).await? {
        return Err(ChangeError::Precondition(format!(
            "join request {p} for this organization is still pending"
        )));
    }
    joining::insert(&mut tx, id, worker_id, organization_id, note).await?;
    let row = joining::get(&mut tx, id).await?;
    publish::join_request_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// Approves or declines a pending request; approval makes the worker a member of the organization.
pub async fn decide_join_request(
    pool: &PgPool,
    caller: &str,
    id: Uuid,
    approve: bool,
    reason: &str,
) -> Result<JoinRequestRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::JoinRequest, id, 0).await?;
    let current = joining::get(&mut tx, id).await?;
    if current.status != PENDING {
        return Err(ChangeError::Precondition(format!(
            "join request {id} was already decided"
        )));
    }
    if approve {
        change::lock(&mut tx, Aggregate::Worker, current.worker_id, 0).await?;
        if tree::live_kind(&mut tx, current.organization_id)
            .await?
            .is_none()
        {
            return Err(ChangeError::Precondition(format!(
                "organization {} was deleted",
                current.organization_id
            )));
        }
        // What held when the request was made is checked again: staff may have cleared the
        // membership since, or the worker joined another organization.
        let worker = workers::load(&mut tx, current.worker_id).await?;
        if !worker.party_member {
            return Err(ChangeError::Precondition(format!(
                "worker {} is no longer recorded as a party member",
                current.worker_id
            )));
        }
        match worker.organization_id {
            None => {}
            Some(other) if other == current.organization_id => {
                return Err(ChangeError::Precondition(format!(
                    "worker {} is already a member of organization {other}",
                    current.worker_id
                )));
            }
            Some(other) => {
                return Err(ChangeError::Precondition(format!(
                    "worker {} is a member of organization {other}: transfer them instead",
                    current.worker_id
                )));
            }
        }
        super::membership::join(
            &mut tx,
            current.worker_id,
            current.organization_id,
            id,
            caller,
        )
        .await?;
    }
    let status = if approve { APPROVED } else { DECLINED };
    joining::decide(&mut tx, id, status, caller, reason).await?;
    let row = joining::get(&mut tx, id).await?;
    publish::join_request_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
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

pub async fn upsert_guide(
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
    let fields = GuideFields {
        name: c.name,
        kind: c.kind,
        department: c.department,
        enterprise_ids: &c.enterprise_ids,
        organization_ids: &c.organization_ids,
    };
    let id = match c.id {
        Some(id) => {
            change::lock(&mut tx, Aggregate::Guide, id, c.expected_version).await?;
            guides::update(&mut tx, id, &fields).await?;
            id
        }
        None => {
            let id = Uuid::now_v7();
            if let Some(existing) =
                change::claim_request(&mut tx, caller, c.request_id, Aggregate::Guide, id).await?
            {
                return Ok(guides::get(&mut tx, existing).await?);
            }
            guides::insert(&mut tx, id, &fields).await?;
            id
        }
    };
    let row = guides::get(&mut tx, id).await?;
    publish::guide_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete_guide(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<GuideRow, ChangeError> {
    super::soft_delete(
        pool,
        Aggregate::Guide,
        id,
        expected_version,
        super::always,
        async |tx| guides::get(tx, id).await,
        async |tx, row| publish::guide_changed(tx, row).await,
    )
    .await
}

/// Undoes an organization's deletion, unless its parent is deleted too (restore that first).
pub async fn restore_organization(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<OrganizationRow, ChangeError> {
    super::restore(
        pool,
        Aggregate::Organization,
        id,
        expected_version,
        async |tx| {
            let row = tree::get(tx, id).await?.expect("organization exists");
            if let Some(parent) = row.parent_id
                && !change::exists(tx, Aggregate::Organization, parent).await?
            {
                return Err(ChangeError::Precondition(format!(
                    "its parent organization {parent} is deleted; restore it first"
                )));
            }
            Ok(())
        },
        async |tx| Ok(tree::get(tx, id).await?.expect("organization exists")),
        async |tx, row| publish::organization_changed(tx, row).await,
    )
    .await
}

/// Undoes a guide's deletion.
pub async fn restore_guide(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<GuideRow, ChangeError> {
    super::restore(
        pool,
        Aggregate::Guide,
        id,
        expected_version,
        super::always,
        async |tx| guides::get(tx, id).await,
        async |tx, row| publish::guide_changed(tx, row).await,
    )
    .await
}

/// Bumps the member's set version and announces the whole set; returns (count, version).
async fn announce(tx: &mut PgConnection, member: Uuid) -> Result<(i32, i64), sqlx::Error> {
    let version = contacts::bump_version(tx, member).await?;
    let workers = contacts::workers_of(tx, member).await?;
    publish::contacts_changed(tx, member, &workers, version).await?;
    Ok((workers.len() as i32, version))
}

/// Adds links from the member to each worker (links that exist are kept). Replays of the same call
/// change nothing and publish nothing.
pub async fn link_contacts(
    pool: &PgPool,
    member: Uuid,
    worker_ids: &[Uuid],
) -> Result<(i32, i64), ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, member, 0).await?;
    let m = workers::load(&mut tx, member).await?;
    if !m.party_member {
        return Err(ChangeError::Precondition(format!(
            "worker {member} is not a party member"
        )));
    }
    if worker_ids.contains(&member) {
        return Err(ChangeError::invalid(
            "worker_ids",
            "a member does not keep in touch with themselves",
        ));
    }
    change::require_all(&mut tx, Aggregate::Worker, "worker_ids", worker_ids).await?;
    let added = contacts::insert_links(&mut tx, member, worker_ids).await?;
    let result = if added > 0 {
        announce(&mut tx, member).await?
    } else {
        contacts::current(&mut tx, member).await?
    };
    tx.commit().await?;
    Ok(result)
}

pub async fn unlink_contact(
    pool: &PgPool,
    member: Uuid,
    worker: Uuid,
) -> Result<(i32, i64), ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, member, 0).await?;
    let removed = contacts::delete_link(&mut tx, member, worker).await?;
    if removed == 0 {
        return Err(ChangeError::Precondition(format!(
            "member {member} is not in touch with worker {worker}"
        )));
    }
    let result = announce(&mut tx, member).await?;
    tx.commit().await?;
    Ok(result)
}
