//! Who of the caller's scope a registry record belongs to, and how a worker's record looks to a
//! caller: personal numbers in clear only within scope, every staff unmasking in the access log.

use kit::{
    api::{internal, not_found},
    auth::Caller,
    time::to_timestamp,
};
use redsupply_proto::{
    organization::v1 as pb,
    roles::{COMMUNITY_ADMIN, WORKER},
};
use sqlx::PgPool;
use tonic::Status;
use uuid::Uuid;

use super::registry::RegistryApi;
use crate::{
    domain,
    store::{
        access_log, geography,
        workers::{self, WorkerRow},
    },
};

/// PERMISSION_DENIED unless the caller may act for `worker` (themself, or staff of the worker's
/// community); NOT_FOUND when there is no such worker.
pub(super) async fn ensure_for_worker(
    pool: &PgPool,
    caller: &Caller,
    worker: Uuid,
) -> Result<(), Status> {
    if caller.has_role(WORKER) && caller.subject == worker.to_string() {
        return Ok(());
    }
    let community = workers::worker_community(pool, worker)
        .await
        .map_err(|e| internal("checking the caller's scope", e))?
        .ok_or_else(|| not_found("worker", worker))?;
    caller.ensure_for_worker(worker, community)
}

/// [`ensure_for_worker`] for staff acting on several workers at once (the first one out of scope
/// is named); ids of no worker are left to the use case to refuse.
pub(super) async fn ensure_for_workers(
    pool: &PgPool,
    caller: &Caller,
    workers: &[Uuid],
) -> Result<(), Status> {
    let Some(communities) = in_communities(caller) else {
        return Ok(());
    };
    let outside = workers::workers_outside(pool, workers, &communities)
        .await
        .map_err(|e| internal("checking the caller's scope", e))?;
    match outside.first() {
        None => Ok(()),
        Some((w, community)) => caller.ensure_for_worker(w, *community),
    }
}

/// The communities a list is limited to for this caller (None: the whole county).
pub(super) fn in_communities(caller: &Caller) -> Option<Vec<Uuid>> {
    caller.visible().communities().map(<[Uuid]>::to_vec)
}

impl RegistryApi {
    /// Whether the caller may see this worker's personal numbers in clear: the worker themself,
    /// a county admin, or community staff of the worker's community. Grid officers see them
    /// masked.
    pub(super) fn sees_in_clear(caller: &Caller, worker: &WorkerRow) -> bool {
        caller.subject == worker.id.to_string()
            || caller.is_county()
            || (caller.has_role(COMMUNITY_ADMIN)
                && worker
                    .community_id
                    .is_some_and(|c| caller.scope.communities.contains(&c)))
    }

    /// The workers as `caller` may see them through `call`; every record whose numbers staff see
    /// in clear is written to the access log first.
    pub(super) async fn worker_views(
        &self,
        caller: &Caller,
        rows: Vec<WorkerRow>,
        call: &str,
    ) -> Result<Vec<pb::Worker>, Status> {
        let opened: Vec<Uuid> = rows
            .iter()
            .filter(|w| {
                caller.subject != w.id.to_string()
                    && (w.phone_sealed.is_some() || w.id_number_sealed.is_some())
                    && Self::sees_in_clear(caller, w)
            })
            .map(|w| w.id)
            .collect();
        if !opened.is_empty() {
            access_log::record(&self.pool, &caller.subject, &caller.roles, &opened, call)
                .await
                .map_err(|e| internal("logging access to personal data", e))?;
        }
        Ok(rows
            .into_iter()
            .map(|w| {
                let clear = Self::sees_in_clear(caller, &w);
                self.worker_to_pb(w, clear)
            })
            .collect())
    }

    pub(super) async fn worker_view(
        &self,
        caller: &Caller,
        row: WorkerRow,
        call: &str,
    ) -> Result<pb::Worker, Status> {
        let mut v = self.worker_views(caller, vec![row], call).await?;
        Ok(v.remove(0))
    }

    /// PERMISSION_DENIED unless the grid's community is in the caller's scope (a new grid is
    /// checked by the community it names).
    pub(super) async fn ensure_grid(&self, caller: &Caller, id: Uuid) -> Result<(), Status> {
        if caller.is_county() {
            return Ok(());
        }
        match geography::grid(&self.pool, id)
            .await
            .map_err(|e| internal("checking the caller's scope", e))?
        {
            Some(g) => caller.ensure_community(g.community_id),
            None => Ok(()),
        }
    }

    /// The worker, if the caller may act on their record (themself, or staff of their community).
    pub(super) async fn worker_in_scope(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<WorkerRow, Status> {
        let row = workers::worker(&self.pool, id)
            .await
            .map_err(|e| internal("loading the worker", e))?
            .ok_or_else(|| not_found("worker", id))?;
        caller.ensure_for_worker(id, row.community_id)?;
        Ok(row)
    }

    /// The worker as a caller may see it: personal numbers opened, and masked unless `in_clear`.
    pub(super) fn worker_to_pb(&self, w: WorkerRow, in_clear: bool) -> pb::Worker {
        let open = |sealed: &Option<Vec<u8>>, mask: fn(&str) -> String| -> String {
            match sealed.as_deref().map(|s| self.vault.open(s)) {
                None => String::new(),
                Some(Ok(v)) if in_clear => v,
                Some(Ok(v)) => mask(&v),
                Some(Err(e)) => {
                    tracing::error!(worker_id = %w.id, error = %e, "a personal number does not decrypt");
                    String::new()
                }
            }
        };
        pb::Worker {
            id: w.id.to_string(),
            name: w.name.clone(),
            phone: open(&w.phone_sealed, domain::numbers::mask_phone),
            id_number: open(&w.id_number_sealed, domain::numbers::mask_id_number),
            platform: w.platform,
            enterprise_id: w.enterprise_id.map(|u| u.to_string()).unwrap_or_default(),
            community_id: w.community_id.map(|u| u.to_string()).unwrap_or_default(),
            party_member: w.party_member,
            version: w.version,
            registered_at: Some(to_timestamp(w.registered_at)),
            organization_id: w.organization_id.map(|u| u.to_string()).unwrap_or_default(),
            volunteer_roles: w.volunteer_roles,
            reported_in_at: w.reported_in_at.map(to_timestamp),
            deleted_at: w.deleted_at.map(to_timestamp),
        }
    }
}

/// Party membership is staff's to record (or an approved join request's), never a worker's own
/// say: a worker registering themself may not declare it (as UpdateWorker refuses it to them).
pub(super) fn may_record_membership(caller: &Caller, party_member: bool) -> Result<(), Status> {
    if party_member && !caller.is_staff() {
        return Err(Status::permission_denied(
            "party_member: party membership is recorded by staff, not declared at registration",
        ));
    }
    Ok(())
}
