//! `EducationService`: learning sites.

use kit::{
    api::{Violations, internal, page_after, page_size},
    auth::require,
    time::to_timestamp,
};
use redsupply_proto::{
    education::v1::{self as pb, education_service_server::EducationService},
    roles::{COMMUNITY_ADMIN, COUNTY_ADMIN, GRID_OFFICER, GRID_SYSTEM, WORKER},
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    sites,
    store::{self, NewSite, SiteRow},
};

const ANYONE: &[&str] = &[
    WORKER,
    GRID_OFFICER,
    COMMUNITY_ADMIN,
    COUNTY_ADMIN,
    GRID_SYSTEM,
];

#[derive(Clone)]
pub struct Api {
    pub pool: PgPool,
}

fn site_to_pb(s: SiteRow) -> pb::LearningSite {
    pb::LearningSite {
        id: s.id.to_string(),
        name: s.name,
        community_id: s.community_id.map(|c| c.to_string()).unwrap_or_default(),
        address: s.address,
        capacity: s.capacity,
        created_at: Some(to_timestamp(s.created_at)),
    }
}

fn optional_uuid(v: &mut Violations, field: &str, value: &str) -> Option<Uuid> {
    if value.is_empty() {
        return None;
    }
    let parsed = Uuid::parse_str(value).ok();
    v.check(parsed.is_some(), field, "must be a UUID");
    parsed
}

#[tonic::async_trait]
impl EducationService for Api {
    #[tracing::instrument(name = "CreateLearningSite", skip_all)]
    async fn create_learning_site(
        &self,
        request: Request<pb::CreateLearningSiteRequest>,
    ) -> Result<Response<pb::CreateLearningSiteResponse>, Status> {
        let caller = require(&request, &[COMMUNITY_ADMIN, COUNTY_ADMIN])?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.check(!r.request_id.is_empty(), "request_id", "is required")
            .check(
                r.request_id.len() <= 128,
                "request_id",
                "must be at most 128 characters",
            );
        let name = r.name.trim();
        v.check(!name.is_empty(), "name", "is required")
            .check(
                name.chars().count() <= 100,
                "name",
                "must be at most 100 characters",
            )
            .check(
                r.address.chars().count() <= 200,
                "address",
                "must be at most 200 characters",
            )
            .check(
                (1..=10_000).contains(&r.capacity),
                "capacity",
                "must be within 1..10000",
            );
        let community_id = optional_uuid(&mut v, "community_id", &r.community_id);
        v.into_result()?;
        let row = sites::create_site(
            &self.pool,
            &caller.subject,
            &r.request_id,
            &NewSite {
                name,
                community_id,
                address: r.address.trim(),
                capacity: r.capacity,
            },
        )
        .await
        .map_err(|e| internal("creating the learning site", e))?;
        Ok(Response::new(pb::CreateLearningSiteResponse {
            site: Some(site_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListLearningSites", skip_all)]
    async fn list_learning_sites(
        &self,
        request: Request<pb::ListLearningSitesRequest>,
    ) -> Result<Response<pb::ListLearningSitesResponse>, Status> {
        require(&request, ANYONE)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let community_id = optional_uuid(&mut v, "community_id", &r.community_id);
        v.into_result()?;
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let rows = store::list_sites(&self.pool, community_id, after, size)
            .await
            .map_err(|e| internal("listing learning sites", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
        Ok(Response::new(pb::ListLearningSitesResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            sites: rows.into_iter().map(site_to_pb).collect(),
        }))
    }
}
