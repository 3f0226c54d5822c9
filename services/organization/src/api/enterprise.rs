//! `redsupply.organization.v1.EnterpriseService`: enterprises with their five-clears ledger, census
//! visits, forums and enterprise issues.

use chrono::NaiveDate;
use kit::{
    api::{Violations, internal, invalid, not_found, page_after, page_size, parse_id},
    auth::{Caller, caller},
    time::to_timestamp,
};
use redsupply_proto::organization::v1::{self as pb, enterprise_service_server::EnterpriseService};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{check_date, check_ids, check_text, in_communities};
use crate::{
    enterprises::{self, CensusVisitRow, EnterpriseChange, EnterpriseFilter, EnterpriseRow},
    forums::{self, ForumRow, IssueRow, NewIssue},
    rules,
};

pub struct EnterpriseApi {
    pool: PgPool,
}

impl EnterpriseApi {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// PERMISSION_DENIED unless the enterprise's community is in the caller's scope; NOT_FOUND
    /// when there is no such enterprise.
    async fn ensure_enterprise(&self, caller: &Caller, id: Uuid) -> Result<(), Status> {
        let community = enterprises::community_of(&self.pool, id)
            .await
            .map_err(|e| internal("checking the caller's scope", e))?
            .ok_or_else(|| not_found("enterprise", id))?;
        caller.ensure_community(community)
    }
}

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// The ledger as published and returned: each figure with the date it was last confirmed.
pub fn ledger(e: &EnterpriseRow) -> pb::FiveClearsLedger {
    let count = |v: Option<i32>, on: Option<NaiveDate>| pb::LedgerCount {
        value: v.unwrap_or_default(),
        confirmed_on: date(on),
    };
    let text = |v: &Option<String>, on: Option<NaiveDate>| pb::LedgerText {
        value: v.clone().unwrap_or_default(),
        confirmed_on: date(on),
    };
    pb::FiveClearsLedger {
        headcount: Some(count(e.headcount, e.headcount_on)),
        party_members: Some(count(e.party_members, e.party_members_on)),
        situation: Some(text(&e.situation, e.situation_on)),
        needs: Some(text(&e.needs, e.needs_on)),
        responsible_officer: Some(text(&e.responsible_officer, e.responsible_officer_on)),
        last_visited_on: date(e.last_visited_on),
        visits: e.visits,
    }
}

fn enterprise_to_pb(e: EnterpriseRow) -> pb::Enterprise {
    pb::Enterprise {
        ledger: Some(ledger(&e)),
        id: e.id.to_string(),
        name: e.name,
        kind: i32::from(e.kind),
        brand: e.brand,
        community_id: e.community_id.map(|u| u.to_string()).unwrap_or_default(),
        address: e.address,
        version: e.version,
        updated_at: Some(to_timestamp(e.updated_at)),
        deleted_at: e.deleted_at.map(to_timestamp),
    }
}

fn visit_to_pb(v: CensusVisitRow) -> pb::CensusVisit {
    pb::CensusVisit {
        id: v.id.to_string(),
        enterprise_id: v.enterprise_id.to_string(),
        visited_on: v.visited_on.to_string(),
        visitor: v.visitor,
        headcount: v.headcount,
        party_members: v.party_members,
        situation: v.situation,
        needs: v.needs,
        responsible_officer: v.responsible_officer,
        notes: v.notes,
    }
}

fn forum_to_pb(f: ForumRow) -> pb::Forum {
    pb::Forum {
        id: f.id.to_string(),
        title: f.title,
        held_on: f.held_on.to_string(),
        quarter: rules::quarter(f.held_on),
        enterprise_ids: f.enterprise_ids.iter().map(|u| u.to_string()).collect(),
        issues_raised: i32::try_from(f.issues_raised).unwrap_or(i32::MAX),
        issues_resolved: i32::try_from(f.issues_resolved).unwrap_or(i32::MAX),
    }
}

fn issue_to_pb(i: IssueRow) -> pb::EnterpriseIssue {
    pb::EnterpriseIssue {
        id: i.id.to_string(),
        forum_id: i.forum_id.to_string(),
        enterprise_id: i.enterprise_id.map(|u| u.to_string()).unwrap_or_default(),
        title: i.title,
        description: i.description,
        raised_on: i.raised_on.to_string(),
        status: i32::from(i.status),
        resolution: i.resolution,
        resolved_on: date(i.resolved_on),
        version: i.version,
    }
}

fn count_field(v: &mut Violations, field: &str, value: Option<i32>) {
    if let Some(n) = value {
        v.check(
            (0..=1_000_000).contains(&n),
            field,
            "must be between 0 and 1,000,000",
        );
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
        let mut v = Violations::new();
        let id = v.optional_id("enterprise.id", &e.id);
        if id.is_none() {
            v.request_id(&r.request_id);
        }
        check_text(&mut v, "enterprise.name", &e.name, 100, true);
        check_text(&mut v, "enterprise.brand", &e.brand, 64, false);
        check_text(&mut v, "enterprise.address", &e.address, 200, false);
        v.check(
            matches!(
                pb::EnterpriseKind::try_from(e.kind),
                Ok(pb::EnterpriseKind::ExpressOutlet
                    | pb::EnterpriseKind::DeliveryStation
                    | pb::EnterpriseKind::InternetCompany)
            ),
            "enterprise.kind",
            "must be an express outlet, a delivery station or an internet company",
        );
        let community_id = v.optional_id("enterprise.community_id", &e.community_id);
        v.into_result()?;
        if let Some(id) = id {
            self.ensure_enterprise(&caller, id).await?;
        }
        caller.ensure_community(community_id)?;
        let row = enterprises::upsert(
            &self.pool,
            &caller.subject,
            EnterpriseChange {
                id,
                expected_version: r.expected_version,
                request_id: &r.request_id,
                name: e.name.trim(),
                kind: e.kind as i16,
                brand: e.brand.trim(),
                community_id,
                address: e.address.trim(),
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
        let row = enterprises::get(&mut conn, id)
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
        if community_id.is_some() {
            caller.ensure_community(community_id)?;
        }
        v.check(
            r.kind == 0 || pb::EnterpriseKind::try_from(r.kind).is_ok(),
            "kind",
            "is not a known value",
        );
        v.into_result()?;
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let filter = EnterpriseFilter {
            kind: (r.kind != 0).then_some(r.kind as i16),
            community_id,
            surveyed_only: r.surveyed_only,
            in_communities: in_communities(&caller),
        };
        let rows = enterprises::list(&self.pool, &filter, after, size)
            .await
            .map_err(|e| internal("listing enterprises", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        Ok(Response::new(pb::ListEnterprisesResponse {
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
        let row = enterprises::delete(&self.pool, id, r.expected_version)
            .await
            .map_err(|e| e.into_status("deleting the enterprise"))?;
        Ok(Response::new(pb::DeleteEnterpriseResponse {
            enterprise: Some(enterprise_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "RecordCensusVisit", skip_all)]
    async fn record_census_visit(
        &self,
        request: Request<pb::RecordCensusVisitRequest>,
    ) -> Result<Response<pb::RecordCensusVisitResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let visit = r.visit.ok_or_else(|| invalid("visit", "is required"))?;
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let enterprise = v.id("visit.enterprise_id", &visit.enterprise_id);
        let on = check_date(&mut v, "visit.visited_on", &visit.visited_on);
        if let Some(d) = on {
            v.check(
                d <= chrono::Utc::now().date_naive() + chrono::Days::new(1),
                "visit.visited_on",
                "must not be in the future",
            );
        }
        check_text(&mut v, "visit.visitor", &visit.visitor, 100, true);
        count_field(&mut v, "visit.headcount", visit.headcount);
        count_field(&mut v, "visit.party_members", visit.party_members);
        if let (Some(h), Some(p)) = (visit.headcount, visit.party_members) {
            v.check(
                p <= h,
                "visit.party_members",
                "must not exceed the headcount",
            );
        }
        for (field, text) in [
            ("visit.situation", &visit.situation),
            ("visit.needs", &visit.needs),
            ("visit.responsible_officer", &visit.responsible_officer),
        ] {
            if let Some(t) = text {
                check_text(&mut v, field, t, 1_000, true);
            }
        }
        check_text(&mut v, "visit.notes", &visit.notes, 2_000, false);
        v.into_result()?;
        self.ensure_enterprise(&caller, enterprise.expect("validated"))
            .await?;
        let trim = |t: Option<String>| t.map(|s| s.trim().to_owned());
        let (visit, enterprise) = enterprises::record_visit(
            &self.pool,
            &caller.subject,
            &r.request_id,
            CensusVisitRow {
                id: Uuid::nil(),
                enterprise_id: enterprise.expect("validated"),
                visited_on: on.expect("validated"),
                visitor: visit.visitor.trim().to_owned(),
                headcount: visit.headcount,
                party_members: visit.party_members,
                situation: trim(visit.situation),
                needs: trim(visit.needs),
                responsible_officer: trim(visit.responsible_officer),
                notes: visit.notes.trim().to_owned(),
            },
        )
        .await
        .map_err(|e| e.into_status("recording the census visit"))?;
        Ok(Response::new(pb::RecordCensusVisitResponse {
            visit: Some(visit_to_pb(visit)),
            enterprise: Some(enterprise_to_pb(enterprise)),
        }))
    }

    #[tracing::instrument(name = "ListCensusVisits", skip_all)]
    async fn list_census_visits(
        &self,
        request: Request<pb::ListCensusVisitsRequest>,
    ) -> Result<Response<pb::ListCensusVisitsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let enterprise = parse_id("enterprise_id", &r.enterprise_id)?;
        self.ensure_enterprise(&caller, enterprise).await?;
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let rows = enterprises::list_visits(&self.pool, enterprise, after, size)
            .await
            .map_err(|e| internal("listing census visits", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        Ok(Response::new(pb::ListCensusVisitsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            visits: rows.into_iter().map(visit_to_pb).collect(),
        }))
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
        check_text(&mut v, "forum.title", &f.title, 200, true);
        let held_on = check_date(&mut v, "forum.held_on", &f.held_on);
        let enterprise_ids = check_ids(&mut v, "forum.enterprise_ids", &f.enterprise_ids);
        v.into_result()?;
        let row = forums::record_forum(
            &self.pool,
            &caller.subject,
            &r.request_id,
            f.title.trim(),
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
        let r = request.into_inner();
        let between = if r.quarter.is_empty() {
            None
        } else {
            Some(
                rules::quarter_range(&r.quarter)
                    .ok_or_else(|| invalid("quarter", "must look like 2026-Q3"))?,
            )
        };
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let rows = forums::list_forums(&self.pool, between, after, size)
            .await
            .map_err(|e| internal("listing forums", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        Ok(Response::new(pb::ListForumsResponse {
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
        check_text(&mut v, "title", &r.title, 200, true);
        check_text(&mut v, "description", &r.description, 2_000, false);
        let raised_on = if r.raised_on.is_empty() {
            None
        } else {
            check_date(&mut v, "raised_on", &r.raised_on)
        };
        v.into_result()?;
        match enterprise {
            Some(e) => self.ensure_enterprise(&caller, e).await?,
            None => caller.ensure_community(None)?,
        }
        let row = forums::raise(
            &self.pool,
            &caller.subject,
            &r.request_id,
            NewIssue {
                forum_id: forum.expect("validated"),
                enterprise_id: enterprise,
                title: r.title.trim(),
                description: r.description.trim(),
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
        check_text(&mut v, "resolution", &r.resolution, 2_000, true);
        let resolved_on = check_date(&mut v, "resolved_on", &r.resolved_on);
        v.into_result()?;
        let issue = id.expect("validated");
        let enterprise = enterprises::enterprise_of_issue(&self.pool, issue)
            .await
            .map_err(|e| internal("loading the issue", e))?
            .ok_or_else(|| not_found("enterprise issue", issue))?;
        match enterprise {
            Some(e) => self.ensure_enterprise(&caller, e).await?,
            None => caller.ensure_community(None)?,
        }
        let row = forums::resolve(
            &self.pool,
            id.expect("validated"),
            r.expected_version,
            r.resolution.trim(),
            resolved_on.expect("validated"),
        )
        .await
        .map_err(|e| e.into_status("resolving the issue"))?;
        Ok(Response::new(pb::ResolveEnterpriseIssueResponse {
            issue: Some(issue_to_pb(row)),
        }))
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
        v.check(
            r.status == 0 || pb::EnterpriseIssueStatus::try_from(r.status).is_ok(),
            "status",
            "is not a known value",
        );
        v.into_result()?;
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let status = (r.status != 0).then_some(r.status as i16);
        if let Some(e) = enterprise {
            self.ensure_enterprise(&caller, e).await?;
        }
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
        Ok(Response::new(pb::ListEnterpriseIssuesResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            issues: rows.into_iter().map(issue_to_pb).collect(),
        }))
    }
}
