//! Care records put right in `CareService` (the trait impl in `care.rs` calls here): care visits
//! and hardship files corrected through `update_mask` (the same checks as their recording) or
//! withdrawn, each with a reason and a revision; and those revisions, whose reason and before
//! are sealed at rest and opened here for the staff who may read care.

use chrono::NaiveDate;
use kit::{
    api::{Violations, internal, invalid, not_found},
    auth::{Caller, caller},
    time::to_timestamp,
};
use prost::Message;
use redsupply_proto::organization::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    care::CareApi,
    correction::{DATE, mask_paths, merged, stands_at, withdrawal},
    ensure_for_worker,
    validate::{LABEL, NAME, NOTE, TEXT, check_past_date},
};
use crate::{
    app::{
        care::{self, FileCorrection},
        corrections::Change,
    },
    change::Aggregate,
    domain,
    store::{
        self,
        care::{Help, NewCareVisit},
        revisions::{CARE_KINDS, CARE_VISIT, HARDSHIP_FILE, RevisionRow},
    },
};

/// What a correction of a visit may not name: ids, the worker visited, versions, the withdrawal.
const VISIT_KEPT: &[&str] = &[
    "id",
    "worker_id",
    "version",
    "withdrawn_at",
    "withdrawn_reason",
];
/// A file's worker, status and dates are fixed (RecordHelp and CloseHardshipFile change them).
const FILE_KEPT: &[&str] = &[
    "id",
    "worker_id",
    "status",
    "opened_at",
    "closed_at",
    "version",
    "withdrawn_at",
    "withdrawn_reason",
];

/// Every text of an incoming care visit checked for what no field may hold, named by the mask
/// or not.
fn visit_texts(v: &mut Violations, visit: &pb::CareVisit) {
    v.optional_id("visit.worker_id", &visit.worker_id);
    v.line("visit.visited_on", &visit.visited_on, DATE, false);
    v.line("visit.occasion", &visit.occasion, LABEL, false);
    v.line("visit.visitor", &visit.visitor, NAME, false);
    v.text("visit.notes", &visit.notes, TEXT, false);
    v.text(
        "visit.withdrawn_reason",
        &visit.withdrawn_reason,
        NOTE,
        false,
    );
}

/// [`visit_texts`] for an incoming hardship file, its help entries included.
fn file_texts(v: &mut Violations, f: &pb::HardshipFile) {
    v.optional_id("file.worker_id", &f.worker_id);
    v.text("file.difficulty", &f.difficulty, TEXT, false);
    v.text("file.outcome", &f.outcome, TEXT, false);
    v.text("file.withdrawn_reason", &f.withdrawn_reason, NOTE, false);
    v.check(
        f.help.len() <= domain::MAX_HELP_ENTRIES,
        "file.help",
        format!(
            "a file holds at most {} entries of help",
            domain::MAX_HELP_ENTRIES
        ),
    );
    for (i, h) in f.help.iter().take(domain::MAX_HELP_ENTRIES).enumerate() {
        v.line(
            &format!("file.help[{i}].given_on"),
            &h.given_on,
            DATE,
            false,
        );
        v.line(&format!("file.help[{i}].kind"), &h.kind, LABEL, false);
        v.text(
            &format!("file.help[{i}].description"),
            &h.description,
            TEXT,
            false,
        );
    }
}

/// The help of a corrected file, each entry checked as RecordHelp checks it.
fn help_entries(v: &mut Violations, help: &[pb::Help], today: NaiveDate) -> Vec<Help> {
    help.iter()
        .enumerate()
        .map(|(i, h)| {
            let given_on =
                check_past_date(v, &format!("file.help[{i}].given_on"), &h.given_on, today);
            let kind = v.line(&format!("file.help[{i}].kind"), &h.kind, LABEL, true);
            let description = v.text(
                &format!("file.help[{i}].description"),
                &h.description,
                TEXT,
                false,
            );
            v.within(
                &format!("file.help[{i}].amount_yuan"),
                h.amount_yuan,
                0..=10_000_000,
            );
            Help {
                given_on: given_on.map(|d| d.to_string()).unwrap_or_default(),
                kind: kind.to_owned(),
                description: description.to_owned(),
                amount_yuan: h.amount_yuan,
            }
        })
        .collect()
}

impl CareApi {
    /// The stored visit as the API answers it, with its version; the caller's scope checked.
    async fn care_visit_pb(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<(pb::CareVisit, i64), Status> {
        let fail = |e| internal("loading the care visit", e);
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        let row = match store::care::visit(&mut conn, id).await {
            Ok(row) => row,
            Err(sqlx::Error::RowNotFound) => return Err(not_found("care visit", id)),
            Err(e) => return Err(fail(e)),
        };
        drop(conn);
        ensure_for_worker(&self.pool, caller, row.worker_id).await?;
        let version = row.version;
        Ok((self.visit_to_pb(row), version))
    }

    /// The stored file as the API answers it, with its version; the caller's scope checked.
    async fn hardship_file_pb(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<(pb::HardshipFile, i64), Status> {
        self.ensure_file(caller, id).await?;
        let fail = |e| internal("loading the hardship file", e);
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        let row = store::care::file(&mut conn, id)
            .await
            .map_err(fail)?
            .ok_or_else(|| not_found("hardship file", id))?;
        let version = row.version;
        Ok((self.file_to_pb(row)?, version))
    }

    pub(super) async fn correct_care_visit_rpc(
        &self,
        request: Request<pb::CorrectCareVisitRequest>,
    ) -> Result<Response<pb::CorrectCareVisitResponse>, Status> {
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
            "redsupply.organization.v1.CareVisit",
            VISIT_KEPT,
        )?;
        let (before, version) = self.care_visit_pb(&caller, id).await?;
        let (merged, expected_version) = merged(
            Aggregate::CareVisit,
            "redsupply.organization.v1.CareVisit",
            VISIT_KEPT,
            r.update_mask.as_ref(),
            r.expected_version,
            visit,
            &before,
            (id, version),
        )
        .await?;
        let mut v = Violations::new();
        let on = check_past_date(
            &mut v,
            "visit.visited_on",
            &merged.visited_on,
            self.county.today(),
        );
        let occasion = v.line("visit.occasion", &merged.occasion, LABEL, true);
        let visitor = v.line("visit.visitor", &merged.visitor, NAME, true);
        let notes = v.text("visit.notes", &merged.notes, TEXT, false);
        v.into_result()?;
        let change = Change {
            by: &caller.subject,
            reason: &reason,
            expected_version,
            fields: &fields,
            before: &before.encode_to_vec(),
        };
        let corrected = NewCareVisit {
            worker_id: Uuid::nil(),
            visited_on: on.expect("validated"),
            occasion,
            visitor,
            notes,
        };
        let row = care::change_visit(&self.pool, &self.vault, id, Some(corrected), &change)
            .await
            .map_err(|e| e.into_status("correcting the care visit"))?;
        Ok(Response::new(pb::CorrectCareVisitResponse {
            visit: Some(self.visit_to_pb(row)),
        }))
    }

    pub(super) async fn withdraw_care_visit_rpc(
        &self,
        request: Request<pb::WithdrawCareVisitRequest>,
    ) -> Result<Response<pb::WithdrawCareVisitResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let (id, reason) = withdrawal(&r.id, &r.reason)?;
        let (before, version) = self.care_visit_pb(&caller, id).await?;
        stands_at(Aggregate::CareVisit, version, r.expected_version)?;
        let change = Change {
            by: &caller.subject,
            reason,
            expected_version: version,
            fields: &[],
            before: &before.encode_to_vec(),
        };
        let row = care::change_visit(&self.pool, &self.vault, id, None, &change)
            .await
            .map_err(|e| e.into_status("withdrawing the care visit"))?;
        Ok(Response::new(pb::WithdrawCareVisitResponse {
            visit: Some(self.visit_to_pb(row)),
        }))
    }

    pub(super) async fn correct_hardship_file_rpc(
        &self,
        request: Request<pb::CorrectHardshipFileRequest>,
    ) -> Result<Response<pb::CorrectHardshipFileResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let file = r.file.ok_or_else(|| invalid("file", "is required"))?;
        let mut v = Violations::new();
        let id = v.id("file.id", &file.id);
        let reason = v.text("reason", &r.reason, NOTE, true).to_owned();
        file_texts(&mut v, &file);
        v.into_result()?;
        let id = id.expect("validated");
        let fields = mask_paths(
            r.update_mask.as_ref(),
            "redsupply.organization.v1.HardshipFile",
            FILE_KEPT,
        )?;
        let (before, version) = self.hardship_file_pb(&caller, id).await?;
        let (merged, expected_version) = merged(
            Aggregate::HardshipFile,
            "redsupply.organization.v1.HardshipFile",
            FILE_KEPT,
            r.update_mask.as_ref(),
            r.expected_version,
            file,
            &before,
            (id, version),
        )
        .await?;
        let mut v = Violations::new();
        let difficulty = v
            .text("file.difficulty", &merged.difficulty, TEXT, true)
            .to_owned();
        let help = help_entries(&mut v, &merged.help, self.county.today());
        let outcome = v
            .text("file.outcome", &merged.outcome, TEXT, false)
            .to_owned();
        v.into_result()?;
        let change = Change {
            by: &caller.subject,
            reason: &reason,
            expected_version,
            fields: &fields,
            before: &before.encode_to_vec(),
        };
        let corrected = FileCorrection {
            difficulty,
            help,
            outcome,
        };
        let row = care::change_file(&self.pool, &self.vault, id, Some(corrected), &change)
            .await
            .map_err(|e| e.into_status("correcting the hardship file"))?;
        Ok(Response::new(pb::CorrectHardshipFileResponse {
            file: Some(self.file_to_pb(row)?),
        }))
    }

    pub(super) async fn withdraw_hardship_file_rpc(
        &self,
        request: Request<pb::WithdrawHardshipFileRequest>,
    ) -> Result<Response<pb::WithdrawHardshipFileResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let (id, reason) = withdrawal(&r.id, &r.reason)?;
        let (before, version) = self.hardship_file_pb(&caller, id).await?;
        stands_at(Aggregate::HardshipFile, version, r.expected_version)?;
        let change = Change {
            by: &caller.subject,
            reason,
            expected_version: version,
            fields: &[],
            before: &before.encode_to_vec(),
        };
        let row = care::change_file(&self.pool, &self.vault, id, None, &change)
            .await
            .map_err(|e| e.into_status("withdrawing the hardship file"))?;
        Ok(Response::new(pb::WithdrawHardshipFileResponse {
            file: Some(self.file_to_pb(row)?),
        }))
    }

    pub(super) async fn list_care_revisions_rpc(
        &self,
        request: Request<pb::ListCareRevisionsRequest>,
    ) -> Result<Response<pb::ListCareRevisionsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let record = v.id("record_id", &r.record_id);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let record = record.expect("validated");
        // The record's scope: its worker's community.
        if let Err(not_a_visit) = self.care_visit_pb(&caller, record).await {
            if not_a_visit.code() != tonic::Code::NotFound {
                return Err(not_a_visit);
            }
            self.hardship_file_pb(&caller, record).await.map_err(|e| {
                if e.code() == tonic::Code::NotFound {
                    not_found("care visit or hardship file", record)
                } else {
                    e
                }
            })?;
        }
        let rows = store::revisions::list(&self.pool, record, CARE_KINDS, after, size)
            .await
            .map_err(|e| internal("listing care revisions", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        Ok(Response::new(pb::ListCareRevisionsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            revisions: rows.into_iter().map(|x| self.revision_to_pb(x)).collect(),
        }))
    }

    /// A care revision with its reason and before opened (one that does not open is shown
    /// without them, and logged).
    fn revision_to_pb(&self, r: RevisionRow) -> pb::CareRevision {
        use pb::care_revision::Before;
        let opened = |sealed: &[u8]| {
            self.vault.open_bytes(sealed).inspect_err(|e| {
                tracing::error!(record_id = %r.record_id, error = %e, "a care revision does not decrypt");
            })
        };
        let reason = r
            .reason_sealed
            .as_deref()
            .and_then(|s| opened(s).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let before = opened(&r.before).ok().and_then(|b| match r.kind {
            CARE_VISIT => pb::CareVisit::decode(b.as_slice())
                .ok()
                .map(Before::CareVisit),
            HARDSHIP_FILE => pb::HardshipFile::decode(b.as_slice())
                .ok()
                .map(Before::HardshipFile),
            _ => None,
        });
        pb::CareRevision {
            record_id: r.record_id.to_string(),
            version: r.version,
            action: i32::from(r.action),
            fields: r.fields,
            reason,
            changed_by: r.changed_by,
            changed_at: Some(to_timestamp(r.changed_at)),
            before,
        }
    }
}
