//! `redsupply.organization.v1.EnterpriseService`: enterprises with their five-clears ledger, census
//! visits (in `records.rs`, with corrections and withdrawals), forums and enterprise issues. Per RPC: the caller's scope, the request checked, the use
//! case (`app::enterprise`) or a read of `store`, the rows into protobuf (`convert`).

use kit::{
    api::{Violations, internal, invalid, not_found, parse_id},
    auth::{Caller, caller},
};
use redsupply_proto::organization::v1::{self as pb, enterprise_service_server::EnterpriseService};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    convert::{enterprise_to_pb, forum_to_pb, issue_to_pb},
    ensure_known, in_communities,
    validate::{
        LABEL, MAX_REFERENCES, NAME, NOTE, TEXT, TITLE, check_past_date, enum_filter, enum_value,
        upsert_request_id,
    },
};
use crate::{
    app::enterprise,
    change::Aggregate,
    domain,
    store::{self, forums},
};

pub struct EnterpriseApi {
    pub(super) pool: PgPool,
    /// What "today" is: census visits, forums and issues are not dated after it.
    pub(super) county: kit::settings::CountySettings,
}

/// What an update may not name in its mask: ids, versions, and the ledger census visits keep.
const ENTERPRISE_KEPT: &[&str] = &["id", "version", "updated_at", "deleted_at", "ledger"];

impl EnterpriseApi {
    pub fn new(pool: PgPool, county: kit::settings::CountySettings) -> Self {
        Self { pool, county }
    }

    /// The stored enterprise as the API answers it, with its version (a masked update's base).
    async fn enterprise_pb(&self, id: Uuid) -> Result<(pb::Enterprise, i64), Status> {
        let fail = |e| internal("loading the enterprise", e);
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        let row = store::enterprises::get(&mut conn, id)
            .await
            .map_err(fail)?
            .ok_or_else(|| not_found("enterprise", id))?;
        let version = row.version;
        Ok((enterprise_to_pb(row), version))
    }

    /// PERMISSION_DENIED unless the enterprise's community is in the caller's scope; NOT_FOUND
    /// when there is no such enterprise.
    pub(super) async fn ensure_enterprise(&self, caller: &Caller, id: Uuid) -> Result<(), Status> {
        let community = store::enterprises::community_of(&self.pool, id)
            .await
            .map_err(|e| internal("checking the caller's scope", e))?
            .ok_or_else(|| not_found("enterprise", id))?;
        caller.ensure_community(community)
    }
}

#[tonic::async_trait]
impl EnterpriseService for EnterpriseApi {
    #[tracing::instrument(name = "UpsertEnterprise", skip_all)]
    async fn upsert_enterprise(
        &self,
        request: Request<pb::UpsertEnterpriseRequest>,
    ) -> Result<Response<pb::UpsertEnterpriseResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let e = r
            .enterprise
            .ok_or_else(|| invalid("enterprise", "is required"))?;
        let (e, expected_version) = kit::api::mask::merge(
            "redsupply.organization.v1.Enterprise",
            ENTERPRISE_KEPT,
            r.update_mask.as_ref(),
            Uuid::parse_str(&e.id).ok(),
            r.expected_version,
            e,
            |id| self.enterprise_pb(id),
        )
        .await?;
        let mut v = Violations::new();
        let id = v.optional_id("enterprise.id", &e.id);
        upsert_request_id(&mut v, id.is_none(), &r.request_id);
        let name = v.line("enterprise.name", &e.name, NAME, true);
        let brand = v.line("enterprise.brand", &e.brand, LABEL, false);
        let address = v.line("enterprise.address", &e.address, TITLE, false);
        // Express outlets, delivery stations and internet companies: every kind defined.
        let kind = enum_value::<pb::EnterpriseKind>(&mut v, "enterprise.kind", e.kind);
        let community_id = v.optional_id("enterprise.community_id", &e.community_id);
        v.into_result()?;
        if let Some(id) = id {
            self.ensure_enterprise(&caller, id).await?;
        }
        caller.ensure_community(community_id)?;
        let row = enterprise::upsert_enterprise(
            &self.pool,
            &caller.subject,
            enterprise::EnterpriseChange {
                id,
                expected_version,
                request_id: &r.request_id,
                name,
                kind: kind.expect("validated"),
                brand,
                community_id,
                address,
            },
        )
        .await
        .map_err(|e| e.into_status("saving the enterprise"))?;
        Ok(Response::new(pb::UpsertEnterpriseResponse {
            enterprise: Some(enterprise_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "GetEnterprise", skip_all)]
    async fn get_enterprise(
        &self,
        request: Request<pb::GetEnterpriseRequest>,
    ) -> Result<Response<pb::GetEnterpriseResponse>, Status> {
        let caller = caller(&request)?;
        let id = parse_id("id", &request.get_ref().id)?;
        self.ensure_enterprise(&caller, id).await?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| internal("loading the enterprise", e))?;
        let row = store::enterprises::get(&mut conn, id)
            .await
            .map_err(|e| internal("loading the enterprise", e))?
            .ok_or_else(|| not_found("enterprise", id))?;
        Ok(Response::new(pb::GetEnterpriseResponse {
            enterprise: Some(enterprise_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListEnterprises", skip_all)]
    async fn list_enterprises(
        &self,
        request: Request<pb::ListEnterprisesRequest>,
    ) -> Result<Response<pb::ListEnterprisesResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let community_id = v.optional_id("community_id", &r.community_id);
        let kind = enum_filter::<pb::EnterpriseKind>(&mut v, "kind", r.kind);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        if community_id.is_some() {
            caller.ensure_community(community_id)?;
        }
        ensure_known(&self.pool, Aggregate::Community, community_id).await?;
        let filter = store::enterprises::EnterpriseFilter {
            kind,
            community_id,
            surveyed_only: r.surveyed_only,
            in_communities: in_communities(&caller),
        };
        let rows = store::enterprises::list(&self.pool, &filter, after, size)
            .await
            .map_err(|e| internal("listing enterprises", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        let refs: Vec<Uuid> = rows.iter().filter_map(|x| x.community_id).collect();
        let names = super::names_of(&self.pool, &caller, refs).await?;
        Ok(Response::new(pb::ListEnterprisesResponse {
            names,
            next_page_token: kit::api::next_page_token(&ids, size),
            enterprises: rows.into_iter().map(enterprise_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "DeleteEnterprise", skip_all)]
    async fn delete_enterprise(
        &self,
        request: Request<pb::DeleteEnterpriseRequest>,
    ) -> Result<Response<pb::DeleteEnterpriseResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let id = parse_id("id", &r.id)?;
        self.ensure_enterprise(&caller, id).await?;
        let row = enterprise::delete_enterprise(&self.pool, id, r.expected_version)
            .await
            .map_err(|e| e.into_status("deleting the enterprise"))?;
        Ok(Response::new(pb::DeleteEnterpriseResponse {
            enterprise: Some(enterprise_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "RestoreEnterprise", skip_all)]
    async fn restore_enterprise(
        &self,
        request: Request<pb::RestoreEnterpriseRequest>,
    ) -> Result<Response<pb::RestoreEnterpriseResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let id = parse_id("id", &r.id)?;
        self.ensure_enterprise(&caller, id).await?;
        let row = enterprise::restore_enterprise(&self.pool, id, r.expected_version)
            .await
            .map_err(|e| e.into_status("restoring the enterprise"))?;
        Ok(Response::new(pb::RestoreEnterpriseResponse {
            enterprise: Some(enterprise_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "RecordCensusVisit", skip_all)]
    async fn record_census_visit(
        &self,
        request: Request<pb::RecordCensusVisitRequest>,
    ) -> Result<Response<pb::RecordCensusVisitResponse>, Status> {
        self.record_census_visit_rpc(request).await
    }

    #[tracing::instrument(name = "ListCensusVisits", skip_all)]
    async fn list_census_visits(
        &self,
        request: Request<pb::ListCensusVisitsRequest>,
    ) -> Result<Response<pb::ListCensusVisitsResponse>, Status> {
        self.list_census_visits_rpc(request).await
    }

    #[tracing::instrument(name = "RecordForum", skip_all)]
    async fn record_forum(
        &self,
        request: Request<pb::RecordForumRequest>,
    ) -> Result<Response<pb::RecordForumResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let f = r.forum.ok_or_else(|| invalid("forum", "is required"))?;
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        // Id and quarter are the service's to give: ones echoed back are ignored, if well-formed.
        v.optional_id("forum.id", &f.id);
        v.line("forum.quarter", &f.quarter, 16, false);
        let title = v.line("forum.title", &f.title, TITLE, true);
        let held_on = check_past_date(&mut v, "forum.held_on", &f.held_on, self.county.today());
        let enterprise_ids = v.ids("forum.enterprise_ids", &f.enterprise_ids, MAX_REFERENCES);
        // A withdrawal is not recorded with the forum: given, it is ignored once well-formed.
        v.text("forum.withdrawn_reason", &f.withdrawn_reason, NOTE, false);
        v.into_result()?;
        let row = enterprise::record_forum(
            &self.pool,
            &caller.subject,
            &r.request_id,
            title,
            held_on.expect("validated"),
            &enterprise_ids,
        )
        .await
        .map_err(|e| e.into_status("recording the forum"))?;
        Ok(Response::new(pb::RecordForumResponse {
            forum: Some(forum_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListForums", skip_all)]
    async fn list_forums(
        &self,
        request: Request<pb::ListForumsRequest>,
    ) -> Result<Response<pb::ListForumsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let quarter = v.line("quarter", &r.quarter, 16, false);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let between = if quarter.is_empty() {
            None
        } else {
            Some(
                domain::calendar::quarter_range(quarter)
                    .ok_or_else(|| invalid("quarter", "must look like 2026-Q3"))?,
            )
        };
        let rows = forums::list_forums(&self.pool, between, after, size)
            .await
            .map_err(|e| internal("listing forums", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        let refs: Vec<Uuid> = rows
            .iter()
            .flat_map(|x| x.enterprise_ids.iter().copied())
            .collect();
        let names = super::names_of(&self.pool, &caller, refs).await?;
        Ok(Response::new(pb::ListForumsResponse {
            names,
            next_page_token: kit::api::next_page_token(&ids, size),
            forums: rows.into_iter().map(forum_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "RaiseEnterpriseIssue", skip_all)]
    async fn raise_enterprise_issue(
        &self,
        request: Request<pb::RaiseEnterpriseIssueRequest>,
    ) -> Result<Response<pb::RaiseEnterpriseIssueResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let forum = v.id("forum_id", &r.forum_id);
        let enterprise = v.optional_id("enterprise_id", &r.enterprise_id);
        let title = v.line("title", &r.title, TITLE, true);
        let description = v.text("description", &r.description, TEXT, false);
        let raised_on = if r.raised_on.is_empty() {
            None
        } else {
            check_past_date(&mut v, "raised_on", &r.raised_on, self.county.today())
        };
        v.into_result()?;
        match enterprise {
            Some(e) => self.ensure_enterprise(&caller, e).await?,
            None => caller.ensure_community(None)?,
        }
        let row = enterprise::raise_enterprise_issue(
            &self.pool,
            &caller.subject,
            &r.request_id,
            forums::NewIssue {
                forum_id: forum.expect("validated"),
                enterprise_id: enterprise,
                title,
                description,
                raised_on,
            },
        )
        .await
        .map_err(|e| e.into_status("raising the issue"))?;
        Ok(Response::new(pb::RaiseEnterpriseIssueResponse {
            issue: Some(issue_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ResolveEnterpriseIssue", skip_all)]
    async fn resolve_enterprise_issue(
        &self,
        request: Request<pb::ResolveEnterpriseIssueRequest>,
    ) -> Result<Response<pb::ResolveEnterpriseIssueResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = v.id("id", &r.id);
        let resolution = v.text("resolution", &r.resolution, TEXT, true);
        let resolved_on =
            check_past_date(&mut v, "resolved_on", &r.resolved_on, self.county.today());
        v.into_result()?;
        let issue = id.expect("validated");
        let enterprise = forums::enterprise_of_issue(&self.pool, issue)
            .await
            .map_err(|e| internal("loading the issue", e))?
            .ok_or_else(|| not_found("enterprise issue", issue))?;
        match enterprise {
            Some(e) => self.ensure_enterprise(&caller, e).await?,
            None => caller.ensure_community(None)?,
        }
        let row = enterprise::resolve_enterprise_issue(
            &self.pool,
            id.expect("validated"),
            r.expected_version,
            resolution,
            resolved_on.expect("validated"),
        )
        .await
        .map_err(|e| e.into_status("resolving the issue"))?;
        Ok(Response::new(pb::ResolveEnterpriseIssueResponse {
            issue: Some(issue_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "CorrectCensusVisit", skip_all)]
    async fn correct_census_visit(
        &self,
        request: Request<pb::CorrectCensusVisitRequest>,
    ) -> Result<Response<pb::CorrectCensusVisitResponse>, Status> {
        self.correct_census_visit_rpc(request).await
    }

    #[tracing::instrument(name = "WithdrawCensusVisit", skip_all)]
    async fn withdraw_census_visit(
        &self,
        request: Request<pb::WithdrawCensusVisitRequest>,
    ) -> Result<Response<pb::WithdrawCensusVisitResponse>, Status> {
        self.withdraw_census_visit_rpc(request).await
    }

    #[tracing::instrument(name = "CorrectEnterpriseIssue", skip_all)]
    async fn correct_enterprise_issue(
        &self,
        request: Request<pb::CorrectEnterpriseIssueRequest>,
    ) -> Result<Response<pb::CorrectEnterpriseIssueResponse>, Status> {
        self.correct_enterprise_issue_rpc(request).await
    }

    #[tracing::instrument(name = "WithdrawEnterpriseIssue", skip_all)]
    async fn withdraw_enterprise_issue(
        &self,
        request: Request<pb::WithdrawEnterpriseIssueRequest>,
    ) -> Result<Response<pb::WithdrawEnterpriseIssueResponse>, Status> {
        self.withdraw_enterprise_issue_rpc(request).await
    }

    #[tracing::instrument(name = "CorrectForum", skip_all)]
    async fn correct_forum(
        &self,
        request: Request<pb::CorrectForumRequest>,
    ) -> Result<Response<pb::CorrectForumResponse>, Status> {
        self.correct_forum_rpc(request).await
    }

    #[tracing::instrument(name = "WithdrawForum", skip_all)]
    async fn withdraw_forum(
        &self,
        request: Request<pb::WithdrawForumRequest>,
    ) -> Result<Response<pb::WithdrawForumResponse>, Status> {
        self.withdraw_forum_rpc(request).await
    }

    #[tracing::instrument(name = "ListLedgerReviews", skip_all)]
    async fn list_ledger_reviews(
        &self,
        request: Request<pb::ListLedgerReviewsRequest>,
    ) -> Result<Response<pb::ListLedgerReviewsResponse>, Status> {
        self.ledger_reviews_rpc(request).await
    }

    #[tracing::instrument(name = "ListRevisions", skip_all)]
    async fn list_revisions(
        &self,
        request: Request<pb::ListRevisionsRequest>,
    ) -> Result<Response<pb::ListRevisionsResponse>, Status> {
        self.list_revisions_rpc(request).await
    }

    #[tracing::instrument(name = "ListEnterpriseIssues", skip_all)]
    async fn list_enterprise_issues(
        &self,
        request: Request<pb::ListEnterpriseIssuesRequest>,
    ) -> Result<Response<pb::ListEnterpriseIssuesResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let forum = v.optional_id("forum_id", &r.forum_id);
        let enterprise = v.optional_id("enterprise_id", &r.enterprise_id);
        let status = enum_filter::<pb::EnterpriseIssueStatus>(&mut v, "status", r.status);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        if let Some(e) = enterprise {
            self.ensure_enterprise(&caller, e).await?;
        }
        ensure_known(&self.pool, Aggregate::Forum, forum).await?;
        let scope = in_communities(&caller);
        let rows = forums::list_issues(
            &self.pool,
            forum,
            enterprise,
            status,
            scope.as_deref(),
            after,
            size,
        )
        .await
        .map_err(|e| internal("listing enterprise issues", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        let refs: Vec<Uuid> = rows.iter().filter_map(|x| x.enterprise_id).collect();
        let names = super::names_of(&self.pool, &caller, refs).await?;
        Ok(Response::new(pb::ListEnterpriseIssuesResponse {
            names,
            next_page_token: kit::api::next_page_token(&ids, size),
            issues: rows.into_iter().map(issue_to_pb).collect(),
        }))
    }
}
