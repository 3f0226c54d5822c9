//! Membership of `PartyService` (the trait impl in `party.rs` calls here): "member finds
//! organization" join requests and their decisions; a member leaves, is transferred or removed,
//! each with a reason; and the history of spells, of one worker or of one organization. A worker may leave and read their own history; staff act on the workers of their
//! communities.

use kit::{
    api::{Violations, internal, not_found},
    auth::{Caller, caller},
};
use redsupply_proto::{organization::v1 as pb, roles::WORKER};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    convert::{join_request_to_pb, spell_to_pb},
    ensure_for_worker, ensure_known, in_communities,
    party::PartyApi,
    validate::{NOTE, enum_filter},
};
use crate::{
    app::{membership, party},
    change::Aggregate,
    store,
};

/// The worker a membership change is about, and its reason, checked; the caller's scope over
/// that worker checked too.
async fn member_and_reason<'r>(
    api: &PartyApi,
    caller: &Caller,
    worker_id: &str,
    reason: &'r str,
) -> Result<(Uuid, &'r str), Status> {
    let mut v = Violations::new();
    let worker = v.id("worker_id", worker_id);
    let reason = v.text("reason", reason, NOTE, true);
    v.into_result()?;
    let worker = worker.expect("validated");
    ensure_for_worker(&api.pool, caller, worker).await?;
    Ok((worker, reason))
}

impl PartyApi {
    /// The scope of a list of one worker's records (theirs, if the caller may see them) or of an
    /// organization's (staff see the workers of their communities): the communities it is
    /// limited to, None for all.
    async fn list_scope(
        &self,
        caller: &Caller,
        worker: Option<Uuid>,
        organization: Option<Uuid>,
    ) -> Result<Option<Vec<Uuid>>, Status> {
        ensure_known(&self.pool, Aggregate::Organization, organization).await?;
        match worker {
            Some(w) => {
                ensure_for_worker(&self.pool, caller, w).await?;
                Ok(None)
            }
            None => Ok(in_communities(caller)),
        }
    }

    pub(super) async fn request_to_join_rpc(
        &self,
        request: Request<pb::RequestToJoinRequest>,
    ) -> Result<Response<pb::RequestToJoinResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let worker = v.id("worker_id", &r.worker_id);
        let organization = v.id("organization_id", &r.organization_id);
        let note = v.text("note", &r.note, NOTE, false);
        v.into_result()?;
        let (worker, organization) = (worker.expect("validated"), organization.expect("validated"));
        ensure_for_worker(&self.pool, &caller, worker).await?;
        let row = party::request_to_join(
            &self.pool,
            &caller.subject,
            &r.request_id,
            worker,
            organization,
            note,
        )
        .await
        .map_err(|e| e.into_status("recording the join request"))?;
        Ok(Response::new(pb::RequestToJoinResponse {
            join_request: Some(join_request_to_pb(row)),
        }))
    }

    pub(super) async fn decide_join_request_rpc(
        &self,
        request: Request<pb::DecideJoinRequestRequest>,
    ) -> Result<Response<pb::DecideJoinRequestResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = v.id("id", &r.id);
        let reason = v.text("reason", &r.reason, NOTE, !r.approve);
        v.into_result()?;
        let id = id.expect("validated");
        let worker = store::joining::worker_of(&self.pool, id)
            .await
            .map_err(|e| internal("loading the join request", e))?
            .ok_or_else(|| not_found("join request", id))?;
        ensure_for_worker(&self.pool, &caller, worker).await?;
        let row = party::decide_join_request(&self.pool, &caller.subject, id, r.approve, reason)
            .await
            .map_err(|e| e.into_status("deciding the join request"))?;
        Ok(Response::new(pb::DecideJoinRequestResponse {
            join_request: Some(join_request_to_pb(row)),
        }))
    }

    pub(super) async fn list_join_requests_rpc(
        &self,
        request: Request<pb::ListJoinRequestsRequest>,
    ) -> Result<Response<pb::ListJoinRequestsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let organization = v.optional_id("organization_id", &r.organization_id);
        let worker = v.optional_id("worker_id", &r.worker_id);
        let status = enum_filter::<pb::JoinRequestStatus>(&mut v, "status", r.status);
        v.check(
            !caller.is_only(WORKER) || worker.is_some(),
            "worker_id",
            "a worker lists only their own requests",
        );
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let scope = self.list_scope(&caller, worker, organization).await?;
        let rows = store::joining::list(
            &self.pool,
            organization,
            worker,
            status,
            scope.as_deref(),
            after,
            size,
        )
        .await
        .map_err(|e| internal("listing join requests", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        let refs: Vec<Uuid> = rows
            .iter()
            .flat_map(|x| [x.worker_id, x.organization_id])
            .collect();
        let names = super::names_of(&self.pool, &caller, refs).await?;
        Ok(Response::new(pb::ListJoinRequestsResponse {
            names,
            next_page_token: kit::api::next_page_token(&ids, size),
            join_requests: rows.into_iter().map(join_request_to_pb).collect(),
        }))
    }

    pub(super) async fn leave_organization_rpc(
        &self,
        request: Request<pb::LeaveOrganizationRequest>,
    ) -> Result<Response<pb::LeaveOrganizationResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let (worker, reason) = member_and_reason(self, &caller, &r.worker_id, &r.reason).await?;
        let (spell, worker_version) = membership::leave(
            &self.pool,
            &caller.subject,
            worker,
            r.expected_version,
            reason,
        )
        .await
        .map_err(|e| e.into_status("leaving the organization"))?;
        Ok(Response::new(pb::LeaveOrganizationResponse {
            spell: Some(spell_to_pb(spell)),
            worker_version,
        }))
    }

    pub(super) async fn transfer_member_rpc(
        &self,
        request: Request<pb::TransferMemberRequest>,
    ) -> Result<Response<pb::TransferMemberResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let to = v.id("organization_id", &r.organization_id);
        v.into_result()?;
        let (worker, reason) = member_and_reason(self, &caller, &r.worker_id, &r.reason).await?;
        let (previous, spell, worker_version) = membership::transfer(
            &self.pool,
            &caller.subject,
            worker,
            r.expected_version,
            to.expect("validated"),
            reason,
        )
        .await
        .map_err(|e| e.into_status("transferring the member"))?;
        Ok(Response::new(pb::TransferMemberResponse {
            spell: Some(spell_to_pb(spell)),
            previous: Some(spell_to_pb(previous)),
            worker_version,
        }))
    }

    pub(super) async fn remove_member_rpc(
        &self,
        request: Request<pb::RemoveMemberRequest>,
    ) -> Result<Response<pb::RemoveMemberResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let (worker, reason) = member_and_reason(self, &caller, &r.worker_id, &r.reason).await?;
        let (spell, worker_version) = membership::remove(
            &self.pool,
            &caller.subject,
            worker,
            r.expected_version,
            reason,
            r.party_membership_ended,
        )
        .await
        .map_err(|e| e.into_status("removing the member"))?;
        Ok(Response::new(pb::RemoveMemberResponse {
            spell: Some(spell_to_pb(spell)),
            worker_version,
        }))
    }

    pub(super) async fn list_membership_history_rpc(
        &self,
        request: Request<pb::ListMembershipHistoryRequest>,
    ) -> Result<Response<pb::ListMembershipHistoryResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let worker = v.optional_id("worker_id", &r.worker_id);
        let organization = v.optional_id("organization_id", &r.organization_id);
        v.check(
            worker.is_some() != organization.is_some(),
            "worker_id",
            "name either a worker or an organization",
        );
        v.check(
            !caller.is_only(WORKER) || worker.is_some(),
            "worker_id",
            "a worker reads only their own history",
        );
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let scope = self.list_scope(&caller, worker, organization).await?;
        let rows = store::membership::list(
            &self.pool,
            worker,
            organization,
            scope.as_deref(),
            after,
            size,
        )
        .await
        .map_err(|e| internal("listing the membership history", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        let refs: Vec<Uuid> = rows
            .iter()
            .flat_map(|x| [Some(x.worker_id), Some(x.organization_id), x.transferred_to])
            .flatten()
            .collect();
        let names = super::names_of(&self.pool, &caller, refs).await?;
        Ok(Response::new(pb::ListMembershipHistoryResponse {
            names,
            next_page_token: kit::api::next_page_token(&ids, size),
            spells: rows.into_iter().map(spell_to_pb).collect(),
        }))
    }
}
