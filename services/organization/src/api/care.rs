//! `redsupply.organization.v1.CareService`: care visits and hardship files, for county and
//! community staff only (they hold personal circumstances).

use kit::{
    api::{Violations, internal, invalid, not_found, parse_id},
    auth::{Caller, caller},
    time::to_timestamp,
};
use redsupply_proto::organization::v1::{self as pb, care_service_server::CareService};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    ensure_for_worker, in_communities,
    validate::{LABEL, NAME, NOTE, TEXT, check_past_date},
};
use crate::{
    app::care,
    domain::personal::Vault,
    store::{
        self,
        care::{CareVisitRow, HardshipFileRow, Help, NewCareVisit},
    },
};

pub struct CareApi {
    pub(super) pool: PgPool,
    pub(super) vault: Vault,
    /// What "today" is: visits and help are not dated after it.
    pub(super) county: kit::settings::CountySettings,
}

impl CareApi {
    pub fn new(pool: PgPool, vault: Vault, county: kit::settings::CountySettings) -> Self {
        Self {
            pool,
            vault,
            county,
        }
    }

    /// PERMISSION_DENIED unless the file's worker is in the caller's scope; NOT_FOUND for none.
    pub(super) async fn ensure_file(&self, caller: &Caller, file: Uuid) -> Result<(), Status> {
        let worker = store::care::file_worker(&self.pool, file)
            .await
            .map_err(|e| internal("loading the hardship file", e))?
            .ok_or_else(|| not_found("hardship file", file))?;
        ensure_for_worker(&self.pool, caller, worker).await
    }

    /// A sealed text of a care visit opened; one that does not decrypt is logged and shown empty.
    fn open_text(&self, visit: Uuid, sealed: Option<&[u8]>) -> String {
        match sealed.map(|s| self.vault.open(s)) {
            None => String::new(),
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                tracing::error!(visit_id = %visit, error = %e, "a care text does not decrypt");
                String::new()
            }
        }
    }

    pub(super) fn visit_to_pb(&self, v: CareVisitRow) -> pb::CareVisit {
        pb::CareVisit {
            notes: self.open_text(v.id, v.notes_sealed.as_deref()),
            withdrawn_reason: self.open_text(v.id, v.withdrawn_reason_sealed.as_deref()),
            id: v.id.to_string(),
            worker_id: v.worker_id.to_string(),
            visited_on: v.visited_on.to_string(),
            occasion: v.occasion,
            visitor: v.visitor,
            version: v.version,
            withdrawn_at: v.withdrawn_at.map(to_timestamp),
        }
    }

    pub(super) fn file_to_pb(&self, row: HardshipFileRow) -> Result<pb::HardshipFile, Status> {
        let f = row
            .open(&self.vault)
            .map_err(|e| internal("opening the hardship file", e))?;
        Ok(pb::HardshipFile {
            id: f.row.id.to_string(),
            worker_id: f.row.worker_id.to_string(),
            difficulty: f.difficulty,
            status: if f.row.closed_at.is_some() {
                pb::HardshipFileStatus::Closed as i32
            } else {
                pb::HardshipFileStatus::Open as i32
            },
            help: f
                .help
                .into_iter()
                .map(|h| pb::Help {
                    given_on: h.given_on,
                    kind: h.kind,
                    description: h.description,
                    amount_yuan: h.amount_yuan,
                })
                .collect(),
            outcome: f.outcome,
            opened_at: Some(to_timestamp(f.row.opened_at)),
            closed_at: f.row.closed_at.map(to_timestamp),
            version: f.row.version,
            withdrawn_at: f.row.withdrawn_at.map(to_timestamp),
            withdrawn_reason: f.withdrawn_reason,
        })
    }
}

#[tonic::async_trait]
impl CareService for CareApi {
    #[tracing::instrument(name = "RecordCareVisit", skip_all)]
    async fn record_care_visit(
        &self,
        request: Request<pb::RecordCareVisitRequest>,
    ) -> Result<Response<pb::RecordCareVisitResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let visit = r.visit.ok_or_else(|| invalid("visit", "is required"))?;
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        // The visit's id is the service's to assign: one echoed back is ignored, if it is an id.
        v.optional_id("visit.id", &visit.id);
        let worker = v.id("visit.worker_id", &visit.worker_id);
        let on = check_past_date(
            &mut v,
            "visit.visited_on",
            &visit.visited_on,
            self.county.today(),
        );
        let occasion = v.line("visit.occasion", &visit.occasion, LABEL, true);
        let visitor = v.line("visit.visitor", &visit.visitor, NAME, true);
        let notes = v.text("visit.notes", &visit.notes, TEXT, false);
        // A withdrawal is not recorded with the visit: given, it is ignored once well-formed.
        v.text(
            "visit.withdrawn_reason",
            &visit.withdrawn_reason,
            NOTE,
            false,
        );
        v.into_result()?;
        ensure_for_worker(&self.pool, &caller, worker.expect("validated")).await?;
        let row = care::record_visit(
            &self.pool,
            &self.vault,
            &caller.subject,
            &r.request_id,
            NewCareVisit {
                worker_id: worker.expect("validated"),
                visited_on: on.expect("validated"),
                occasion,
                visitor,
                notes,
            },
        )
        .await
        .map_err(|e| e.into_status("recording the care visit"))?;
        Ok(Response::new(pb::RecordCareVisitResponse {
            visit: Some(self.visit_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListCareVisits", skip_all)]
    async fn list_care_visits(
        &self,
        request: Request<pb::ListCareVisitsRequest>,
    ) -> Result<Response<pb::ListCareVisitsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let worker = v.optional_id("worker_id", &r.worker_id);
        let occasion = v.line("occasion", &r.occasion, LABEL, false);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        if let Some(w) = worker {
            ensure_for_worker(&self.pool, &caller, w).await?;
        }
        let occasion = (!occasion.is_empty()).then_some(occasion);
        let rows = store::care::list_visits(
            &self.pool,
            worker,
            occasion,
            in_communities(&caller).as_deref(),
            after,
            size,
        )
        .await
        .map_err(|e| internal("listing care visits", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        let refs: Vec<Uuid> = rows.iter().map(|x| x.worker_id).collect();
        let names = super::names_of(&self.pool, &caller, refs).await?;
        Ok(Response::new(pb::ListCareVisitsResponse {
            names,
            next_page_token: kit::api::next_page_token(&ids, size),
            visits: rows.into_iter().map(|x| self.visit_to_pb(x)).collect(),
        }))
    }

    #[tracing::instrument(name = "OpenHardshipFile", skip_all)]
    async fn open_hardship_file(
        &self,
        request: Request<pb::OpenHardshipFileRequest>,
    ) -> Result<Response<pb::OpenHardshipFileResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let worker = v.id("worker_id", &r.worker_id);
        let difficulty = v.text("difficulty", &r.difficulty, TEXT, true);
        v.into_result()?;
        ensure_for_worker(&self.pool, &caller, worker.expect("validated")).await?;
        let row = care::open_file(
            &self.pool,
            &self.vault,
            &caller.subject,
            &r.request_id,
            worker.expect("validated"),
            difficulty,
        )
        .await
        .map_err(|e| e.into_status("opening the hardship file"))?;
        Ok(Response::new(pb::OpenHardshipFileResponse {
            file: Some(self.file_to_pb(row)?),
        }))
    }

    #[tracing::instrument(name = "GetHardshipFile", skip_all)]
    async fn get_hardship_file(
        &self,
        request: Request<pb::GetHardshipFileRequest>,
    ) -> Result<Response<pb::GetHardshipFileResponse>, Status> {
        let caller = caller(&request)?;
        let id = parse_id("id", &request.get_ref().id)?;
        self.ensure_file(&caller, id).await?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| internal("loading the hardship file", e))?;
        let row = store::care::file(&mut conn, id)
            .await
            .map_err(|e| internal("loading the hardship file", e))?
            .ok_or_else(|| not_found("hardship file", id))?;
        Ok(Response::new(pb::GetHardshipFileResponse {
            file: Some(self.file_to_pb(row)?),
        }))
    }

    #[tracing::instrument(name = "ListHardshipFiles", skip_all)]
    async fn list_hardship_files(
        &self,
        request: Request<pb::ListHardshipFilesRequest>,
    ) -> Result<Response<pb::ListHardshipFilesResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let worker = v.optional_id("worker_id", &r.worker_id);
        let status: Option<pb::HardshipFileStatus> = v.enumeration("status", r.status, true);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        if let Some(w) = worker {
            ensure_for_worker(&self.pool, &caller, w).await?;
        }
        let open = match status {
            Some(pb::HardshipFileStatus::Open) => Some(true),
            Some(pb::HardshipFileStatus::Closed) => Some(false),
            _ => None,
        };
        let rows = store::care::list_files(
            &self.pool,
            worker,
            open,
            in_communities(&caller).as_deref(),
            after,
            size,
        )
        .await
        .map_err(|e| internal("listing hardship files", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        let workers: Vec<Uuid> = rows.iter().map(|x| x.worker_id).collect();
        let files = rows
            .into_iter()
            .map(|f| self.file_to_pb(f))
            .collect::<Result<Vec<_>, _>>()?;
        let names = super::names_of(&self.pool, &caller, workers).await?;
        Ok(Response::new(pb::ListHardshipFilesResponse {
            names,
            next_page_token: kit::api::next_page_token(&ids, size),
            files,
        }))
    }

    #[tracing::instrument(name = "RecordHelp", skip_all)]
    async fn record_help(
        &self,
        request: Request<pb::RecordHelpRequest>,
    ) -> Result<Response<pb::RecordHelpResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let help = r.help.ok_or_else(|| invalid("help", "is required"))?;
        let mut v = Violations::new();
        let id = v.id("file_id", &r.file_id);
        let given_on =
            check_past_date(&mut v, "help.given_on", &help.given_on, self.county.today());
        let kind = v.line("help.kind", &help.kind, LABEL, true);
        let description = v.text("help.description", &help.description, TEXT, false);
        v.within("help.amount_yuan", help.amount_yuan, 0..=10_000_000);
        v.into_result()?;
        self.ensure_file(&caller, id.expect("validated")).await?;
        let row = care::record_help(
            &self.pool,
            &self.vault,
            id.expect("validated"),
            r.expected_version,
            Help {
                given_on: given_on.expect("validated").to_string(),
                kind: kind.to_owned(),
                description: description.to_owned(),
                amount_yuan: help.amount_yuan,
            },
        )
        .await
        .map_err(|e| e.into_status("recording help"))?;
        Ok(Response::new(pb::RecordHelpResponse {
            file: Some(self.file_to_pb(row)?),
        }))
    }

    #[tracing::instrument(name = "CloseHardshipFile", skip_all)]
    async fn close_hardship_file(
        &self,
        request: Request<pb::CloseHardshipFileRequest>,
    ) -> Result<Response<pb::CloseHardshipFileResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = v.id("file_id", &r.file_id);
        let outcome = v.text("outcome", &r.outcome, TEXT, true);
        v.into_result()?;
        self.ensure_file(&caller, id.expect("validated")).await?;
        let row = care::close_file(
            &self.pool,
            &self.vault,
            id.expect("validated"),
            r.expected_version,
            outcome,
        )
        .await
        .map_err(|e| e.into_status("closing the hardship file"))?;
        Ok(Response::new(pb::CloseHardshipFileResponse {
            file: Some(self.file_to_pb(row)?),
        }))
    }

    #[tracing::instrument(name = "CorrectCareVisit", skip_all)]
    async fn correct_care_visit(
        &self,
        request: Request<pb::CorrectCareVisitRequest>,
    ) -> Result<Response<pb::CorrectCareVisitResponse>, Status> {
        self.correct_care_visit_rpc(request).await
    }

    #[tracing::instrument(name = "WithdrawCareVisit", skip_all)]
    async fn withdraw_care_visit(
        &self,
        request: Request<pb::WithdrawCareVisitRequest>,
    ) -> Result<Response<pb::WithdrawCareVisitResponse>, Status> {
        self.withdraw_care_visit_rpc(request).await
    }

    #[tracing::instrument(name = "CorrectHardshipFile", skip_all)]
    async fn correct_hardship_file(
        &self,
        request: Request<pb::CorrectHardshipFileRequest>,
    ) -> Result<Response<pb::CorrectHardshipFileResponse>, Status> {
        self.correct_hardship_file_rpc(request).await
    }

    #[tracing::instrument(name = "WithdrawHardshipFile", skip_all)]
    async fn withdraw_hardship_file(
        &self,
        request: Request<pb::WithdrawHardshipFileRequest>,
    ) -> Result<Response<pb::WithdrawHardshipFileResponse>, Status> {
        self.withdraw_hardship_file_rpc(request).await
    }

    #[tracing::instrument(name = "ListCareRevisions", skip_all)]
    async fn list_care_revisions(
        &self,
        request: Request<pb::ListCareRevisionsRequest>,
    ) -> Result<Response<pb::ListCareRevisionsResponse>, Status> {
        self.list_care_revisions_rpc(request).await
    }
}
