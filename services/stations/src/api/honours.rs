//! The `HonoursService` RPCs: requests parsed into the use cases of `app::honours`, their
//! refusals mapped to statuses naming the field, rows shown with the candidate's record.

use kit::api::already_exists;
use redsupply_proto::stations::v1::{
    HonourCategory, NominationStatus, ReviewDecision, SelectionStatus,
    honours_service_server::HonoursService,
};

use super::*;
use crate::{
    app::honours::{self as use_case, HonoursError},
    domain::honours::{CandidateRecord, Decision, Period},
    store::{NominationRow, SelectionRow},
};

const MAX_TITLE: usize = 100;
const MAX_REASON: usize = 1000;
const MAX_PLACES: i32 = 100;

/// A use case's refusal as a status; `reviewing`: the request names a nomination, not its
/// selection or worker.
fn refusal(context: &'static str, e: HonoursError, reviewing: bool) -> Status {
    use HonoursError as E;
    match e {
        E::UnknownSelection(id) => not_found("selection", id),
        E::UnknownNomination(id) => not_found("nomination", id),
        E::UnregisteredWorker(_) if reviewing => {
            references::precondition("nomination_id", "WORKER_DELETED", &e.to_string())
        }
        E::Closed if reviewing => {
            references::precondition("nomination_id", "CLOSED", &e.to_string())
        }
        E::OutOfScope(_) | E::OwnCase => Status::permission_denied(e.to_string()),
        E::UnregisteredWorker(id) => references::unknown(
            "worker_id",
            "worker",
            id,
            "is not registered (or was deleted)",
        ),
        E::Closed => references::precondition("selection_id", "CLOSED", &e.to_string()),
        E::CategoryNotOffered => invalid("category", e.to_string()),
        E::TitleTaken => already_exists("title", &e.to_string(), None),
        E::AlreadyNominated(existing) => already_exists(
            "worker_id",
            &e.to_string(),
            Some(("nomination", &existing.to_string())),
        ),
        E::RequestReused(_) => invalid("request_id", e.to_string()),
        E::NotTheWorkersEnterprise(_) => invalid("enterprise_id", e.to_string()),
        E::Stale { .. } => Status::aborted(e.to_string()),
        E::Refused(_) => references::precondition("decision", "NOT_ALLOWED", &e.to_string()),
        E::PlacesTaken(_) => references::precondition("decision", "PLACES_TAKEN", &e.to_string()),
        E::Database(e) => internal(context, e),
    }
}

fn selection_to_pb(s: SelectionRow) -> pb::Selection {
    let status = if s.closed_at.is_some() {
        SelectionStatus::Closed
    } else {
        SelectionStatus::Open
    };
    pb::Selection {
        id: s.id.to_string(),
        title: s.title,
        period: s.period,
        categories: s.categories.into_iter().map(i32::from).collect(),
        places: s.places,
        award_points: s.award_points,
        status: status as i32,
        opened_by: s.opened_by,
        opened_at: Some(to_timestamp(s.opened_at)),
        closed_at: s.closed_at.map(to_timestamp),
        version: s.version,
        nominations: s.nominations,
        awards: s.awards,
        period_start: Some(to_timestamp(s.period_start)),
        period_end: Some(to_timestamp(s.period_end)),
    }
}

fn nomination_to_pb(n: NominationRow, record: CandidateRecord) -> pb::Nomination {
    pb::Nomination {
        id: n.id.to_string(),
        selection_id: n.selection_id.to_string(),
        category: i32::from(n.category),
        worker_id: n.worker_id.to_string(),
        community_id: n.community_id.map(|c| c.to_string()).unwrap_or_default(),
        enterprise_id: n.enterprise_id.map(|c| c.to_string()).unwrap_or_default(),
        reason: n.reason,
        nominated_by: n.nominated_by,
        nominated_at: Some(to_timestamp(n.nominated_at)),
        status: i32::from(n.status),
        review_reason: n.review_reason,
        reviewed_by: n.reviewed_by,
        reviewed_at: n.reviewed_at.map(to_timestamp),
        record: Some(pb::CandidateRecord {
            points_standing: record.points_standing,
            confirmed_tips: record.confirmed_tips,
            volunteer_shifts: record.volunteer_shifts,
            volunteer_hours: record.volunteer_hours,
            trainings_attended: record.trainings_attended,
            activities_attended: record.activities_attended,
            honours_before: record.honours_before,
        }),
        points_awarded: n.points_awarded,
        version: n.version,
    }
}

impl Api {
    /// A nomination as staff read it, with its record.
    async fn shown(
        &self,
        row: NominationRow,
        sel: &SelectionRow,
    ) -> Result<pb::Nomination, Status> {
        let record = use_case::record_of(&self.pool, &row, sel)
            .await
            .map_err(fail("assembling the candidate's record"))?;
        Ok(nomination_to_pb(row, record))
    }
}

#[tonic::async_trait]
impl HonoursService for Api {
    #[tracing::instrument(name = "OpenSelection", skip_all)]
    async fn open_selection(
        &self,
        request: Request<pb::OpenSelectionRequest>,
    ) -> Result<Response<pb::OpenSelectionResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let title = v.line("title", &r.title, MAX_TITLE, true);
        let period = Period::parse(&r.period);
        v.check(
            period.is_some(),
            "period",
            format!(
                "must be YYYY or YYYY-Qn (n 1..4), a year within {}..={}",
                domain::YEARS.start(),
                domain::YEARS.end()
            ),
        );
        let mut categories = Vec::new();
        if v.count("categories", &r.categories, 3) {
            for (i, &c) in r.categories.iter().enumerate() {
                let field = format!("categories[{i}]");
                if let Some(c) = v.enumeration::<HonourCategory>(&field, c, false) {
                    categories.push(c as i16);
                }
            }
        }
        v.check(!r.categories.is_empty(), "categories", "name at least one");
        categories.sort_unstable();
        categories.dedup();
        let places = v.within("places", r.places, 1..=MAX_PLACES);
        let max = self.honours.max_award_points;
        let award_points = v.within("award_points", r.award_points, 0..=max);
        v.into_result()?;
        let row = use_case::open_selection(
            &self.pool,
            &self.clock,
            &use_case::OpenSelection {
                request_id: &r.request_id,
                title,
                period: period.expect("checked"),
                categories,
                places,
                award_points,
                by: &caller.subject,
            },
        )
        .await
        .map_err(|e| refusal("opening a selection", e, false))?;
        Ok(Response::new(pb::OpenSelectionResponse {
            selection: Some(selection_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "CloseSelection", skip_all)]
    async fn close_selection(
        &self,
        request: Request<pb::CloseSelectionRequest>,
    ) -> Result<Response<pb::CloseSelectionResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = v.id("selection_id", &r.selection_id);
        v.within("expected_version", r.expected_version, 0..=i64::MAX);
        v.into_result()?;
        let row = use_case::close_selection(
            &self.pool,
            id.expect("checked"),
            r.expected_version,
            &caller.subject,
        )
        .await
        .map_err(|e| refusal("closing a selection", e, false))?;
        Ok(Response::new(pb::CloseSelectionResponse {
            selection: Some(selection_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListSelections", skip_all)]
    async fn list_selections(
        &self,
        request: Request<pb::ListSelectionsRequest>,
    ) -> Result<Response<pb::ListSelectionsResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let status = v.enumeration::<SelectionStatus>("status", r.status, true);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let open = match status {
            Some(SelectionStatus::Open) => Some(true),
            Some(SelectionStatus::Closed) => Some(false),
            _ => None,
        };
        let rows = store::selections(&self.pool, open, after, size)
            .await
            .map_err(fail("listing selections"))?;
        let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
        Ok(Response::new(pb::ListSelectionsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            selections: rows.into_iter().map(selection_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "Nominate", skip_all)]
    async fn nominate(
        &self,
        request: Request<pb::NominateRequest>,
    ) -> Result<Response<pb::NominateResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let selection = v.id("selection_id", &r.selection_id);
        let category = v.enumeration::<HonourCategory>("category", r.category, false);
        let worker = v.id("worker_id", &r.worker_id);
        let enterprise = v.optional_id("enterprise_id", &r.enterprise_id);
        let reason = v.text("reason", &r.reason, MAX_REASON, true);
        v.into_result()?;
        let worker = worker.expect("checked");
        if caller.subject == worker.to_string() {
            return Err(Status::permission_denied("nobody nominates themself"));
        }
        references::settle_worker(&self.pool, worker).await?;
        let visible = caller.visible();
        let (row, sel) = use_case::nominate(
            &self.pool,
            &use_case::Nominate {
                request_id: &r.request_id,
                selection: selection.expect("checked"),
                category: category.expect("checked") as i16,
                worker,
                enterprise,
                reason,
                by: &caller.subject,
                scope: visible.communities(),
            },
        )
        .await
        .map_err(|e| refusal("nominating a worker", e, false))?;
        Ok(Response::new(pb::NominateResponse {
            nomination: Some(self.shown(row, &sel).await?),
        }))
    }

    #[tracing::instrument(name = "GetNomination", skip_all)]
    async fn get_nomination(
        &self,
        request: Request<pb::GetNominationRequest>,
    ) -> Result<Response<pb::GetNominationResponse>, Status> {
        let caller = caller(&request)?;
        let id = parse_id("nomination_id", &request.get_ref().nomination_id)?;
        let (row, sel) = use_case::nomination_to_read(&self.pool, id)
            .await
            .map_err(|e| refusal("reading the nomination", e, false))?;
        caller.ensure_community(row.community_id)?;
        Ok(Response::new(pb::GetNominationResponse {
            nomination: Some(self.shown(row, &sel).await?),
        }))
    }

    #[tracing::instrument(name = "ListNominations", skip_all)]
    async fn list_nominations(
        &self,
        request: Request<pb::ListNominationsRequest>,
    ) -> Result<Response<pb::ListNominationsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let selection = v.id("selection_id", &r.selection_id);
        let category = v.enumeration::<HonourCategory>("category", r.category, true);
        let status = v.enumeration::<NominationStatus>("status", r.status, true);
        let community = v.optional_id("community_id", &r.community_id);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let sel = use_case::selection_to_read(&self.pool, selection.expect("checked"))
            .await
            .map_err(|e| refusal("reading the selection", e, false))?;
        let visible = caller.visible();
        let only: Option<Vec<Uuid>> = match community {
            Some(c) => {
                caller.ensure_community(Some(c))?;
                references::community_to_read(&self.pool, c).await?;
                Some(vec![c])
            }
            None => visible.communities().map(<[Uuid]>::to_vec),
        };
        let rows = store::nominations(
            &self.pool,
            &store::NominationFilter {
                selection: sel.id,
                category: category
                    .filter(|c| *c != HonourCategory::Unspecified)
                    .map(|c| c as i16),
                status: status
                    .filter(|s| *s != NominationStatus::Unspecified)
                    .map(|s| s as i16),
                communities: only.as_deref(),
                after,
                limit: size,
            },
        )
        .await
        .map_err(fail("listing nominations"))?;
        let ids: Vec<Uuid> = rows.iter().map(|n| n.id).collect();
        let mut nominations = Vec::with_capacity(rows.len());
        for row in rows {
            nominations.push(self.shown(row, &sel).await?);
        }
        Ok(Response::new(pb::ListNominationsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            nominations,
        }))
    }

    #[tracing::instrument(name = "ReviewNomination", skip_all)]
    async fn review_nomination(
        &self,
        request: Request<pb::ReviewNominationRequest>,
    ) -> Result<Response<pb::ReviewNominationResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = v.id("nomination_id", &r.nomination_id);
        let decision = v.enumeration::<ReviewDecision>("decision", r.decision, false);
        let reason = v.text("reason", &r.reason, MAX_REASON, true);
        v.within("expected_version", r.expected_version, 0..=i64::MAX);
        v.into_result()?;
        let decision = match decision.expect("checked") {
            ReviewDecision::Shortlist => Decision::Shortlist,
            ReviewDecision::Award => Decision::Award,
            _ => Decision::Decline,
        };
        let (row, sel) = use_case::review(
            &self.pool,
            &self.rules,
            &use_case::Review {
                nomination: id.expect("checked"),
                decision,
                reason,
                expected_version: r.expected_version,
                by: &caller.subject,
            },
        )
        .await
        .map_err(|e| refusal("reviewing a nomination", e, true))?;
        Ok(Response::new(pb::ReviewNominationResponse {
            nomination: Some(self.shown(row, &sel).await?),
        }))
    }

    #[tracing::instrument(name = "ListWorkerHonours", skip_all)]
    async fn list_worker_honours(
        &self,
        request: Request<pb::ListWorkerHonoursRequest>,
    ) -> Result<Response<pb::ListWorkerHonoursResponse>, Status> {
        let caller = caller(&request)?;
        let worker = parse_id("worker_id", &request.get_ref().worker_id)?;
        self.ensure_for_worker(&caller, worker).await?;
        references::worker_to_read(&self.pool, worker).await?;
        let rows = store::worker_honours(&self.pool, worker)
            .await
            .map_err(fail("listing the worker's honours"))?;
        Ok(Response::new(pb::ListWorkerHonoursResponse {
            honours: rows
                .into_iter()
                .map(|h| pb::WorkerHonour {
                    nomination_id: h.nomination_id.to_string(),
                    selection_id: h.selection_id.to_string(),
                    selection_title: h.title,
                    period: h.period,
                    category: i32::from(h.category),
                    awarded_at: h.awarded_at.map(to_timestamp),
                    points_awarded: h.points_awarded,
                    reason: h.review_reason,
                })
                .collect(),
        }))
    }
}
