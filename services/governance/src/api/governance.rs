//! `GovernanceService`: tips (intake, reading, rejection, the reporter's answer) and cases
//! (reading, listing, rerouting, history, statistics) for workers and county staff.

use kit::{
    api::{Violations, internal, invalid, not_found, page_after, page_size, parse_id},
    auth::caller,
    time::from_timestamp,
};
use redsupply_proto::{
    governance::v1::{
        self as pb, CaseStatus, TipCategory, governance_service_server::GovernanceService,
    },
    roles::WORKER,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    app::{self, intake},
    store::{self},
};

use super::{
    Api, MAX_DEPARTMENT, MAX_EXTERNAL_REF, MAX_REASON, case_status, grid_scope, optional_text,
    optional_time, validate::validate_tip,
};

#[tonic::async_trait]
impl GovernanceService for Api {
    #[tracing::instrument(name = "SubmitTip", skip_all, fields(tip_id))]
    async fn submit_tip(
        &self,
        request: Request<pb::SubmitTipRequest>,
    ) -> Result<Response<pb::SubmitTipResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        if caller.is_only(WORKER) && r.reporter_id != caller.subject {
            return Err(Status::permission_denied(
                "a worker submits tips only as themselves (reporter_id must be your id)",
            ));
        }
        let tip = validate_tip(r, caller.subject.clone(), &self.county)?;
        if tip.submitted_by != tip.reporter_id.to_string() {
            // Filed by staff for a worker (no points): only where the filer serves, and only for
            // a worker who is registered.
            let grid = self.grids.current().locate(tip.latitude, tip.longitude);
            self.ensure_grid(&caller, grid).await?;
            super::references::ensure_registered(&self.pool, "reporter_id", tip.reporter_id)
                .await?;
        }
        let trace = kit::telemetry::current_context_headers();
        let (row, new) = match self.intake.submit(tip, trace).await {
            Ok(intake::Outcome::Stored(row, new)) => (row, new),
            Ok(intake::Outcome::RateLimited) => {
                metrics::counter!("tips_rate_limited_total").increment(1);
                return Err(Status::resource_exhausted(format!(
                    "at most {} tips a minute per reporter; try again shortly",
                    self.tips_per_minute
                )));
            }
            Err(intake::IntakeError::Unavailable) => {
                return Err(Status::unavailable(
                    "tip intake is overloaded or shutting down; retry with the same request_id",
                ));
            }
            Err(intake::IntakeError::Database(e)) => return Err(internal("storing the tip", e)),
        };
        tracing::Span::current().record("tip_id", tracing::field::display(row.id));
        metrics::counter!("tips_submitted_total", "new" => if new { "true" } else { "false" })
            .increment(1);
        Ok(Response::new(pb::SubmitTipResponse {
            tip: Some(row.to_pb()),
        }))
    }

    #[tracing::instrument(name = "GetTip", skip_all)]
    async fn get_tip(
        &self,
        request: Request<pb::GetTipRequest>,
    ) -> Result<Response<pb::GetTipResponse>, Status> {
        let caller = caller(&request)?;
        let id = parse_id("id", &request.get_ref().id)?;
        let tip = store::tip(&self.pool, id)
            .await
            .map_err(|e| internal("loading the tip", e))?
            .ok_or_else(|| not_found("tip", id))?;
        if caller.is_only(WORKER) && tip.reporter_id.to_string() != caller.subject {
            return Err(Status::permission_denied(
                "a worker may read only their own tips",
            ));
        }
        if !caller.is_only(WORKER) || tip.reporter_id.to_string() != caller.subject {
            self.ensure_tip(&caller, &tip).await?;
        }
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| internal("loading the tip", e))?;
        let out = store::tip_view(&mut conn, &tip)
            .await
            .map_err(|e| internal("loading the tip", e))?;
        Ok(Response::new(pb::GetTipResponse { tip: Some(out) }))
    }

    #[tracing::instrument(name = "GetCase", skip_all)]
    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::GetCaseResponse>, Status> {
        let caller = caller(&request)?;
        let id = parse_id("id", &request.get_ref().id)?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| internal("loading the case", e))?;
        let case = store::case(&mut conn, id)
            .await
            .map_err(|e| internal("loading the case", e))?
            .ok_or_else(|| not_found("case", id))?;
        if caller.is_only(WORKER) {
            let reporters = store::case_reporters(&mut conn, id)
                .await
                .map_err(|e| internal("loading the case", e))?;
            if !reporters.iter().any(|r| r.to_string() == caller.subject) {
                return Err(Status::permission_denied(
                    "a worker may read only the cases of their own tips",
                ));
            }
        } else {
            self.ensure_grid(&caller, case.grid_id).await?;
        }
        let tips = store::case_tip_ids(&mut conn, id)
            .await
            .map_err(|e| internal("loading the case", e))?;
        let mut out = case.to_pb(&tips);
        if caller.is_only(WORKER) {
            out.note.clear(); // internal: for staff and platforms
        }
        Ok(Response::new(pb::GetCaseResponse { case: Some(out) }))
    }

    #[tracing::instrument(name = "ListCases", skip_all)]
    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let caller = caller(&request)?;
        list_cases(self, &caller, request.into_inner()).await
    }

    #[tracing::instrument(name = "RejectTip", skip_all)]
    async fn reject_tip(
        &self,
        request: Request<pb::RejectTipRequest>,
    ) -> Result<Response<pb::RejectTipResponse>, Status> {
        let caller = caller(&request)?;
        let tip = self.reject_tip_inner(&caller, request.into_inner()).await?;
        Ok(Response::new(pb::RejectTipResponse { tip: Some(tip) }))
    }

    #[tracing::instrument(name = "ConfirmResolution", skip_all, fields(tip_id))]
    async fn confirm_resolution(
        &self,
        request: Request<pb::ConfirmResolutionRequest>,
    ) -> Result<Response<pb::ConfirmResolutionResponse>, Status> {
        // The reporter's own answer: no one answers in their name.
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let tip_id = v.id("tip_id", &r.tip_id);
        let comment = optional_text(&mut v, "comment", &r.comment, 500).unwrap_or_default();
        v.check(
            r.fixed || !comment.is_empty(),
            "comment",
            "is required when the problem is not fixed (what is still wrong?)",
        );
        let reporter = Uuid::parse_str(&caller.subject).ok();
        v.into_result()?;
        let (Some(tip_id), Some(reporter)) = (tip_id, reporter) else {
            return Err(Status::permission_denied(
                "a worker token's subject must be the worker's id",
            ));
        };
        tracing::Span::current().record("tip_id", tracing::field::display(tip_id));
        let (tip, case) = self
            .cases
            .confirm(app::ConfirmResolution {
                tip_id,
                reporter,
                fixed: r.fixed,
                comment,
            })
            .await
            .map_err(|e| case_status("recording the answer", e))?;
        let mut case = case;
        case.note.clear(); // internal: for staff and platforms
        Ok(Response::new(pb::ConfirmResolutionResponse {
            tip: Some(tip),
            case: Some(case),
        }))
    }

    #[tracing::instrument(name = "ListTips", skip_all)]
    async fn list_tips(
        &self,
        request: Request<pb::ListTipsRequest>,
    ) -> Result<Response<pb::ListTipsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let reporter = parse_id("reporter_id", &r.reporter_id)?;
        if caller.is_only(WORKER) && caller.subject != reporter.to_string() {
            return Err(Status::permission_denied(
                "a worker lists only their own tips",
            ));
        }
        // Their own tips, all of them; someone else's, those whose case is in scope.
        let scope = if caller.has_role(WORKER) && caller.subject == reporter.to_string() {
            store::GridScope::default()
        } else {
            grid_scope(&caller)
        };
        let size = page_size(r.page_size)?;
        let before = page_after(&r.page_token)?;
        super::references::ensure_known_reporter(&self.pool, reporter).await?;
        let rows = store::tips_of(&self.pool, reporter, &scope, before, size)
            .await
            .map_err(|e| internal("listing tips", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|(t, _)| t.id).collect();
        Ok(Response::new(pb::ListTipsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            tips: rows
                .into_iter()
                .map(|(t, case)| match case {
                    Some(case) => store::TipRow::with_case(t.to_pb(), &case),
                    None => t.to_pb(),
                })
                .collect(),
        }))
    }

    #[tracing::instrument(name = "RerouteCase", skip_all, fields(case_id))]
    async fn reroute_case(
        &self,
        request: Request<pb::RerouteCaseRequest>,
    ) -> Result<Response<pb::RerouteCaseResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = Uuid::parse_str(&r.case_id);
        v.check(id.is_ok(), "case_id", "must be a case id (UUID)");
        let grid = if r.grid_id.is_empty() {
            None
        } else {
            let g = Uuid::parse_str(&r.grid_id).ok();
            v.check(g.is_some(), "grid_id", "must be a grid id (UUID)");
            g
        };
        let category = match TipCategory::try_from(r.category) {
            Ok(TipCategory::Unspecified) => None,
            Ok(c) => Some(c),
            Err(_) => {
                v.add("category", "is not a TipCategory");
                None
            }
        };
        let department = v.line("department", &r.department, MAX_DEPARTMENT, false);
        let reason = v.text("reason", &r.reason, MAX_REASON, true);
        v.check(
            grid.is_some() || category.is_some() || !department.is_empty(),
            "grid_id",
            "give a grid, a department or a category to reroute to",
        );
        v.into_result()?;
        let Ok(id) = id else {
            return Err(invalid("case_id", "must be a case id (UUID)"));
        };
        tracing::Span::current().record("case_id", tracing::field::display(id));
        // From a case in scope, to any grid: a reroute hands the case to whoever serves it.
        self.ensure_case(&caller, id).await?;
        let snapshot = self
            .cases
            .reroute(app::RerouteCase {
                id,
                grid,
                category,
                department: department.to_owned(),
                reason: reason.to_owned(),
                actor: caller.subject,
            })
            .await
            .map_err(|e| case_status("rerouting the case", e))?;
        Ok(Response::new(pb::RerouteCaseResponse {
            case: Some(snapshot),
        }))
    }

    #[tracing::instrument(name = "GetGovernanceStats", skip_all)]
    async fn get_governance_stats(
        &self,
        request: Request<pb::GetGovernanceStatsRequest>,
    ) -> Result<Response<pb::GetGovernanceStatsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let from = r.from.as_ref().map(from_timestamp);
        let until = r.until.as_ref().map(from_timestamp);
        v.check(
            !matches!(from, Some(None)),
            "from",
            "is not a valid timestamp",
        )
        .check(
            !matches!(until, Some(None)),
            "until",
            "is not a valid timestamp",
        );
        v.into_result()?;
        let (from, until) = (from.flatten(), until.flatten());
        let st = store::stats(&self.pool, &grid_scope(&caller), from, until)
            .await
            .map_err(|e| internal("computing statistics", e))?;
        let mut grids: std::collections::BTreeMap<Option<Uuid>, (i32, i32)> = Default::default();
        for (g, n) in &st.tips_by_grid {
            grids.entry(*g).or_default().0 += *n as i32;
        }
        for (g, n) in &st.resolved_by_grid {
            grids.entry(*g).or_default().1 += *n as i32;
        }
        let tips: i64 = st.tips_by_grid.iter().map(|(_, n)| n).sum();
        let resolved: i64 = st.resolved_by_grid.iter().map(|(_, n)| n).sum();
        Ok(Response::new(pb::GetGovernanceStatsResponse {
            tips_reported: tips as i32,
            problems_solved: (resolved + st.solved_by_volunteers) as i32,
            cases_resolved: resolved as i32,
            solved_by_volunteers: st.solved_by_volunteers as i32,
            by_grid: grids
                .into_iter()
                .map(|(g, (tips_reported, problems_solved))| pb::GridStats {
                    grid_id: g.map(|g| g.to_string()).unwrap_or_default(),
                    tips_reported,
                    problems_solved,
                })
                .collect(),
            volunteers: st.volunteers as i32,
            role_holders: st.role_holders as i32,
            volunteer_hours: st.volunteer_hours,
        }))
    }

    #[tracing::instrument(name = "ListCaseHistory", skip_all)]
    async fn list_case_history(
        &self,
        request: Request<pb::ListCaseHistoryRequest>,
    ) -> Result<Response<pb::ListCaseHistoryResponse>, Status> {
        let caller = caller(&request)?;
        let id = parse_id("case_id", &request.get_ref().case_id)?;
        self.ensure_case(&caller, id).await?;
        let rows = store::transitions(&self.pool, id)
            .await
            .map_err(|e| internal("loading the case history", e))?;
        if rows.is_empty() {
            return Err(not_found("case", id));
        }
        let grid = |g: Option<Uuid>| g.map(|g| g.to_string()).unwrap_or_default();
        Ok(Response::new(pb::ListCaseHistoryResponse {
            transitions: rows
                .into_iter()
                .map(|t| pb::CaseTransition {
                    from_status: t.from_status.map(i32::from).unwrap_or_default(),
                    to_status: i32::from(t.to_status),
                    from_grid_id: grid(t.from_grid_id),
                    to_grid_id: grid(t.to_grid_id),
                    from_department: t.from_department.unwrap_or_default(),
                    to_department: t.to_department,
                    actor: t.actor,
                    reason: t.reason,
                    at: Some(kit::time::to_timestamp(t.at)),
                    public_reply: t.public_reply,
                    version: t.version,
                })
                .collect(),
        }))
    }
}

impl Api {
    async fn reject_tip_inner(
        &self,
        caller: &kit::auth::Caller,
        r: pb::RejectTipRequest,
    ) -> Result<pb::Tip, Status> {
        let id = parse_id("tip_id", &r.tip_id)?;
        let mut v = Violations::new();
        let reason = v.text("reason", &r.reason, MAX_REASON, true);
        v.into_result()?;
        let tip = store::tip(&self.pool, id)
            .await
            .map_err(|e| internal("loading the tip", e))?
            .ok_or_else(|| not_found("tip", id))?;
        self.ensure_tip(caller, &tip).await?;
        self.cases
            .reject_tip(id, reason, &caller.subject)
            .await
            .map_err(|e| case_status("rejecting the tip", e))
    }
}

async fn list_cases(
    api: &Api,
    caller: &kit::auth::Caller,
    r: pb::ListCasesRequest,
) -> Result<Response<pb::ListCasesResponse>, Status> {
    let mut v = Violations::new();
    let grid_id = v.optional_id("grid_id", &r.grid_id);
    // Asking for a grid (or the county queue) outside the token's scope is refused, not emptied.
    if grid_id.is_some() || r.county_queue {
        api.ensure_grid(caller, grid_id).await?;
    }
    v.check(
        !(r.county_queue && grid_id.is_some()),
        "county_queue",
        "the county queue holds cases in no grid: give grid_id or county_queue, not both",
    );
    let status = match CaseStatus::try_from(r.status) {
        Ok(CaseStatus::Unspecified) => None,
        Ok(s) => Some(s as i16),
        Err(_) => {
            v.add("status", "is not a CaseStatus");
            None
        }
    };
    let updated_since = optional_time(&mut v, "updated_since", r.updated_since.as_ref());
    let updated_before = optional_time(&mut v, "updated_before", r.updated_before.as_ref());
    if let (Some(a), Some(b)) = (updated_since, updated_before) {
        v.check(a < b, "updated_before", "must lie after updated_since");
    }
    let query = store::CaseQuery {
        grid_id,
        county_queue: r.county_queue,
        status,
        department: optional_text(&mut v, "department", &r.department, MAX_DEPARTMENT),
        updated_since,
        updated_before,
        overdue: r.overdue,
        escalated: r.escalated,
        number: optional_text(&mut v, "number", &r.number, 32),
        external_ref: optional_text(&mut v, "external_ref", &r.external_ref, MAX_EXTERNAL_REF),
        scope: grid_scope(caller),
    };
    let (size, after) = v.page(r.page_size, &r.page_token);
    v.into_result()?;
    if let Some(g) = grid_id {
        let known = store::grid_ever_known(&api.pool, g)
            .await
            .map_err(|e| internal("listing cases", e))?;
        if !known {
            return Err(not_found("grid", g));
        }
    }
    let rows = store::list_cases(&api.pool, &query, after, size)
        .await
        .map_err(|e| internal("listing cases", e))?;
    let ids: Vec<Uuid> = rows.iter().map(|(c, _)| c.id).collect();
    Ok(Response::new(pb::ListCasesResponse {
        next_page_token: kit::api::next_page_token(&ids, size),
        cases: rows.iter().map(|(c, tips)| c.to_pb(tips)).collect(),
    }))
}
