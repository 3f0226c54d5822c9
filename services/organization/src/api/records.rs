//! What was recorded in `EnterpriseService` (the trait impl in `enterprise.rs` calls here): census
//! visits recorded and listed; census visits and enterprise issues corrected (`update_mask`, the
//! same checks as their recording) or withdrawn, each with a reason; and the revisions of these
//! and of forums (`forums.rs`).

use chrono::NaiveDate;
use kit::{
    api::{Violations, internal, invalid, not_found},
    auth::{Caller, caller},
};
use prost::Message;
use redsupply_proto::organization::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    convert::{enterprise_to_pb, issue_to_pb, revision_to_pb, visit_to_pb},
    correction::{DATE, mask_paths, merged, stands_at, withdrawal},
    enterprise::EnterpriseApi,
    validate::{NAME, NOTE, TEXT, TITLE, check_past_date, count_field},
};
use crate::{
    app::{
        corrections::{self, Change},
        enterprise,
    },
    change::Aggregate,
    store::{self, enterprises::CensusVisitRow, forums::IssueRow},
};

/// What a correction may not name: ids, versions, the enterprise visited and the withdrawal.
const VISIT_KEPT: &[&str] = &[
    "id",
    "enterprise_id",
    "version",
    "withdrawn_at",
    "withdrawn_reason",
];
/// The forum and the status are fixed (an open issue is resolved by ResolveEnterpriseIssue).
const ISSUE_KEPT: &[&str] = &[
    "id",
    "forum_id",
    "status",
    "version",
    "withdrawn_at",
    "withdrawn_reason",
];

/// A census visit's content, checked as its recording checks it (`id` and `enterprise_id` are
/// left to the caller).
fn visit_content(v: &mut Violations, visit: &pb::CensusVisit, today: NaiveDate) -> CensusVisitRow {
    let on = check_past_date(v, "visit.visited_on", &visit.visited_on, today);
    let visitor = v
        .line("visit.visitor", &visit.visitor, NAME, true)
        .to_owned();
    count_field(v, "visit.headcount", visit.headcount);
    count_field(v, "visit.party_members", visit.party_members);
    if let (Some(h), Some(p)) = (visit.headcount, visit.party_members) {
        v.check(
            p <= h,
            "visit.party_members",
            "must not exceed the headcount",
        );
    }
    // A figure given is confirmed by the visit: present, not blank.
    let situation = visit
        .situation
        .as_deref()
        .map(|t| v.text("visit.situation", t, 1_000, true).to_owned());
    let needs = visit
        .needs
        .as_deref()
        .map(|t| v.text("visit.needs", t, 1_000, true).to_owned());
    let responsible_officer = visit.responsible_officer.as_deref().map(|t| {
        v.line("visit.responsible_officer", t, NAME, true)
            .to_owned()
    });
    let notes = v.text("visit.notes", &visit.notes, TEXT, false).to_owned();
    CensusVisitRow {
        visited_on: on.unwrap_or_default(),
        visitor,
        headcount: visit.headcount,
        party_members: visit.party_members,
        situation,
        needs,
        responsible_officer,
        notes,
        ..Default::default()
    }
}

/// Every text of an incoming census visit checked for what no field may hold (NUL or control
/// characters, excess length), whether or not the mask names it: nothing in a request is read
/// unchecked.
fn visit_texts(v: &mut Violations, visit: &pb::CensusVisit) {
    v.optional_id("visit.enterprise_id", &visit.enterprise_id);
    v.line("visit.visited_on", &visit.visited_on, DATE, false);
    v.line("visit.visitor", &visit.visitor, NAME, false);
    if let Some(t) = &visit.situation {
        v.text("visit.situation", t, 1_000, false);
    }
    if let Some(t) = &visit.needs {
        v.text("visit.needs", t, 1_000, false);
    }
    if let Some(t) = &visit.responsible_officer {
        v.line("visit.responsible_officer", t, NAME, false);
    }
    v.text("visit.notes", &visit.notes, TEXT, false);
    v.text(
        "visit.withdrawn_reason",
        &visit.withdrawn_reason,
        NOTE,
        false,
    );
}

/// [`visit_texts`] for an incoming enterprise issue.
fn issue_texts(v: &mut Violations, i: &pb::EnterpriseIssue) {
    v.optional_id("issue.forum_id", &i.forum_id);
    v.optional_id("issue.enterprise_id", &i.enterprise_id);
    v.line("issue.title", &i.title, TITLE, false);
    v.text("issue.description", &i.description, TEXT, false);
    v.line("issue.raised_on", &i.raised_on, DATE, false);
    v.text("issue.resolution", &i.resolution, TEXT, false);
    v.line("issue.resolved_on", &i.resolved_on, DATE, false);
    v.text("issue.withdrawn_reason", &i.withdrawn_reason, NOTE, false);
}

impl EnterpriseApi {
    /// The stored visit as the API answers it, with its version; the caller's scope checked.
    async fn visit_pb(&self, caller: &Caller, id: Uuid) -> Result<(pb::CensusVisit, i64), Status> {
        let fail = |e| internal("loading the census visit", e);
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        let row = match store::enterprises::census_visit(&mut conn, id).await {
            Ok(row) => row,
            Err(sqlx::Error::RowNotFound) => return Err(not_found("census visit", id)),
            Err(e) => return Err(fail(e)),
        };
        drop(conn);
        self.ensure_enterprise(caller, row.enterprise_id).await?;
        let version = row.version;
        Ok((visit_to_pb(row), version))
    }

    /// The stored issue as the API answers it, with its version; the caller's scope checked
    /// (its enterprise's community; an issue of no enterprise is county staff's).
    pub(super) async fn issue_pb(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<(pb::EnterpriseIssue, i64), Status> {
        let fail = |e| internal("loading the enterprise issue", e);
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        let row = match store::forums::issue(&mut conn, id).await {
            Ok(row) => row,
            Err(sqlx::Error::RowNotFound) => return Err(not_found("enterprise issue", id)),
            Err(e) => return Err(fail(e)),
        };
        drop(conn);
        match row.enterprise_id {
            Some(e) => self.ensure_enterprise(caller, e).await?,
            None => caller.ensure_community(None)?,
        }
        let version = row.version;
        Ok((issue_to_pb(row), version))
    }

    pub(super) async fn record_census_visit_rpc(
        &self,
        request: Request<pb::RecordCensusVisitRequest>,
    ) -> Result<Response<pb::RecordCensusVisitResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let visit = r.visit.ok_or_else(|| invalid("visit", "is required"))?;
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        // The visit's id is the service's to assign: one echoed back is ignored, if it is an id.
        v.optional_id("visit.id", &visit.id);
        let enterprise = v.id("visit.enterprise_id", &visit.enterprise_id);
        // A withdrawal is not recorded with the visit: given, it is ignored once well-formed.
        v.text(
            "visit.withdrawn_reason",
            &visit.withdrawn_reason,
            NOTE,
            false,
        );
        let content = visit_content(&mut v, &visit, self.county.today());
        v.into_result()?;
        let enterprise = enterprise.expect("validated");
        self.ensure_enterprise(&caller, enterprise).await?;
        let (visit, enterprise) = enterprise::record_census_visit(
            &self.pool,
            &caller.subject,
            &r.request_id,
            CensusVisitRow {
                enterprise_id: enterprise,
                ..content
            },
        )
        .await
        .map_err(|e| e.into_status("recording the census visit"))?;
        Ok(Response::new(pb::RecordCensusVisitResponse {
            visit: Some(visit_to_pb(visit)),
            enterprise: Some(enterprise_to_pb(enterprise)),
        }))
    }

    pub(super) async fn list_census_visits_rpc(
        &self,
        request: Request<pb::ListCensusVisitsRequest>,
    ) -> Result<Response<pb::ListCensusVisitsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let enterprise = v.id("enterprise_id", &r.enterprise_id);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let enterprise = enterprise.expect("checked");
        self.ensure_enterprise(&caller, enterprise).await?;
        let rows = store::enterprises::list_visits(&self.pool, enterprise, after, size)
            .await
            .map_err(|e| internal("listing census visits", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        let names = super::names_of(&self.pool, &caller, [enterprise]).await?;
        Ok(Response::new(pb::ListCensusVisitsResponse {
            names,
            next_page_token: kit::api::next_page_token(&ids, size),
            visits: rows.into_iter().map(visit_to_pb).collect(),
        }))
    }

    pub(super) async fn correct_census_visit_rpc(
        &self,
        request: Request<pb::CorrectCensusVisitRequest>,
    ) -> Result<Response<pb::CorrectCensusVisitResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let visit = r.visit.ok_or_else(|| invalid("visit", "is required"))?;
        let mut v = Violations::new();
        let id = v.id("visit.id", &visit.id);
        let reason = v.text("reason", &r.reason, NOTE, true).to_owned();
        visit_texts(&mut v, &visit);
        v.into_result()?;
        let id = id.expect("validated");
        let fields = mask_paths(
            r.update_mask.as_ref(),
            "redsupply.organization.v1.CensusVisit",
            VISIT_KEPT,
        )?;
        let (before, _) = self.visit_pb(&caller, id).await?;
        let (merged, expected_version) = merged(
            Aggregate::CensusVisit,
            "redsupply.organization.v1.CensusVisit",
            VISIT_KEPT,
            r.update_mask.as_ref(),
            r.expected_version,
            visit,
            &before,
            (id, before.version),
        )
        .await?;
        let mut v = Violations::new();
        let content = visit_content(&mut v, &merged, self.county.today());
        v.into_result()?;
        let change = Change {
            by: &caller.subject,
            reason: &reason,
            expected_version,
            fields: &fields,
            before: &before.encode_to_vec(),
        };
        let (visit, enterprise) =
            corrections::change_census_visit(&self.pool, id, Some(content), &change)
                .await
                .map_err(|e| e.into_status("correcting the census visit"))?;
        Ok(Response::new(pb::CorrectCensusVisitResponse {
            visit: Some(visit_to_pb(visit)),
            enterprise: Some(enterprise_to_pb(enterprise)),
        }))
    }

    pub(super) async fn withdraw_census_visit_rpc(
        &self,
        request: Request<pb::WithdrawCensusVisitRequest>,
    ) -> Result<Response<pb::WithdrawCensusVisitResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let (id, reason) = withdrawal(&r.id, &r.reason)?;
        let (before, version) = self.visit_pb(&caller, id).await?;
        stands_at(Aggregate::CensusVisit, version, r.expected_version)?;
        let change = Change {
            by: &caller.subject,
            reason,
            expected_version: version,
            fields: &[],
            before: &before.encode_to_vec(),
        };
        let (visit, enterprise) = corrections::change_census_visit(&self.pool, id, None, &change)
            .await
            .map_err(|e| e.into_status("withdrawing the census visit"))?;
        Ok(Response::new(pb::WithdrawCensusVisitResponse {
            visit: Some(visit_to_pb(visit)),
            enterprise: Some(enterprise_to_pb(enterprise)),
        }))
    }

    pub(super) async fn correct_enterprise_issue_rpc(
        &self,
        request: Request<pb::CorrectEnterpriseIssueRequest>,
    ) -> Result<Response<pb::CorrectEnterpriseIssueResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let issue = r.issue.ok_or_else(|| invalid("issue", "is required"))?;
        let mut v = Violations::new();
        let id = v.id("issue.id", &issue.id);
        let reason = v.text("reason", &r.reason, NOTE, true).to_owned();
        issue_texts(&mut v, &issue);
        v.into_result()?;
        let id = id.expect("validated");
        let fields = mask_paths(
            r.update_mask.as_ref(),
            "redsupply.organization.v1.EnterpriseIssue",
            ISSUE_KEPT,
        )?;
        let (before, _) = self.issue_pb(&caller, id).await?;
        let (i, expected_version) = merged(
            Aggregate::EnterpriseIssue,
            "redsupply.organization.v1.EnterpriseIssue",
            ISSUE_KEPT,
            r.update_mask.as_ref(),
            r.expected_version,
            issue,
            &before,
            (id, before.version),
        )
        .await?;
        let today = self.county.today();
        let mut v = Violations::new();
        let enterprise = v.optional_id("issue.enterprise_id", &i.enterprise_id);
        let title = v.line("issue.title", &i.title, TITLE, true).to_owned();
        let description = v
            .text("issue.description", &i.description, TEXT, false)
            .to_owned();
        let raised_on = check_past_date(&mut v, "issue.raised_on", &i.raised_on, today);
        let resolution = v
            .text("issue.resolution", &i.resolution, TEXT, false)
            .to_owned();
        let resolved_on = if i.resolved_on.is_empty() {
            None
        } else {
            check_past_date(&mut v, "issue.resolved_on", &i.resolved_on, today)
        };
        v.into_result()?;
        // The issue moves to an enterprise in the caller's scope only.
        match enterprise {
            Some(e) => self.ensure_enterprise(&caller, e).await?,
            None => caller.ensure_community(None)?,
        }
        let corrected = IssueRow {
            id,
            forum_id: Uuid::nil(),
            enterprise_id: enterprise,
            title,
            description,
            raised_on: raised_on.expect("validated"),
            status: 0,
            resolution,
            resolved_on,
            version: 0,
            withdrawn_at: None,
            withdrawn_reason: String::new(),
        };
        let change = Change {
            by: &caller.subject,
            reason: &reason,
            expected_version,
            fields: &fields,
            before: &before.encode_to_vec(),
        };
        let row = corrections::change_enterprise_issue(&self.pool, id, Some(corrected), &change)
            .await
            .map_err(|e| e.into_status("correcting the enterprise issue"))?;
        Ok(Response::new(pb::CorrectEnterpriseIssueResponse {
            issue: Some(issue_to_pb(row)),
        }))
    }

    pub(super) async fn withdraw_enterprise_issue_rpc(
        &self,
        request: Request<pb::WithdrawEnterpriseIssueRequest>,
    ) -> Result<Response<pb::WithdrawEnterpriseIssueResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let (id, reason) = withdrawal(&r.id, &r.reason)?;
        let (before, version) = self.issue_pb(&caller, id).await?;
        stands_at(Aggregate::EnterpriseIssue, version, r.expected_version)?;
        let change = Change {
            by: &caller.subject,
            reason,
            expected_version: version,
            fields: &[],
            before: &before.encode_to_vec(),
        };
        let row = corrections::change_enterprise_issue(&self.pool, id, None, &change)
            .await
            .map_err(|e| e.into_status("withdrawing the enterprise issue"))?;
        Ok(Response::new(pb::WithdrawEnterpriseIssueResponse {
            issue: Some(issue_to_pb(row)),
        }))
    }

    pub(super) async fn list_revisions_rpc(
        &self,
        request: Request<pb::ListRevisionsRequest>,
    ) -> Result<Response<pb::ListRevisionsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let record = v.id("record_id", &r.record_id);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let record = record.expect("validated");
        // The record's scope: a census visit's enterprise, or an issue's; a forum is the
        // county's, read by anyone who reads revisions.
        if let Err(not_a_visit) = self.visit_pb(&caller, record).await {
            if not_a_visit.code() != tonic::Code::NotFound {
                return Err(not_a_visit);
            }
            match self.issue_pb(&caller, record).await {
                Err(e) if e.code() == tonic::Code::NotFound => {
                    self.forum_pb(record).await.map_err(|e| {
                        if e.code() == tonic::Code::NotFound {
                            not_found("census visit, enterprise issue or forum", record)
                        } else {
                            e
                        }
                    })?;
                }
                other => {
                    other?;
                }
            }
        }
        let rows = store::revisions::list(
            &self.pool,
            record,
            store::revisions::ENTERPRISE_KINDS,
            after,
            size,
        )
        .await
        .map_err(|e| internal("listing revisions", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        Ok(Response::new(pb::ListRevisionsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            revisions: rows.into_iter().map(revision_to_pb).collect(),
        }))
    }
}
