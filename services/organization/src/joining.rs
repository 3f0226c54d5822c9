//! "Member finds organization": a party member asks to join a party organization, and the
//! organization approves (the worker becomes its member) or declines with a reason.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events,
    store::{
        joining::{self, APPROVED, DECLINED, JoinRequestRow, PENDING},
        tree, workers,
    },
};

pub async fn request(
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
    events::join_request_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// Approves or declines a pending request; approval makes the worker a member of the organization.
pub async fn decide(
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
        if !change::exists(&mut tx, Aggregate::Organization, current.organization_id).await? {
            return Err(ChangeError::Precondition(format!(
                "organization {} was deleted",
                current.organization_id
            )));
        }
        workers::set_organization(&mut tx, current.worker_id, current.organization_id).await?;
        let worker = workers::load(&mut tx, current.worker_id).await?;
        events::worker_updated(&mut tx, &worker).await?;
    }
    let status = if approve { APPROVED } else { DECLINED };
    joining::decide(&mut tx, id, status, caller, reason).await?;
    let row = joining::get(&mut tx, id).await?;
    events::join_request_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}
