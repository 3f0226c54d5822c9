//! `redsupply.organization.v1.OrganizationService`: validation, roles, and mapping to and from the
//! registry's use cases.

use kit::{
    api::{Violations, internal, invalid, not_found, page_after, page_size, parse_id},
    auth::require,
    time::to_timestamp,
};
use redsupply_proto::{
    common::v1::LatLng,
    organization::v1::{self as pb, organization_service_server::OrganizationService},
    roles::{COMMUNITY_ADMIN, COUNTY_ADMIN, GRID_OFFICER, GRID_SYSTEM, WORKER},
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain,
    personal::Vault,
    registry::{self, GridChange, RegistryError},
    store::{self, CommunityRow, GridRow, NewWorker, WorkerFilter, WorkerRow},
};

const STAFF: &[&str] = &[COMMUNITY_ADMIN, COUNTY_ADMIN];
const ANYONE: &[&str] = &[
    WORKER,
    GRID_OFFICER,
    COMMUNITY_ADMIN,
    COUNTY_ADMIN,
    GRID_SYSTEM,
];

pub struct Api {
    pool: PgPool,
    vault: Vault,
}

impl Api {
    pub fn new(pool: PgPool, vault: Vault) -> Self {
        Self { pool, vault }
    }

    /// The worker as a caller may see it: personal numbers opened, and masked unless `in_clear`.
    fn worker_to_pb(&self, w: WorkerRow, in_clear: bool) -> pb::Worker {
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
            phone: open(&w.phone_sealed, domain::mask_phone),
            id_number: open(&w.id_number_sealed, domain::mask_id_number),
            platform: w.platform,
            enterprise_id: w.enterprise_id.map(|u| u.to_string()).unwrap_or_default(),
            community_id: w.community_id.map(|u| u.to_string()).unwrap_or_default(),
            party_member: w.party_member,
            version: w.version,
            registered_at: Some(to_timestamp(w.registered_at)),
        }
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
        RegistryError::UnknownGrid(id) => not_found("grid", id),
        RegistryError::DeletedGrid(_) => Status::failed_precondition(e.to_string()),
        RegistryError::StaleGrid { .. } => Status::aborted(e.to_string()),
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
    }
}

fn check_name(v: &mut Violations, field: &str, name: &str) {
    let len = name.trim().chars().count();
    v.check(len > 0, field, "is required").check(
        len <= 100,
        field,
        "must be at most 100 characters",
    );
}

#[tonic::async_trait]
impl OrganizationService for Api {
    #[tracing::instrument(name = "RegisterWorker", skip_all)]
    async fn register_worker(
        &self,
        request: Request<pb::RegisterWorkerRequest>,
    ) -> Result<Response<pb::RegisterWorkerResponse>, Status> {
        let caller = require(&request, &[WORKER, COMMUNITY_ADMIN, COUNTY_ADMIN])?;
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
        Ok(Response::new(pb::RegisterWorkerResponse {
            worker: Some(self.worker_to_pb(row, true)),
        }))
    }

    #[tracing::instrument(name = "GetWorker", skip_all)]
    async fn get_worker(
        &self,
        request: Request<pb::GetWorkerRequest>,
    ) -> Result<Response<pb::GetWorkerResponse>, Status> {
        let caller = require(
            &request,
            &[WORKER, GRID_OFFICER, COMMUNITY_ADMIN, COUNTY_ADMIN],
        )?;
        let id = parse_id("id", &request.get_ref().id)?;
        let is_self = caller.subject == id.to_string();
        if caller.is_only(WORKER) && !is_self {
            return Err(Status::permission_denied(
                "a worker may read only their own record",
            ));
        }
        let row = store::worker(&self.pool, id)
            .await
            .map_err(|e| internal("loading the worker", e))?
            .ok_or_else(|| not_found("worker", id))?;
        let show_phone =
            is_self || caller.has_role(COUNTY_ADMIN) || caller.has_role(COMMUNITY_ADMIN);
        Ok(Response::new(pb::GetWorkerResponse {
            worker: Some(self.worker_to_pb(row, show_phone)),
        }))
    }

    #[tracing::instrument(name = "SearchWorkers", skip_all)]
    async fn search_workers(
        &self,
        request: Request<pb::SearchWorkersRequest>,
    ) -> Result<Response<pb::SearchWorkersResponse>, Status> {
        let caller = require(&request, &[GRID_OFFICER, COMMUNITY_ADMIN, COUNTY_ADMIN])?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let community = v.optional_id("community_id", &r.community_id);
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
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let filter = WorkerFilter {
            name: (!r.name.trim().is_empty()).then(|| r.name.trim().to_owned()),
            phone_hash: (!r.phone.is_empty()).then(|| self.vault.lookup_hash(&r.phone)),
            platform: (!r.platform.trim().is_empty()).then(|| r.platform.trim().to_owned()),
            community_id: community,
            party_member: r.party_member,
        };
        let rows = store::search_workers(&self.pool, &filter, after, size)
            .await
            .map_err(|e| internal("searching workers", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|w| w.id).collect();
        let in_clear = caller.has_role(COUNTY_ADMIN) || caller.has_role(COMMUNITY_ADMIN);
        Ok(Response::new(pb::SearchWorkersResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            workers: rows
                .into_iter()
                .map(|w| self.worker_to_pb(w, in_clear))
                .collect(),
        }))
    }

    #[tracing::instrument(name = "UpsertGrid", skip_all)]
    async fn upsert_grid(
        &self,
        request: Request<pb::UpsertGridRequest>,
    ) -> Result<Response<pb::UpsertGridResponse>, Status> {
        let caller = require(&request, STAFF)?;
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
        require(&request, STAFF)?;
        let r = request.into_inner();
        let id = parse_id("id", &r.id)?;
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
        require(&request, ANYONE)?;
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
        require(&request, ANYONE)?;
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
        let caller = require(&request, &[COUNTY_ADMIN])?;
        let r = request.into_inner();
        let c = r
            .community
            .ok_or_else(|| invalid("community", "is required"))?;
        let mut v = Violations::new();
        let id = v.optional_id("community.id", &c.id);
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
            (!r.request_id.is_empty()).then_some(r.request_id.as_str()),
            id,
            c.name.trim(),
            c.township.trim(),
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
        require(&request, ANYONE)?;
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
}
