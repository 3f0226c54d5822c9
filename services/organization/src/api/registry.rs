//! `redsupply.organization.v1.OrganizationService`: workers (registration, reads, searches,
//! edits, report-ins and who saw their personal numbers), the county's territory (townships,
//! communities, grids, in `territory.rs`) and the registry's headline figures. Per RPC: the
//! caller's scope, the request into a typed command (`validate`), the use case (`app::registry`)
//! or a read of `store`, the rows into protobuf (`convert`).

use kit::{
    api::{Violations, internal, page_size, parse_id},
    auth::caller,
};
use redsupply_proto::{
    organization::v1::{self as pb, organization_service_server::OrganizationService},
    roles::{COMMUNITY_ADMIN, COUNTY_ADMIN, WORKER},
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    change_status, convert, ensure_known, in_communities, registry_status,
    validate::{self, LABEL, NAME, NOTE},
};
use crate::{
    app::registry,
    change::Aggregate,
    domain::personal::Vault,
    store::{access_log, workers},
};

pub struct RegistryApi {
    /// Shared with the scope checks and worker views of `scope.rs`.
    pub(super) pool: PgPool,
    pub(super) vault: Vault,
    /// Where the county lies and what its grids may be.
    pub(super) county: kit::settings::CountySettings,
    /// Searches by phone number per caller and minute.
    phone_searches: kit::limit::RateLimit,
}

impl RegistryApi {
    pub fn new(
        pool: PgPool,
        vault: Vault,
        county: kit::settings::CountySettings,
        phone_searches_per_minute: u32,
    ) -> Self {
        Self {
            pool,
            vault,
            county,
            phone_searches: kit::limit::RateLimit::new(
                "searches by phone",
                phone_searches_per_minute,
                std::time::Duration::from_secs(60),
            ),
        }
    }
}

#[tonic::async_trait]
impl OrganizationService for RegistryApi {
    #[tracing::instrument(name = "RegisterWorker", skip_all)]
    async fn register_worker(
        &self,
        request: Request<pb::RegisterWorkerRequest>,
    ) -> Result<Response<pb::RegisterWorkerResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let worker = validate::new_worker(&r)?;
        super::scope::may_record_membership(&caller, worker.party_member)?;
        if caller.is_staff() && !caller.is_county() {
            // Staff register workers into a community they serve.
            caller.ensure_community(worker.community_id)?;
        }
        let row = registry::register_worker(
            &self.pool,
            &self.vault,
            &caller.subject,
            &r.request_id,
            worker,
        )
        .await
        .map_err(|e| registry_status("registering the worker", "community_id", e))?;
        if !caller.is_staff() {
            // The worker's own registration, as they typed it.
            return Ok(Response::new(pb::RegisterWorkerResponse {
                worker: Some(self.worker_to_pb(row, true)),
            }));
        }
        // A replayed request answers with the record as it is now: only within scope, and logged.
        caller.ensure_for_worker(row.id, row.community_id)?;
        Ok(Response::new(pb::RegisterWorkerResponse {
            worker: Some(self.worker_view(&caller, row, "RegisterWorker").await?),
        }))
    }

    #[tracing::instrument(name = "GetWorker", skip_all)]
    async fn get_worker(
        &self,
        request: Request<pb::GetWorkerRequest>,
    ) -> Result<Response<pb::GetWorkerResponse>, Status> {
        let caller = caller(&request)?;
        let id = parse_id("id", &request.get_ref().id)?;
        let is_self = caller.subject == id.to_string();
        if caller.is_only(WORKER) && !is_self {
            return Err(Status::permission_denied(
                "a worker may read only their own record",
            ));
        }
        let row = self.worker_in_scope(&caller, id).await?;
        Ok(Response::new(pb::GetWorkerResponse {
            worker: Some(self.worker_view(&caller, row, "GetWorker").await?),
        }))
    }

    #[tracing::instrument(name = "SearchWorkers", skip_all)]
    async fn search_workers(
        &self,
        request: Request<pb::SearchWorkersRequest>,
    ) -> Result<Response<pb::SearchWorkersResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let community = v.optional_id("community_id", &r.community_id);
        let enterprise_id = v.optional_id("enterprise_id", &r.enterprise_id);
        let organization_id = v.optional_id("organization_id", &r.organization_id);
        let name = v.line("name", &r.name, NAME, false);
        let phone = validate::phone(&mut v, "phone", &r.phone, false);
        let platform = v.line("platform", &r.platform, LABEL, false);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        if community.is_some() {
            caller.ensure_community(community)?;
        }
        ensure_known(&self.pool, Aggregate::Community, community).await?;
        ensure_known(&self.pool, Aggregate::Enterprise, enterprise_id).await?;
        ensure_known(&self.pool, Aggregate::Organization, organization_id).await?;
        let may_see_phones = caller.is_county() || caller.has_role(COMMUNITY_ADMIN);
        if !phone.is_empty() && !may_see_phones {
            // An exact-match lookup would let masked callers recover the hidden digits.
            return Err(Status::permission_denied(
                "searching by phone is for staff who may see phone numbers (community or county)",
            ));
        }
        if !phone.is_empty() {
            // Each answer says whether a number is registered: bounded, so no one walks the
            // number space.
            self.phone_searches.check(&caller.subject)?;
        }
        let filter = workers::WorkerFilter {
            in_communities: in_communities(&caller),
            name_pattern: (!name.is_empty()).then(|| kit::api::contains_pattern(name)),
            phone_hashes: (!phone.is_empty()).then(|| self.vault.lookup_hashes(phone)),
            platform: (!platform.is_empty()).then(|| platform.to_owned()),
            community_id: community,
            party_member: r.party_member,
            enterprise_id,
            organization_id,
        };
        let rows = workers::search_workers(&self.pool, &filter, after, size)
            .await
            .map_err(|e| internal("searching workers", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|w| w.id).collect();
        let refs: Vec<Uuid> = rows
            .iter()
            .flat_map(|w| [w.enterprise_id, w.community_id, w.organization_id])
            .flatten()
            .collect();
        let names = super::names_of(&self.pool, &caller, refs).await?;
        Ok(Response::new(pb::SearchWorkersResponse {
            names,
            next_page_token: kit::api::next_page_token(&ids, size),
            workers: self.worker_views(&caller, rows, "SearchWorkers").await?,
        }))
    }

    #[tracing::instrument(name = "UpsertGrid", skip_all)]
    async fn upsert_grid(
        &self,
        request: Request<pb::UpsertGridRequest>,
    ) -> Result<Response<pb::UpsertGridResponse>, Status> {
        self.upsert_grid_rpc(request).await
    }

    #[tracing::instrument(name = "DeleteGrid", skip_all)]
    async fn delete_grid(
        &self,
        request: Request<pb::DeleteGridRequest>,
    ) -> Result<Response<pb::DeleteGridResponse>, Status> {
        self.delete_grid_rpc(request).await
    }

    #[tracing::instrument(name = "RestoreGrid", skip_all)]
    async fn restore_grid(
        &self,
        request: Request<pb::RestoreGridRequest>,
    ) -> Result<Response<pb::RestoreGridResponse>, Status> {
        self.restore_grid_rpc(request).await
    }

    #[tracing::instrument(name = "GetGrid", skip_all)]
    async fn get_grid(
        &self,
        request: Request<pb::GetGridRequest>,
    ) -> Result<Response<pb::GetGridResponse>, Status> {
        self.get_grid_rpc(request).await
    }

    #[tracing::instrument(name = "ListGrids", skip_all)]
    async fn list_grids(
        &self,
        request: Request<pb::ListGridsRequest>,
    ) -> Result<Response<pb::ListGridsResponse>, Status> {
        self.list_grids_rpc(request).await
    }

    #[tracing::instrument(name = "UpsertCommunity", skip_all)]
    async fn upsert_community(
        &self,
        request: Request<pb::UpsertCommunityRequest>,
    ) -> Result<Response<pb::UpsertCommunityResponse>, Status> {
        self.upsert_community_rpc(request).await
    }

    #[tracing::instrument(name = "ListCommunities", skip_all)]
    async fn list_communities(
        &self,
        request: Request<pb::ListCommunitiesRequest>,
    ) -> Result<Response<pb::ListCommunitiesResponse>, Status> {
        self.list_communities_rpc(request).await
    }

    #[tracing::instrument(name = "UpdateWorker", skip_all)]
    async fn update_worker(
        &self,
        request: Request<pb::UpdateWorkerRequest>,
    ) -> Result<Response<pb::UpdateWorkerResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let staff = caller.has_role(COUNTY_ADMIN) || caller.has_role(COMMUNITY_ADMIN);
        let (id, edit) = validate::worker_edit(&r, staff)?;
        self.worker_in_scope(&caller, id).await?;
        let row = registry::update_worker(
            &self.pool,
            &self.vault,
            &caller.subject,
            id,
            r.expected_version,
            edit,
        )
        .await
        .map_err(change_status("updating the worker"))?;
        Ok(Response::new(pb::UpdateWorkerResponse {
            worker: Some(self.worker_view(&caller, row, "UpdateWorker").await?),
        }))
    }

    #[tracing::instrument(name = "DeleteWorker", skip_all)]
    async fn delete_worker(
        &self,
        request: Request<pb::DeleteWorkerRequest>,
    ) -> Result<Response<pb::DeleteWorkerResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let id = parse_id("worker_id", &r.worker_id)?;
        self.worker_in_scope(&caller, id).await?;
        let row = registry::delete_worker(&self.pool, id, r.expected_version)
            .await
            .map_err(change_status("deleting the worker"))?;
        Ok(Response::new(pb::DeleteWorkerResponse {
            worker: Some(self.worker_view(&caller, row, "DeleteWorker").await?),
        }))
    }

    #[tracing::instrument(name = "RestoreWorker", skip_all)]
    async fn restore_worker(
        &self,
        request: Request<pb::RestoreWorkerRequest>,
    ) -> Result<Response<pb::RestoreWorkerResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let id = parse_id("worker_id", &r.worker_id)?;
        self.worker_in_scope(&caller, id).await?;
        let row = registry::restore_worker(&self.pool, &caller.subject, id, r.expected_version)
            .await
            .map_err(change_status("restoring the worker"))?;
        Ok(Response::new(pb::RestoreWorkerResponse {
            worker: Some(self.worker_view(&caller, row, "RestoreWorker").await?),
        }))
    }

    #[tracing::instrument(name = "ReportIn", skip_all)]
    async fn report_in(
        &self,
        request: Request<pb::ReportInRequest>,
    ) -> Result<Response<pb::ReportInResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let worker = v.id("worker_id", &r.worker_id);
        let community = v.id("community_id", &r.community_id);
        let note = v.text("note", &r.note, NOTE, false);
        v.into_result()?;
        let (worker, community) = (worker.expect("validated"), community.expect("validated"));
        self.worker_in_scope(&caller, worker).await?;
        if caller.subject != worker.to_string() {
            // Staff move a worker only into a community they serve.
            caller.ensure_community(Some(community))?;
        }
        let (report, row) = registry::report_in(
            &self.pool,
            &caller.subject,
            &r.request_id,
            worker,
            community,
            note,
        )
        .await
        .map_err(change_status("recording the report-in"))?;
        Ok(Response::new(pb::ReportInResponse {
            report_in: Some(convert::report_in_to_pb(report)),
            worker: Some(self.worker_view(&caller, row, "ReportIn").await?),
        }))
    }

    #[tracing::instrument(name = "ListReportIns", skip_all)]
    async fn list_report_ins(
        &self,
        request: Request<pb::ListReportInsRequest>,
    ) -> Result<Response<pb::ListReportInsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let community = v.optional_id("community_id", &r.community_id);
        let worker = v.optional_id("worker_id", &r.worker_id);
        v.check(
            !caller.is_only(WORKER) || worker.is_some(),
            "worker_id",
            "a worker lists only their own report-ins",
        );
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        // One worker's (themself, or of a community the caller serves), or one community's.
        match worker {
            Some(w) => {
                self.worker_in_scope(&caller, w).await?;
            }
            None => caller.ensure_community(community)?,
        }
        ensure_known(&self.pool, Aggregate::Community, community).await?;
        let rows = workers::list_report_ins(&self.pool, community, worker, after, size)
            .await
            .map_err(|e| internal("listing report-ins", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        Ok(Response::new(pb::ListReportInsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            report_ins: rows.into_iter().map(convert::report_in_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "UpsertTownship", skip_all)]
    async fn upsert_township(
        &self,
        request: Request<pb::UpsertTownshipRequest>,
    ) -> Result<Response<pb::UpsertTownshipResponse>, Status> {
        self.upsert_township_rpc(request).await
    }

    #[tracing::instrument(name = "ListTownships", skip_all)]
    async fn list_townships(
        &self,
        request: Request<pb::ListTownshipsRequest>,
    ) -> Result<Response<pb::ListTownshipsResponse>, Status> {
        self.list_townships_rpc(request).await
    }

    #[tracing::instrument(name = "ListPersonalDataAccess", skip_all)]
    async fn list_personal_data_access(
        &self,
        request: Request<pb::ListPersonalDataAccessRequest>,
    ) -> Result<Response<pb::ListPersonalDataAccessResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let worker = v.optional_id("worker_id", &r.worker_id);
        let accessor = v.line("accessor", &r.accessor, 256, false);
        let before = validate::access_page(&mut v, &r.page_token);
        v.into_result()?;
        ensure_known(&self.pool, Aggregate::Worker, worker).await?;
        let size = page_size(r.page_size)?;
        let rows = access_log::list(
            &self.pool,
            worker,
            (!accessor.is_empty()).then_some(accessor),
            before,
            size,
        )
        .await
        .map_err(|e| internal("listing personal data access", e))?;
        let next_page_token = if rows.len() as i64 == size {
            rows.last().map(|a| a.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListPersonalDataAccessResponse {
            next_page_token,
            accesses: rows.into_iter().map(convert::access_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "GetOrganizationStats", skip_all)]
    async fn get_organization_stats(
        &self,
        request: Request<pb::GetOrganizationStatsRequest>,
    ) -> Result<Response<pb::GetOrganizationStatsResponse>, Status> {
        self.organization_stats_rpc(request).await
    }
}
