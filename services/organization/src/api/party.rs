//! `redsupply.organization.v1.PartyService`: the organization tree, join requests, guides and
//! contact links (join requests and membership in `membership.rs`, guides in `guides.rs`). Per
//! RPC: the caller's scope, the request checked, the use case (`app`) or a read of `store`, the
//! rows into protobuf (`convert`).

use kit::{
    api::{Violations, internal, invalid, parse_id},
    auth::caller,
};
use redsupply_proto::{
    organization::v1::{self as pb, party_service_server::PartyService},
    roles::WORKER,
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    convert::{self, guide_to_pb, organization_to_pb},
    ensure_for_worker, ensure_for_workers, ensure_known,
    validate::{MAX_REFERENCES, NAME, check_date, enum_filter, upsert_request_id},
};
use crate::{app::party, change::Aggregate, domain, store};

pub struct PartyApi {
    pub(super) pool: PgPool,
}

/// What an update may not name in its mask: ids, versions and what the service keeps.
const ORGANIZATION_KEPT: &[&str] = &["id", "version", "updated_at", "deleted_at", "member_count"];

impl PartyApi {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The stored organization as the API answers it, with its version (a masked update's base).
    async fn organization_pb(&self, id: Uuid) -> Result<(pb::Organization, i64), Status> {
        let fail = |e| internal("loading the organization", e);
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        let row = store::tree::get(&mut conn, id)
            .await
            .map_err(fail)?
            .ok_or_else(|| kit::api::not_found("organization", id))?;
        let version = row.version;
        Ok((organization_to_pb(row), version))
    }
}

#[tonic::async_trait]
impl PartyService for PartyApi {
    #[tracing::instrument(name = "UpsertOrganization", skip_all)]
    async fn upsert_organization(
        &self,
        request: Request<pb::UpsertOrganizationRequest>,
    ) -> Result<Response<pb::UpsertOrganizationResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let o = r
            .organization
            .ok_or_else(|| invalid("organization", "is required"))?;
        let id = Uuid::parse_str(&o.id).ok();
        let (o, expected_version) = kit::api::mask::merge(
            "redsupply.organization.v1.Organization",
            ORGANIZATION_KEPT,
            r.update_mask.as_ref(),
            id,
            r.expected_version,
            o,
            |id| self.organization_pb(id),
        )
        .await?;
        let mut v = Violations::new();
        let id = v.optional_id("organization.id", &o.id);
        upsert_request_id(&mut v, id.is_none(), &r.request_id);
        let name = v.line("organization.name", &o.name, NAME, true);
        let kind: Option<pb::OrganizationKind> = v.enumeration("organization.kind", o.kind, false);
        // Committees have no formation mode (zero); party organizations need one (the tree's
        // rules say which).
        let mode: Option<pb::FormationMode> =
            v.enumeration("organization.formation_mode", o.formation_mode, true);
        let parent_id = v.optional_id("organization.parent_id", &o.parent_id);
        let community_id = v.optional_id("organization.community_id", &o.community_id);
        let enterprise_ids = v.ids(
            "organization.enterprise_ids",
            &o.enterprise_ids,
            MAX_REFERENCES,
        );
        let founded_on = if o.founded_on.is_empty() {
            None
        } else {
            check_date(&mut v, "organization.founded_on", &o.founded_on)
        };
        v.into_result()?;
        let row = party::upsert_organization(
            &self.pool,
            &caller.subject,
            party::OrganizationChange {
                id,
                expected_version,
                request_id: &r.request_id,
                name,
                kind: kind.expect("validated"),
                parent_id,
                formation_mode: mode.unwrap_or_default(),
                community_id,
                enterprise_ids,
                founded_on,
            },
        )
        .await
        .map_err(|e| e.into_status("saving the organization"))?;
        Ok(Response::new(pb::UpsertOrganizationResponse {
            organization: Some(organization_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "GetOrganization", skip_all)]
    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::GetOrganizationResponse>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| internal("loading the organization", e))?;
        let row = store::tree::get(&mut conn, id)
            .await
            .map_err(|e| internal("loading the organization", e))?
            .ok_or_else(|| kit::api::not_found("organization", id))?;
        Ok(Response::new(pb::GetOrganizationResponse {
            organization: Some(organization_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListOrganizations", skip_all)]
    async fn list_organizations(
        &self,
        request: Request<pb::ListOrganizationsRequest>,
    ) -> Result<Response<pb::ListOrganizationsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let parent_id = v.optional_id("parent_id", &r.parent_id);
        let kind = enum_filter::<pb::OrganizationKind>(&mut v, "kind", r.kind);
        let formation_mode =
            enum_filter::<pb::FormationMode>(&mut v, "formation_mode", r.formation_mode);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        ensure_known(&self.pool, Aggregate::Organization, parent_id).await?;
        let filter = store::tree::OrganizationFilter {
            parent_id,
            kind,
            formation_mode,
        };
        let rows = store::tree::list(&self.pool, &filter, after, size)
            .await
            .map_err(|e| internal("listing organizations", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        let refs: Vec<Uuid> = rows
            .iter()
            .flat_map(|x| [x.community_id, x.parent_id])
            .flatten()
            .collect();
        let names = super::names_of(&self.pool, &caller, refs).await?;
        Ok(Response::new(pb::ListOrganizationsResponse {
            names,
            next_page_token: kit::api::next_page_token(&ids, size),
            organizations: rows.into_iter().map(organization_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "DeleteOrganization", skip_all)]
    async fn delete_organization(
        &self,
        request: Request<pb::DeleteOrganizationRequest>,
    ) -> Result<Response<pb::DeleteOrganizationResponse>, Status> {
        let r = request.into_inner();
        let id = parse_id("id", &r.id)?;
        let row = party::delete_organization(&self.pool, id, r.expected_version)
            .await
            .map_err(|e| e.into_status("deleting the organization"))?;
        Ok(Response::new(pb::DeleteOrganizationResponse {
            organization: Some(organization_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "RestoreOrganization", skip_all)]
    async fn restore_organization(
        &self,
        request: Request<pb::RestoreOrganizationRequest>,
    ) -> Result<Response<pb::RestoreOrganizationResponse>, Status> {
        let r = request.into_inner();
        let id = parse_id("id", &r.id)?;
        let row = party::restore_organization(&self.pool, id, r.expected_version)
            .await
            .map_err(|e| e.into_status("restoring the organization"))?;
        Ok(Response::new(pb::RestoreOrganizationResponse {
            organization: Some(organization_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "RequestToJoin", skip_all)]
    async fn request_to_join(
        &self,
        request: Request<pb::RequestToJoinRequest>,
    ) -> Result<Response<pb::RequestToJoinResponse>, Status> {
        self.request_to_join_rpc(request).await
    }

    #[tracing::instrument(name = "DecideJoinRequest", skip_all)]
    async fn decide_join_request(
        &self,
        request: Request<pb::DecideJoinRequestRequest>,
    ) -> Result<Response<pb::DecideJoinRequestResponse>, Status> {
        self.decide_join_request_rpc(request).await
    }

    #[tracing::instrument(name = "ListJoinRequests", skip_all)]
    async fn list_join_requests(
        &self,
        request: Request<pb::ListJoinRequestsRequest>,
    ) -> Result<Response<pb::ListJoinRequestsResponse>, Status> {
        self.list_join_requests_rpc(request).await
    }

    #[tracing::instrument(name = "LeaveOrganization", skip_all)]
    async fn leave_organization(
        &self,
        request: Request<pb::LeaveOrganizationRequest>,
    ) -> Result<Response<pb::LeaveOrganizationResponse>, Status> {
        self.leave_organization_rpc(request).await
    }

    #[tracing::instrument(name = "TransferMember", skip_all)]
    async fn transfer_member(
        &self,
        request: Request<pb::TransferMemberRequest>,
    ) -> Result<Response<pb::TransferMemberResponse>, Status> {
        self.transfer_member_rpc(request).await
    }

    #[tracing::instrument(name = "RemoveMember", skip_all)]
    async fn remove_member(
        &self,
        request: Request<pb::RemoveMemberRequest>,
    ) -> Result<Response<pb::RemoveMemberResponse>, Status> {
        self.remove_member_rpc(request).await
    }

    #[tracing::instrument(name = "ListMembershipHistory", skip_all)]
    async fn list_membership_history(
        &self,
        request: Request<pb::ListMembershipHistoryRequest>,
    ) -> Result<Response<pb::ListMembershipHistoryResponse>, Status> {
        self.list_membership_history_rpc(request).await
    }

    #[tracing::instrument(name = "UpsertGuide", skip_all)]
    async fn upsert_guide(
        &self,
        request: Request<pb::UpsertGuideRequest>,
    ) -> Result<Response<pb::UpsertGuideResponse>, Status> {
        self.upsert_guide_rpc(request).await
    }

    #[tracing::instrument(name = "ListGuides", skip_all)]
    async fn list_guides(
        &self,
        request: Request<pb::ListGuidesRequest>,
    ) -> Result<Response<pb::ListGuidesResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let kind = enum_filter::<pb::GuideKind>(&mut v, "kind", r.kind);
        let enterprise = v.optional_id("enterprise_id", &r.enterprise_id);
        let organization = v.optional_id("organization_id", &r.organization_id);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        ensure_known(&self.pool, Aggregate::Enterprise, enterprise).await?;
        ensure_known(&self.pool, Aggregate::Organization, organization).await?;
        let rows = store::guides::list(&self.pool, kind, enterprise, organization, after, size)
            .await
            .map_err(|e| internal("listing guides", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        Ok(Response::new(pb::ListGuidesResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            guides: rows.into_iter().map(guide_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "DeleteGuide", skip_all)]
    async fn delete_guide(
        &self,
        request: Request<pb::DeleteGuideRequest>,
    ) -> Result<Response<pb::DeleteGuideResponse>, Status> {
        let r = request.into_inner();
        let id = parse_id("id", &r.id)?;
        let row = party::delete_guide(&self.pool, id, r.expected_version)
            .await
            .map_err(|e| e.into_status("deleting the guide"))?;
        Ok(Response::new(pb::DeleteGuideResponse {
            guide: Some(guide_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "RestoreGuide", skip_all)]
    async fn restore_guide(
        &self,
        request: Request<pb::RestoreGuideRequest>,
    ) -> Result<Response<pb::RestoreGuideResponse>, Status> {
        let r = request.into_inner();
        let id = parse_id("id", &r.id)?;
        let row = party::restore_guide(&self.pool, id, r.expected_version)
            .await
            .map_err(|e| e.into_status("restoring the guide"))?;
        Ok(Response::new(pb::RestoreGuideResponse {
            guide: Some(guide_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "LinkContacts", skip_all)]
    async fn link_contacts(
        &self,
        request: Request<pb::LinkContactsRequest>,
    ) -> Result<Response<pb::LinkContactsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let member = v.id("member_id", &r.member_id);
        v.check(!r.worker_ids.is_empty(), "worker_ids", "is required");
        let workers = v.ids("worker_ids", &r.worker_ids, domain::MAX_LINKS_PER_CALL);
        v.into_result()?;
        let member = member.expect("validated");
        let mut everyone = workers.clone();
        everyone.push(member);
        ensure_for_workers(&self.pool, &caller, &everyone).await?;
        let (count, version) = party::link_contacts(&self.pool, member, &workers)
            .await
            .map_err(|e| e.into_status("linking contacts"))?;
        Ok(Response::new(pb::LinkContactsResponse {
            contact_count: count,
            version,
        }))
    }

    #[tracing::instrument(name = "UnlinkContact", skip_all)]
    async fn unlink_contact(
        &self,
        request: Request<pb::UnlinkContactRequest>,
    ) -> Result<Response<pb::UnlinkContactResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let member = v.id("member_id", &r.member_id);
        let worker = v.id("worker_id", &r.worker_id);
        v.into_result()?;
        // The member's community keeps the link: its staff may end it.
        ensure_for_worker(&self.pool, &caller, member.expect("validated")).await?;
        let (count, version) = party::unlink_contact(
            &self.pool,
            member.expect("validated"),
            worker.expect("validated"),
        )
        .await
        .map_err(|e| e.into_status("unlinking the contact"))?;
        Ok(Response::new(pb::UnlinkContactResponse {
            contact_count: count,
            version,
        }))
    }

    #[tracing::instrument(name = "ListContacts", skip_all)]
    async fn list_contacts(
        &self,
        request: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let member = v.optional_id("member_id", &r.member_id);
        let worker = v.optional_id("worker_id", &r.worker_id);
        v.check(
            member.is_some() || worker.is_some(),
            "member_id",
            "member_id or worker_id is required",
        );
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        if caller.is_only(WORKER) {
            // A worker sees their own links: as the member, or as the worker kept in touch with.
            let me = caller.subject.as_str();
            let own = member.map(|m| m.to_string()) == Some(me.to_owned())
                || (member.is_none() && worker.map(|w| w.to_string()) == Some(me.to_owned()));
            if !own {
                return Err(Status::permission_denied(
                    "a worker may see only their own contact links",
                ));
            }
        } else if let Some(m) = member.or(worker) {
            ensure_for_worker(&self.pool, &caller, m).await?;
        }
        let rows = store::contacts::list(&self.pool, member, worker, after, size)
            .await
            .map_err(|e| internal("listing contacts", e))?;
        let ids: Vec<Uuid> = rows
            .iter()
            .map(|l| {
                if member.is_some() {
                    l.worker_id
                } else {
                    l.member_id
                }
            })
            .collect();
        let refs: Vec<Uuid> = rows
            .iter()
            .flat_map(|x| [x.member_id, x.worker_id])
            .collect();
        let names = super::names_of(&self.pool, &caller, refs).await?;
        Ok(Response::new(pb::ListContactsResponse {
            names,
            next_page_token: kit::api::next_page_token(&ids, size),
            links: rows.into_iter().map(convert::link_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "GetContactCoverage", skip_all)]
    async fn get_contact_coverage(
        &self,
        request: Request<pb::GetContactCoverageRequest>,
    ) -> Result<Response<pb::GetContactCoverageResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let community = v.optional_id("community_id", &r.community_id);
        v.within("load_limit", r.load_limit, 0..=domain::MAX_CONTACT_LOAD);
        v.into_result()?;
        // County-wide figures are the county's; others ask for a community they serve.
        caller.ensure_community(community)?;
        ensure_known(&self.pool, Aggregate::Community, community).await?;
        let limit = if r.load_limit == 0 {
            domain::DEFAULT_CONTACT_LOAD
        } else {
            r.load_limit
        };
        let c = store::contacts::coverage(&self.pool, community, limit)
            .await
            .map_err(|e| internal("computing contact coverage", e))?;
        Ok(Response::new(convert::coverage_to_pb(c, limit)))
    }
}
