//! A worker's record after registration: edits (by staff, or by the worker themselves), soft
//! deletion, report-in to a community, and the volunteer roles governance appoints.

use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::{events::v1 as ev, governance::v1::VolunteerRole};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events,
    personal::Vault,
    store::workers::{self, ReportInRow, WorkerEdit, WorkerRow},
};

pub async fn update(
    pool: &PgPool,
    vault: &Vault,
    id: Uuid,
    expected_version: i64,
    edit: WorkerEdit,
) -> Result<WorkerRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, id, expected_version).await?;
    if let Some(Some(e)) = edit.enterprise_id
        && !change::exists(&mut tx, Aggregate::Enterprise, e).await?
    {
        return Err(ChangeError::invalid(
            "enterprise_id",
            format!("enterprise {e} does not exist"),
        ));
    }
    workers::update(&mut tx, vault, id, &edit).await?;
    let row = workers::load(&mut tx, id).await?;
    events::worker_updated(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// Soft delete: tips, points and links keep pointing at the worker; searches and coverage skip them.
pub async fn delete(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<WorkerRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, id, expected_version).await?;
    change::mark_deleted(&mut tx, Aggregate::Worker, id).await?;
    let row = workers::load(&mut tx, id).await?;
    events::worker_updated(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// The worker reports in to the community (报到备案); their community becomes this one.
pub async fn report_in(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    worker_id: Uuid,
    community_id: Uuid,
    note: &str,
) -> Result<(ReportInRow, WorkerRow), ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, worker_id, 0).await?;
    if !change::exists(&mut tx, Aggregate::Community, community_id).await? {
        return Err(ChangeError::invalid(
            "community_id",
            format!("community {community_id} does not exist"),
        ));
    }
    let id = Uuid::now_v7();
    if let Some(existing) =
        change::claim_request(&mut tx, caller, request_id, Aggregate::ReportIn, id).await?
    {
        let row = workers::report_in(&mut tx, existing).await?;
        let worker = workers::load(&mut tx, row.worker_id).await?;
        return Ok((row, worker));
    }
    let row = workers::insert_report_in(&mut tx, id, worker_id, community_id, note).await?;
    workers::move_to_community(&mut tx, worker_id, community_id, row.reported_at).await?;
    let worker = workers::load(&mut tx, worker_id).await?;
    events::worker_reported_in(&mut tx, &row, worker.version).await?;
    events::worker_updated(&mut tx, &worker).await?;
    tx.commit().await?;
    Ok((row, worker))
}

/// Consumer `organization-volunteer-roles`: governance's appointments, shown on the worker.
/// Appointments are only ever added, so applying a set is idempotent in any order.
pub struct VolunteerRoleEvents;

impl Handler for VolunteerRoleEvents {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::VolunteerRoleAppointed = event.decode()?;
        let worker = Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?;
        let roles: Vec<String> = e
            .roles
            .iter()
            .chain(std::iter::once(&e.role))
            .filter_map(|r| VolunteerRole::try_from(*r).ok())
            .filter(|r| *r != VolunteerRole::Unspecified)
            .map(|r| r.as_str_name().to_owned())
            .collect();
        workers::add_volunteer_roles(tx, worker, &roles).await?;
        Ok(())
    }
}
