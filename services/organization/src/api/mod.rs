//! `redsupply.organization.v1.OrganizationService`: validation, roles, and mapping to and from the
//! registry's use cases. The other services of the package live in the submodules.

pub mod care;
pub mod enterprise;
pub mod party;
mod policy;
mod scope;

pub use policy::POLICIES;
pub(crate) use scope::{ensure_for_worker, ensure_for_workers, in_communities};

use kit::{
    api::{Violations, internal, invalid, not_found, page_after, page_size, parse_id},
    auth::caller,
    time::to_timestamp,
};
use redsupply_proto::{
    common::v1::LatLng,
    organization::v1::{self as pb, organization_service_server::OrganizationService},
    roles::{COMMUNITY_ADMIN, COUNTY_ADMIN, WORKER},
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    access_log,
    change::ChangeError,
    domain,
    personal::Vault,
    registry::{self, CommunityChange, GridChange, RegistryError},
    rules, stats,
    store::{self, CommunityRow, GridRow, NewWorker, WorkerFilter},
    townships::{self, TownshipChange, TownshipRow},
    workers::{self, ReportInRow, WorkerEdit},
};

pub struct Api {
    pool: PgPool,
    vault: Vault,
}

impl Api {
    pub fn new(pool: PgPool, vault: Vault) -> Self {
        Self { pool, vault }
    }
}

/// `community_field`: where the request named the community (its own id for UpsertCommunity,
/// which answers NOT_FOUND instead).
fn registry_status(context: &str, community_field: &str, e: RegistryError) -> Status {
    match e {
        RegistryError::UnknownCommunity(id) if community_field == "community.id" => {
            not_found("community", id)
        }
        RegistryError::UnknownCommunity(id) => {
            invalid(community_field, format!("community {id} does not exist"))
        }
        RegistryError::Change(change) => change.into_status(context),
        RegistryError::UnknownTownship(id) => invalid(
            "community.township_id",
            format!("township {id} does not exist"),
        ),
        RegistryError::Database(db) => internal(context, db),
    }
}

fn grid_to_pb(g: GridRow) -> pb::Grid {
    pb::Grid {
        id: g.id.to_string(),
        name: g.name,
        community_id: g.community_id.map(|u| u.to_string()).unwrap_or_default(),
        boundary: g
            .boundary
            .0
            .into_iter()
            .map(|(latitude, longitude)| LatLng {
                latitude,
                longitude,
            })
            .collect(),
        version: g.version,
        updated_at: Some(to_timestamp(g.updated_at)),
        deleted_at: g.deleted_at.map(to_timestamp),
    }
}

fn community_to_pb(c: CommunityRow) -> pb::Community {
    pb::Community {
        id: c.id.to_string(),
        name: c.name,
        township: c.township,
        version: c.version,
        township_id: c.township_id.map(|u| u.to_string()).unwrap_or_default(),
    }
}

fn township_to_pb(t: TownshipRow) -> pb::Township {
    pb::Township {
        id: t.id.to_string(),
        name: t.name,
        kind: i32::from(t.kind),
        version: t.version,
    }
}

fn report_in_to_pb(r: ReportInRow) -> pb::ReportIn {
    pb::ReportIn {
        id: r.id.to_string(),
        worker_id: r.worker_id.to_string(),
        community_id: r.community_id.to_string(),
        reported_at: Some(to_timestamp(r.reported_at)),
        note: r.note,
    }
}

/// Validates a free-text field of at most `max` characters (empty allowed unless `required`).
pub(crate) fn check_text(v: &mut Violations, field: &str, value: &str, max: usize, required: bool) {
    v.text(field, value, max, required);
}

/// Parses a required `YYYY-MM-DD` field.
pub(crate) fn check_date(
    v: &mut Violations,
    field: &str,
    value: &str,
) -> Option<chrono::NaiveDate> {
    match rules::parse_date(value) {
        Ok(d) => Some(d),
        Err(e) => {
            v.add(field, e);
            None
        }
    }
}

/// Every id in a repeated field, each named by its index when it is not a UUID; duplicates dropped.
pub(crate) fn check_ids(v: &mut Violations, field: &str, values: &[String]) -> Vec<Uuid> {
    let mut out = Vec::with_capacity(values.len());
    for (i, s) in values.iter().enumerate() {
        if let Some(id) = v.id(&format!("{field}[{i}]"), s)
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    out
}

fn change_status(context: &str) -> impl FnOnce(ChangeError) -> Status + '_ {
    move |e| e.into_status(context)
}

fn check_name(v: &mut Violations, field: &str, name: &str) {
    v.text(field, name, 100, true);
}

#[tonic::async_trait]
impl OrganizationService for Api {
    #[tracing::instrument(name = "RegisterWorker", skip_all)]
    async fn register_worker(
        &self,
        request: Request<pb::RegisterWorkerRequest>,
    ) -> Result<Response<pb::RegisterWorkerResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        check_name(&mut v, "name", &r.name);
        v.check(
            r.id_number.is_empty() || domain::valid_id_number(&r.id_number),
            "id_number",
            "must be a resident ID number (18 characters)",
        );
        v.check(
            domain::valid_phone(&r.phone),
            "phone",
            "must be 5 to 20 digits, optionally after '+'",
        );
        v.check(!r.platform.trim().is_empty(), "platform", "is required")
            .check(
                r.platform.chars().count() <= 64,
                "platform",
                "must be at most 64 characters",
            );
        let enterprise_id = v.optional_id(
            "enterprise_id",
            r.enterprise_id.as_deref().unwrap_or_default(),
        );
        let community_id = v.optional_id(
            "community_id",
            r.community_id.as_deref().unwrap_or_default(),
        );
        v.into_result()?;
        if caller.is_staff() && !caller.is_county() {
            // Staff register workers into a community they serve.
            caller.ensure_community(community_id)?;
        }
        let row = registry::register_worker(
            &self.pool,
            &self.vault,
            &caller.subject,
            &r.request_id,
            NewWorker {
                name: r.name.trim().to_owned(),
                phone: r.phone,
                id_number: (!r.id_number.is_empty()).then(|| r.id_number.to_ascii_uppercase()),
                platform: r.platform.trim().to_owned(),
                enterprise_id,
                community_id,
                party_member: r.party_member,
            },
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
        v.check(
            r.name.chars().count() <= 100,
            "name",
            "must be at most 100 characters",
        )
        .check(
            r.phone.is_empty() || domain::valid_phone(&r.phone),
            "phone",
            "must be 5 to 20 digits, optionally after '+'",
        );
        v.into_result()?;
        if community.is_some() {
            caller.ensure_community(community)?;
        }
        let may_see_phones = caller.is_county() || caller.has_role(COMMUNITY_ADMIN);
        if !r.phone.is_empty() && !may_see_phones {
            // An exact-match lookup would let masked callers recover the hidden digits.
            return Err(Status::permission_denied(
                "searching by phone is for staff who may see phone numbers (community or county)",
            ));
        }
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let filter = WorkerFilter {
            in_communities: in_communities(&caller),
            name: (!r.name.trim().is_empty()).then(|| r.name.trim().to_owned()),
            phone_hash: (!r.phone.is_empty()).then(|| self.vault.lookup_hash(&r.phone)),
            platform: (!r.platform.trim().is_empty()).then(|| r.platform.trim().to_owned()),
            community_id: community,
            party_member: r.party_member,
            enterprise_id,
            organization_id,
        };
        let rows = store::search_workers(&self.pool, &filter, after, size)
            .await
            .map_err(|e| internal("searching workers", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|w| w.id).collect();
        Ok(Response::new(pb::SearchWorkersResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            workers: self.worker_views(&caller, rows, "SearchWorkers").await?,
        }))
    }

    #[tracing::instrument(name = "UpsertGrid", skip_all)]
    async fn upsert_grid(
        &self,
        request: Request<pb::UpsertGridRequest>,
    ) -> Result<Response<pb::UpsertGridResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let grid = r.grid.ok_or_else(|| invalid("grid", "is required"))?;
        let mut v = Violations::new();
        let id = v.optional_id("grid.id", &grid.id);
        check_name(&mut v, "grid.name", &grid.name);
        let community_id = v.optional_id("grid.community_id", &grid.community_id);
        let boundary = match domain::normalize_boundary(&grid.boundary) {
            Ok(b) => b,
            Err(e) => {
                v.add("grid.boundary", e.to_string());
                Vec::new()
            }
        };
        v.check(
            r.request_id.len() <= 128,
            "request_id",
            "must be at most 128 characters",
        );
        v.into_result()?;
        if let Some(id) = id {
            self.ensure_grid(&caller, id).await?;
        }
        caller.ensure_community(community_id)?;
        let row = registry::upsert_grid(
            &self.pool,
            &caller.subject,
            GridChange {
                id,
                expected_version: r.expected_version,
                request_id: (!r.request_id.is_empty()).then_some(r.request_id.as_str()),
                name: grid.name.trim(),
                community_id,
                boundary: &boundary,
            },
        )
        .await
        .map_err(|e| registry_status("saving the grid", "grid.community_id", e))?;
        Ok(Response::new(pb::UpsertGridResponse {
            grid: Some(grid_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "DeleteGrid", skip_all)]
    async fn delete_grid(
        &self,
        request: Request<pb::DeleteGridRequest>,
    ) -> Result<Response<pb::DeleteGridResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let id = parse_id("id", &r.id)?;
        self.ensure_grid(&caller, id).await?;
        let row = registry::delete_grid(&self.pool, id, r.expected_version)
            .await
            .map_err(|e| registry_status("deleting the grid", "grid.community_id", e))?;
        Ok(Response::new(pb::DeleteGridResponse {
            grid: Some(grid_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "GetGrid", skip_all)]
    async fn get_grid(
        &self,
        request: Request<pb::GetGridRequest>,
    ) -> Result<Response<pb::GetGridResponse>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        let row = store::grid(&self.pool, id)
            .await
            .map_err(|e| internal("loading the grid", e))?
            .ok_or_else(|| not_found("grid", id))?;
        Ok(Response::new(pb::GetGridResponse {
            grid: Some(grid_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListGrids", skip_all)]
    async fn list_grids(
        &self,
        request: Request<pb::ListGridsRequest>,
    ) -> Result<Response<pb::ListGridsResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let community = v.optional_id("community_id", &r.community_id);
        v.into_result()?;
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let rows = store::list_grids(&self.pool, community, after, size)
            .await
            .map_err(|e| internal("listing grids", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|g| g.id).collect();
        Ok(Response::new(pb::ListGridsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            grids: rows.into_iter().map(grid_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "UpsertCommunity", skip_all)]
    async fn upsert_community(
        &self,
        request: Request<pb::UpsertCommunityRequest>,
    ) -> Result<Response<pb::UpsertCommunityResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let c = r
            .community
            .ok_or_else(|| invalid("community", "is required"))?;
        let mut v = Violations::new();
        let id = v.optional_id("community.id", &c.id);
        let township_id = v.optional_id("community.township_id", &c.township_id);
        check_name(&mut v, "community.name", &c.name);
        v.check(
            c.township.chars().count() <= 100,
            "community.township",
            "must be at most 100 characters",
        );
        v.into_result()?;
        let row = registry::upsert_community(
            &self.pool,
            &caller.subject,
            CommunityChange {
                id,
                expected_version: r.expected_version,
                request_id: (!r.request_id.is_empty()).then_some(r.request_id.as_str()),
                name: c.name.trim(),
                township: c.township.trim(),
                township_id,
            },
        )
        .await
        .map_err(|e| registry_status("saving the community", "community.id", e))?;
        Ok(Response::new(pb::UpsertCommunityResponse {
            community: Some(community_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListCommunities", skip_all)]
    async fn list_communities(
        &self,
        request: Request<pb::ListCommunitiesRequest>,
    ) -> Result<Response<pb::ListCommunitiesResponse>, Status> {
        let r = request.into_inner();
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let rows = store::list_communities(&self.pool, after, size)
            .await
            .map_err(|e| internal("listing communities", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
        Ok(Response::new(pb::ListCommunitiesResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            communities: rows.into_iter().map(community_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "UpdateWorker", skip_all)]
    async fn update_worker(
        &self,
        request: Request<pb::UpdateWorkerRequest>,
    ) -> Result<Response<pb::UpdateWorkerResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = v.id("worker_id", &r.worker_id);
        if let Some(name) = &r.name {
            check_name(&mut v, "name", name);
        }
        if let Some(phone) = &r.phone {
            v.check(
                domain::valid_phone(phone),
                "phone",
                "must be 5 to 20 digits, optionally after '+'",
            );
        }
        if let Some(n) = &r.id_number {
            v.check(
                n.is_empty() || domain::valid_id_number(n),
                "id_number",
                "must be a resident ID number (18 characters), or empty to clear it",
            );
        }
        if let Some(p) = &r.platform {
            check_text(&mut v, "platform", p, 64, true);
        }
        let enterprise_id = r
            .enterprise_id
            .as_deref()
            .map(|e| v.optional_id("enterprise_id", e));
        let staff = caller.has_role(COUNTY_ADMIN) || caller.has_role(COMMUNITY_ADMIN);
        v.check(
            r.party_member.is_none() || staff,
            "party_member",
            "only staff record party membership",
        );
        v.into_result()?;
        let id = id.expect("validated");
        self.worker_in_scope(&caller, id).await?;
        let row = workers::update(
            &self.pool,
            &self.vault,
            id,
            r.expected_version,
            WorkerEdit {
                name: r.name.map(|n| n.trim().to_owned()),
                phone: r.phone,
                id_number: r
                    .id_number
                    .map(|n| (!n.is_empty()).then(|| n.to_ascii_uppercase())),
                platform: r.platform.map(|p| p.trim().to_owned()),
                enterprise_id,
                party_member: r.party_member,
            },
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
        let row = workers::delete(&self.pool, id, r.expected_version)
            .await
            .map_err(change_status("deleting the worker"))?;
        Ok(Response::new(pb::DeleteWorkerResponse {
            worker: Some(self.worker_view(&caller, row, "DeleteWorker").await?),
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
        check_text(&mut v, "note", &r.note, 500, false);
        v.into_result()?;
        let (worker, community) = (worker.expect("validated"), community.expect("validated"));
        self.worker_in_scope(&caller, worker).await?;
        if caller.subject != worker.to_string() {
            // Staff move a worker only into a community they serve.
            caller.ensure_community(Some(community))?;
        }
        let (report, row) = workers::report_in(
            &self.pool,
            &caller.subject,
            &r.request_id,
            worker,
            community,
            r.note.trim(),
        )
        .await
        .map_err(change_status("recording the report-in"))?;
        Ok(Response::new(pb::ReportInResponse {
            report_in: Some(report_in_to_pb(report)),
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
        v.into_result()?;
        // One worker's (themself, or of a community the caller serves), or one community's.
        match worker {
            Some(w) => {
                self.worker_in_scope(&caller, w).await?;
            }
            None => caller.ensure_community(community)?,
        }
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let rows = workers::list_report_ins(&self.pool, community, worker, after, size)
            .await
            .map_err(|e| internal("listing report-ins", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        Ok(Response::new(pb::ListReportInsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            report_ins: rows.into_iter().map(report_in_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "UpsertTownship", skip_all)]
    async fn upsert_township(
        &self,
        request: Request<pb::UpsertTownshipRequest>,
    ) -> Result<Response<pb::UpsertTownshipResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let t = r
            .township
            .ok_or_else(|| invalid("township", "is required"))?;
        let mut v = Violations::new();
        let id = v.optional_id("township.id", &t.id);
        if id.is_none() {
            v.request_id(&r.request_id);
        }
        check_name(&mut v, "township.name", &t.name);
        v.check(
            matches!(
                pb::TownshipKind::try_from(t.kind),
                Ok(pb::TownshipKind::Town | pb::TownshipKind::Street)
            ),
            "township.kind",
            "must be TOWNSHIP_KIND_TOWN or TOWNSHIP_KIND_STREET",
        );
        v.into_result()?;
        let row = townships::upsert(
            &self.pool,
            &caller.subject,
            TownshipChange {
                id,
                expected_version: r.expected_version,
                request_id: &r.request_id,
                name: t.name.trim(),
                kind: t.kind as i16,
            },
        )
        .await
        .map_err(change_status("saving the township"))?;
        Ok(Response::new(pb::UpsertTownshipResponse {
            township: Some(township_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListTownships", skip_all)]
    async fn list_townships(
        &self,
        request: Request<pb::ListTownshipsRequest>,
    ) -> Result<Response<pb::ListTownshipsResponse>, Status> {
        let r = request.into_inner();
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let rows = townships::list(&self.pool, after, size)
            .await
            .map_err(|e| internal("listing townships", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        Ok(Response::new(pb::ListTownshipsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            townships: rows.into_iter().map(township_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "ListPersonalDataAccess", skip_all)]
    async fn list_personal_data_access(
        &self,
        request: Request<pb::ListPersonalDataAccessRequest>,
    ) -> Result<Response<pb::ListPersonalDataAccessResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let worker = v.optional_id("worker_id", &r.worker_id);
        check_text(&mut v, "accessor", &r.accessor, 256, false);
        let before = if r.page_token.is_empty() {
            None
        } else {
            let t = r.page_token.parse::<i64>().ok().filter(|t| *t > 0);
            v.check(
                t.is_some(),
                "page_token",
                "is not a token this call gave out",
            );
            t
        };
        v.into_result()?;
        let size = page_size(r.page_size)?;
        let accessor = r.accessor.trim();
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
            accesses: rows
                .into_iter()
                .map(|a| pb::PersonalDataAccess {
                    accessor: a.accessor,
                    accessor_roles: a.accessor_roles,
                    worker_id: a.worker_id.to_string(),
                    call: a.call,
                    accessed_at: Some(to_timestamp(a.accessed_at)),
                })
                .collect(),
        }))
    }

    #[tracing::instrument(name = "GetOrganizationStats", skip_all)]
    async fn get_organization_stats(
        &self,
        request: Request<pb::GetOrganizationStatsRequest>,
    ) -> Result<Response<pb::GetOrganizationStatsResponse>, Status> {
        let caller = caller(&request)?;
        let s = stats::compute(&self.pool, in_communities(&caller).as_deref())
            .await
            .map_err(|e| internal("computing the registry's figures", e))?;
        let n = |x: i64| i32::try_from(x).unwrap_or(i32::MAX);
        Ok(Response::new(pb::GetOrganizationStatsResponse {
            townships: n(s.townships),
            communities: n(s.communities),
            grids: n(s.grids),
            workers: n(s.workers),
            party_members: n(s.party_members),
            workers_reported_in: n(s.workers_reported_in),
            party_organizations: n(s.party_organizations),
            industry_committees: n(s.industry_committees),
            organizations_by_formation_mode: s
                .by_formation_mode
                .iter()
                .map(|(mode, count)| {
                    let name = pb::FormationMode::try_from(i32::from(*mode))
                        .unwrap_or_default()
                        .as_str_name()
                        .to_owned();
                    (name, n(*count))
                })
                .collect(),
            enterprises: n(s.enterprises),
            enterprises_surveyed: n(s.enterprises_surveyed),
            instructors: n(s.instructors),
            instructors_assigned_to_organizations: n(s.instructors_assigned_to_organizations),
            red_commissioners: n(s.red_commissioners),
            members_in_touch: n(s.members_in_touch),
            workers_in_touch: n(s.workers_in_touch),
            forums: n(s.forums),
            enterprise_issues: n(s.enterprise_issues),
            enterprise_issues_resolved: n(s.enterprise_issues_resolved),
            care_visits: n(s.care_visits),
            hardship_files: n(s.hardship_files),
            join_requests_approved: n(s.join_requests_approved),
        }))
    }
}
