//! The county's territory in `OrganizationService` (the trait impl in `registry.rs` calls here):
//! townships and streets (镇街), communities and grids, created, changed whole or field by field
//! (`update_mask`), listed, and grids deleted and restored.

use kit::{
    api::{Violations, internal, invalid, not_found, parse_id},
    auth::caller,
};
use redsupply_proto::organization::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    change_status, convert, ensure_known,
    registry::RegistryApi,
    registry_status,
    validate::{self, NAME, upsert_request_id},
};
use crate::{
    app::registry::{self, GridChange, RegistryError},
    change::Aggregate,
    store::geography,
};

/// What an update may not name in its mask: ids, versions and what the service keeps.
const GRID_KEPT: &[&str] = &["id", "version", "updated_at", "deleted_at"];
const COMMUNITY_KEPT: &[&str] = &["id", "version"];
const TOWNSHIP_KEPT: &[&str] = &["id", "version"];

/// A stored record as the API answers it, with its version: the base of a masked update.
async fn stored<R, M>(
    what: &'static str,
    id: Uuid,
    read: impl Future<Output = Result<Option<R>, sqlx::Error>>,
    to_pb: impl FnOnce(R) -> M,
    version: impl Fn(&M) -> i64,
) -> Result<(M, i64), Status> {
    let row = read
        .await
        .map_err(|e| internal(&format!("loading the {what}"), e))?
        .ok_or_else(|| not_found(what, id))?;
    let m = to_pb(row);
    let v = version(&m);
    Ok((m, v))
}

impl RegistryApi {
    pub(super) async fn upsert_grid_rpc(
        &self,
        request: Request<pb::UpsertGridRequest>,
    ) -> Result<Response<pb::UpsertGridResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let grid = r.grid.ok_or_else(|| invalid("grid", "is required"))?;
        let target = Uuid::parse_str(&grid.id).ok();
        if let Some(id) = target {
            self.ensure_grid(&caller, id).await?;
        }
        let (grid, expected_version) = kit::api::mask::merge(
            "redsupply.organization.v1.Grid",
            GRID_KEPT,
            r.update_mask.as_ref(),
            target,
            r.expected_version,
            grid,
            |id| {
                stored(
                    "grid",
                    id,
                    geography::grid(&self.pool, id),
                    convert::grid_to_pb,
                    |g| g.version,
                )
            },
        )
        .await?;
        let mut v = Violations::new();
        let id = v.optional_id("grid.id", &grid.id);
        upsert_request_id(&mut v, id.is_none(), &r.request_id);
        let name = v.line("grid.name", &grid.name, NAME, true);
        let community_id = v.optional_id("grid.community_id", &grid.community_id);
        let boundary = validate::boundary(&mut v, &grid.boundary);
        v.into_result()?;
        caller.ensure_community(community_id)?;
        let row = registry::upsert_grid(
            &self.pool,
            &caller.subject,
            &self.county,
            GridChange {
                id,
                expected_version,
                request_id: (!r.request_id.is_empty()).then_some(r.request_id.as_str()),
                name,
                community_id,
                boundary: &boundary,
            },
        )
        .await
        .map_err(|e| registry_status("saving the grid", "grid.community_id", e))?;
        Ok(Response::new(pb::UpsertGridResponse {
            grid: Some(convert::grid_to_pb(row)),
        }))
    }

    pub(super) async fn delete_grid_rpc(
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
            grid: Some(convert::grid_to_pb(row)),
        }))
    }

    pub(super) async fn restore_grid_rpc(
        &self,
        request: Request<pb::RestoreGridRequest>,
    ) -> Result<Response<pb::RestoreGridResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let id = parse_id("id", &r.id)?;
        self.ensure_grid(&caller, id).await?;
        let row = registry::restore_grid(&self.pool, &self.county, id, r.expected_version)
            .await
            .map_err(|e| match e {
                // The request names no boundary: what stands in the way is the county's layout.
                shape @ (RegistryError::Boundary(_) | RegistryError::Overlap { .. }) => {
                    Status::failed_precondition(shape.to_string())
                }
                e => registry_status("restoring the grid", "grid.community_id", e),
            })?;
        Ok(Response::new(pb::RestoreGridResponse {
            grid: Some(convert::grid_to_pb(row)),
        }))
    }

    pub(super) async fn get_grid_rpc(
        &self,
        request: Request<pb::GetGridRequest>,
    ) -> Result<Response<pb::GetGridResponse>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        let row = geography::grid(&self.pool, id)
            .await
            .map_err(|e| internal("loading the grid", e))?
            .ok_or_else(|| not_found("grid", id))?;
        Ok(Response::new(pb::GetGridResponse {
            grid: Some(convert::grid_to_pb(row)),
        }))
    }

    pub(super) async fn list_grids_rpc(
        &self,
        request: Request<pb::ListGridsRequest>,
    ) -> Result<Response<pb::ListGridsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let community = v.optional_id("community_id", &r.community_id);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        ensure_known(&self.pool, Aggregate::Community, community).await?;
        let rows = geography::list_grids(&self.pool, community, after, size)
            .await
            .map_err(|e| internal("listing grids", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|g| g.id).collect();
        let refs: Vec<Uuid> = rows.iter().filter_map(|g| g.community_id).collect();
        let names = super::names_of(&self.pool, &caller, refs).await?;
        Ok(Response::new(pb::ListGridsResponse {
            names,
            next_page_token: kit::api::next_page_token(&ids, size),
            grids: rows.into_iter().map(convert::grid_to_pb).collect(),
        }))
    }

    pub(super) async fn upsert_community_rpc(
        &self,
        request: Request<pb::UpsertCommunityRequest>,
    ) -> Result<Response<pb::UpsertCommunityResponse>, Status> {
        let caller = caller(&request)?;
        let mut r = request.into_inner();
        if let Some(c) = r.community.take() {
            let (c, expected_version) = kit::api::mask::merge(
                "redsupply.organization.v1.Community",
                COMMUNITY_KEPT,
                r.update_mask.as_ref(),
                Uuid::parse_str(&c.id).ok(),
                r.expected_version,
                c,
                |id| {
                    stored(
                        "community",
                        id,
                        geography::community(&self.pool, id),
                        convert::community_to_pb,
                        |c| c.version,
                    )
                },
            )
            .await?;
            r.community = Some(c);
            r.expected_version = expected_version;
        }
        let change = validate::community_change(&r)?;
        let row = registry::upsert_community(&self.pool, &caller.subject, change)
            .await
            .map_err(|e| registry_status("saving the community", "community.id", e))?;
        Ok(Response::new(pb::UpsertCommunityResponse {
            community: Some(convert::community_to_pb(row)),
        }))
    }

    pub(super) async fn list_communities_rpc(
        &self,
        request: Request<pb::ListCommunitiesRequest>,
    ) -> Result<Response<pb::ListCommunitiesResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let rows = geography::list_communities(&self.pool, after, size)
            .await
            .map_err(|e| internal("listing communities", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
        Ok(Response::new(pb::ListCommunitiesResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            communities: rows.into_iter().map(convert::community_to_pb).collect(),
        }))
    }

    pub(super) async fn upsert_township_rpc(
        &self,
        request: Request<pb::UpsertTownshipRequest>,
    ) -> Result<Response<pb::UpsertTownshipResponse>, Status> {
        let caller = caller(&request)?;
        let mut r = request.into_inner();
        if let Some(t) = r.township.take() {
            let (t, expected_version) = kit::api::mask::merge(
                "redsupply.organization.v1.Township",
                TOWNSHIP_KEPT,
                r.update_mask.as_ref(),
                Uuid::parse_str(&t.id).ok(),
                r.expected_version,
                t,
                |id| async move {
                    let mut conn = self
                        .pool
                        .acquire()
                        .await
                        .map_err(|e| internal("loading the township", e))?;
                    stored(
                        "township",
                        id,
                        geography::township(&mut conn, id),
                        convert::township_to_pb,
                        |t| t.version,
                    )
                    .await
                },
            )
            .await?;
            r.township = Some(t);
            r.expected_version = expected_version;
        }
        let change = validate::township_change(&r)?;
        let row = registry::upsert_township(&self.pool, &caller.subject, change)
            .await
            .map_err(change_status("saving the township"))?;
        Ok(Response::new(pb::UpsertTownshipResponse {
            township: Some(convert::township_to_pb(row)),
        }))
    }

    pub(super) async fn list_townships_rpc(
        &self,
        request: Request<pb::ListTownshipsRequest>,
    ) -> Result<Response<pb::ListTownshipsResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let rows = geography::list_townships(&self.pool, after, size)
            .await
            .map_err(|e| internal("listing townships", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        Ok(Response::new(pb::ListTownshipsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            townships: rows.into_iter().map(convert::township_to_pb).collect(),
        }))
    }
}
