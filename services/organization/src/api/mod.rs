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
    api::{Violations, internal, invalid, not_found, page_size, parse_id},
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

use crate::app::registry::{self, CommunityChange, GridChange, RegistryError};
use crate::store::{access_log, geography, stats, workers};
use crate::{
    change::{self, Aggregate, ChangeError},
    domain,
    personal::Vault,
};

pub struct Api {
    pool: PgPool,
    vault: Vault,
    /// Where the county lies and what its grids may be.
    county: kit::settings::CountySettings,
    /// Searches by phone number per caller and minute.
    phone_searches: kit::limit::RateLimit,
}

impl Api {
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
        RegistryError::UnknownEnterprise(id) => {
            invalid("enterprise_id", format!("enterprise {id} does not exist"))
        }
        shape @ (RegistryError::Boundary(_) | RegistryError::Overlap { .. }) => {
            invalid("grid.boundary", shape.to_string())
        }
        RegistryError::Database(db) => internal(context, db),
    }
}

fn grid_to_pb(g: geography::GridRow) -> pb::Grid {
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

fn community_to_pb(c: geography::CommunityRow) -> pb::Community {
    pb::Community {
        id: c.id.to_string(),
        name: c.name,
        township: c.township,
        version: c.version,
        township_id: c.township_id.map(|u| u.to_string()).unwrap_or_default(),
    }
}

fn township_to_pb(t: geography::TownshipRow) -> pb::Township {
    pb::Township {
        id: t.id.to_string(),
        name: t.name,
        kind: i32::from(t.kind),
        version: t.version,
    }
}

fn report_in_to_pb(r: workers::ReportInRow) -> pb::ReportIn {
    pb::ReportIn {
        id: r.id.to_string(),
        worker_id: r.worker_id.to_string(),
        community_id: r.community_id.to_string(),
        reported_at: Some(to_timestamp(r.reported_at)),
        note: r.note,
    }
}

/// Bounds of text fields, in characters (once trimmed).
pub(crate) const NAME: usize = 100;
/// Titles of forums, issues and courses; addresses.
pub(crate) const TITLE: usize = 200;
/// Short labels: a platform, a brand, an occasion, a kind of help.
pub(crate) const LABEL: usize = 64;
/// Notes and reasons given with a request.
pub(crate) const NOTE: usize = 500;
/// Descriptions, situations, outcomes.
pub(crate) const TEXT: usize = 2_000;
/// Phone numbers are at most 21 characters; a longer line is refused before its shape is read.
const PHONE: usize = 32;
/// Resident ID numbers: 18 characters (15 in the old style).
const ID_NUMBER: usize = 18;
/// Most ids one repeated reference field holds (an organization's or a guide's enterprises, a
/// forum's enterprises).
pub(crate) const MAX_REFERENCES: usize = 200;

const PHONE_SHAPE: &str = "must be 5 to 20 digits, optionally after '+'";

/// A one-line text of a fixed shape (a phone number, an ID number): bounded and refused with
/// control characters as [`Violations::line`], then `valid`; one violation either way. Returns
/// the trimmed text (empty when absent).
fn shaped<'a>(
    v: &mut Violations,
    field: &str,
    value: &'a str,
    (max, required): (usize, bool),
    valid: fn(&str) -> bool,
    shape: &str,
) -> &'a str {
    let mut probe = Violations::new();
    let trimmed = probe.line(field, value, max, required);
    if !probe.is_empty() {
        v.line(field, value, max, required);
    } else if !trimmed.is_empty() && !valid(trimmed) {
        v.add(field, shape);
    }
    trimmed
}

/// A phone number (digits with an optional leading '+').
fn phone<'a>(v: &mut Violations, field: &str, value: &'a str, required: bool) -> &'a str {
    shaped(
        v,
        field,
        value,
        (PHONE, required),
        domain::numbers::valid_phone,
        PHONE_SHAPE,
    )
}

/// An optional resident ID number; `shape` says what the field accepts.
fn id_number<'a>(v: &mut Violations, value: &'a str, shape: &str) -> &'a str {
    shaped(
        v,
        "id_number",
        value,
        (ID_NUMBER, false),
        domain::numbers::valid_id_number,
        shape,
    )
}

/// An upsert's `request_id`: required to create (no id given), optional to update; bounded
/// either way.
pub(crate) fn upsert_request_id(v: &mut Violations, creating: bool, value: &str) {
    if creating {
        v.request_id(value);
    } else {
        v.optional_request_id(value);
    }
}

/// Parses a required `YYYY-MM-DD` field.
pub(crate) fn check_date(
    v: &mut Violations,
    field: &str,
    value: &str,
) -> Option<chrono::NaiveDate> {
    // A date is ten characters: anything much longer is refused before it is parsed.
    let parsed = if value.len() > 16 {
        Err("must be a date as YYYY-MM-DD")
    } else {
        domain::calendar::parse_date(value)
    };
    match parsed {
        Ok(d) => Some(d),
        Err(e) => {
            v.add(field, e);
            None
        }
    }
}

/// The SMALLINT a validated enum value is stored as (every defined value fits).
fn stored<E: Into<i32>>(value: E) -> i16 {
    i16::try_from(value.into()).unwrap_or(i16::MAX)
}

/// A required enum field, as stored: a defined value other than `UNSPECIFIED`.
pub(crate) fn enum_value<E: TryFrom<i32> + Into<i32>>(
    v: &mut Violations,
    field: &str,
    value: i32,
) -> Option<i16> {
    v.enumeration::<E>(field, value, false).map(stored)
}

/// An optional enum filter, as stored: 0 means any; anything else must be a defined value.
pub(crate) fn enum_filter<E: TryFrom<i32> + Into<i32>>(
    v: &mut Violations,
    field: &str,
    value: i32,
) -> Option<i16> {
    v.enumeration::<E>(field, value, true).map(stored)
}

/// NOT_FOUND when `id` (if given) names no `what` ever recorded: a list filtered by an unknown
/// id answers as a read of that id would.
pub(crate) async fn ensure_known(
    pool: &PgPool,
    what: Aggregate,
    id: Option<Uuid>,
) -> Result<(), Status> {
    let Some(id) = id else {
        return Ok(());
    };
    if change::recorded(pool, what, id)
        .await
        .map_err(|e| internal("checking the id", e))?
    {
        Ok(())
    } else {
        Err(not_found(what.name(), id))
    }
}

fn change_status(context: &str) -> impl FnOnce(ChangeError) -> Status + '_ {
    move |e| e.into_status(context)
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
        let name = v.line("name", &r.name, NAME, true);
        let id_number = id_number(
            &mut v,
            &r.id_number,
            "must be a resident ID number (18 characters)",
        );
        let phone = phone(&mut v, "phone", &r.phone, true);
        let platform = v.line("platform", &r.platform, LABEL, true);
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
            workers::NewWorker {
                name: name.to_owned(),
                phone: phone.to_owned(),
                id_number: (!id_number.is_empty()).then(|| id_number.to_ascii_uppercase()),
                platform: platform.to_owned(),
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
        let name = v.line("name", &r.name, NAME, false);
        let phone = phone(&mut v, "phone", &r.phone, false);
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
            phone_hash: (!phone.is_empty()).then(|| self.vault.lookup_hash(phone)),
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
        upsert_request_id(&mut v, id.is_none(), &r.request_id);
        let name = v.line("grid.name", &grid.name, NAME, true);
        let community_id = v.optional_id("grid.community_id", &grid.community_id);
        let boundary = if v.count(
            "grid.boundary",
            &grid.boundary,
            domain::boundary::MAX_BOUNDARY_POINTS,
        ) {
            domain::boundary::normalize_boundary(&grid.boundary).unwrap_or_else(|e| {
                v.add("grid.boundary", e.to_string());
                Vec::new()
            })
        } else {
            Vec::new()
        };
        v.into_result()?;
        if let Some(id) = id {
            self.ensure_grid(&caller, id).await?;
        }
        caller.ensure_community(community_id)?;
        let row = registry::upsert_grid(
            &self.pool,
            &caller.subject,
            &self.county,
            GridChange {
                id,
                expected_version: r.expected_version,
                request_id: (!r.request_id.is_empty()).then_some(r.request_id.as_str()),
                name,
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
        let row = geography::grid(&self.pool, id)
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
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        ensure_known(&self.pool, Aggregate::Community, community).await?;
        let rows = geography::list_grids(&self.pool, community, after, size)
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
        upsert_request_id(&mut v, id.is_none(), &r.request_id);
        let name = v.line("community.name", &c.name, NAME, true);
        let township = v.line("community.township", &c.township, NAME, false);
        v.into_result()?;
        let row = registry::upsert_community(
            &self.pool,
            &caller.subject,
            CommunityChange {
                id,
                expected_version: r.expected_version,
                request_id: (!r.request_id.is_empty()).then_some(r.request_id.as_str()),
                name,
                township,
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
        let mut v = Violations::new();
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let rows = geography::list_communities(&self.pool, after, size)
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
        let name = r.name.as_deref().map(|n| v.line("name", n, NAME, true));
        let phone = r.phone.as_deref().map(|p| phone(&mut v, "phone", p, true));
        let id_number = r.id_number.as_deref().map(|n| {
            id_number(
                &mut v,
                n,
                "must be a resident ID number (18 characters), or empty to clear it",
            )
        });
        let platform = r
            .platform
            .as_deref()
            .map(|p| v.line("platform", p, LABEL, true));
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
        let row = registry::update_worker(
            &self.pool,
            &self.vault,
            id,
            r.expected_version,
            workers::WorkerEdit {
                name: name.map(str::to_owned),
                phone: phone.map(str::to_owned),
                id_number: id_number.map(|n| (!n.is_empty()).then(|| n.to_ascii_uppercase())),
                platform: platform.map(str::to_owned),
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
        let row = registry::delete_worker(&self.pool, id, r.expected_version)
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
        upsert_request_id(&mut v, id.is_none(), &r.request_id);
        let name = v.line("township.name", &t.name, NAME, true);
        // Towns and streets are every kind the contract defines.
        let kind = enum_value::<pb::TownshipKind>(&mut v, "township.kind", t.kind);
        v.into_result()?;
        let row = registry::upsert_township(
            &self.pool,
            &caller.subject,
            registry::TownshipChange {
                id,
                expected_version: r.expected_version,
                request_id: &r.request_id,
                name,
                kind: kind.expect("validated"),
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
        let mut v = Violations::new();
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let rows = geography::list_townships(&self.pool, after, size)
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
        let accessor = v.line("accessor", &r.accessor, 256, false);
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
