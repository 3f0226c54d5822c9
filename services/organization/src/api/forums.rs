//! Forums put right in `EnterpriseService` (the trait impl in `enterprise.rs` calls here): a
//! forum's title, date and enterprises corrected through `update_mask`, or the forum withdrawn,
//! each with a reason and a revision. Forums are the county's: county staff change them.

use kit::{
    api::{Violations, internal, invalid, not_found},
    auth::caller,
};
use prost::Message;
use redsupply_proto::organization::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    convert::forum_to_pb,
    correction::{DATE, mask_paths, merged, stands_at, withdrawal},
    enterprise::EnterpriseApi,
    validate::{MAX_REFERENCES, NOTE, TITLE, check_past_date},
};
use crate::{
    app::corrections::{self, Change, ForumContent},
    change::Aggregate,
    store,
};

/// What a correction may not name: the id, what is counted from the issues, the version and
/// the withdrawal.
const FORUM_KEPT: &[&str] = &[
    "id",
    "quarter",
    "issues_raised",
    "issues_resolved",
    "version",
    "withdrawn_at",
    "withdrawn_reason",
];

impl EnterpriseApi {
    /// The stored forum as the API answers it, with its version.
    pub(super) async fn forum_pb(&self, id: Uuid) -> Result<(pb::Forum, i64), Status> {
        let fail = |e| internal("loading the forum", e);
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        match store::forums::forum(&mut conn, id).await {
            Ok(row) => {
                let version = row.version;
                Ok((forum_to_pb(row), version))
            }
            Err(sqlx::Error::RowNotFound) => Err(not_found("forum", id)),
            Err(e) => Err(fail(e)),
        }
    }

    pub(super) async fn correct_forum_rpc(
        &self,
        request: Request<pb::CorrectForumRequest>,
    ) -> Result<Response<pb::CorrectForumResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let forum = r.forum.ok_or_else(|| invalid("forum", "is required"))?;
        let mut v = Violations::new();
        let id = v.id("forum.id", &forum.id);
        let reason = v.text("reason", &r.reason, NOTE, true).to_owned();
        // Nothing in a request is read unchecked, named by the mask or not.
        v.line("forum.title", &forum.title, TITLE, false);
        v.line("forum.held_on", &forum.held_on, DATE, false);
        v.line("forum.quarter", &forum.quarter, DATE, false);
        v.ids(
            "forum.enterprise_ids",
            &forum.enterprise_ids,
            MAX_REFERENCES,
        );
        v.text(
            "forum.withdrawn_reason",
            &forum.withdrawn_reason,
            NOTE,
            false,
        );
        v.into_result()?;
        let id = id.expect("validated");
        let fields = mask_paths(
            r.update_mask.as_ref(),
            "redsupply.organization.v1.Forum",
            FORUM_KEPT,
        )?;
        let (before, version) = self.forum_pb(id).await?;
        let (merged, expected_version) = merged(
            Aggregate::Forum,
            "redsupply.organization.v1.Forum",
            FORUM_KEPT,
            r.update_mask.as_ref(),
            r.expected_version,
            forum,
            &before,
            (id, version),
        )
        .await?;
        let mut v = Violations::new();
        let title = v.line("forum.title", &merged.title, TITLE, true);
        let held_on = check_past_date(
            &mut v,
            "forum.held_on",
            &merged.held_on,
            self.county.today(),
        );
        let enterprise_ids = v.ids(
            "forum.enterprise_ids",
            &merged.enterprise_ids,
            MAX_REFERENCES,
        );
        v.into_result()?;
        let change = Change {
            by: &caller.subject,
            reason: &reason,
            expected_version,
            fields: &fields,
            before: &before.encode_to_vec(),
        };
        let content = ForumContent {
            title,
            held_on: held_on.expect("validated"),
            enterprise_ids: &enterprise_ids,
        };
        let row = corrections::change_forum(&self.pool, id, Some(content), &change)
            .await
            .map_err(|e| e.into_status("correcting the forum"))?;
        Ok(Response::new(pb::CorrectForumResponse {
            forum: Some(forum_to_pb(row)),
        }))
    }

    pub(super) async fn withdraw_forum_rpc(
        &self,
        request: Request<pb::WithdrawForumRequest>,
    ) -> Result<Response<pb::WithdrawForumResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let (id, reason) = withdrawal(&r.id, &r.reason)?;
        let (before, version) = self.forum_pb(id).await?;
        stands_at(Aggregate::Forum, version, r.expected_version)?;
        let change = Change {
            by: &caller.subject,
            reason,
            expected_version: version,
            fields: &[],
            before: &before.encode_to_vec(),
        };
        let row = corrections::change_forum(&self.pool, id, None, &change)
            .await
            .map_err(|e| e.into_status("withdrawing the forum"))?;
        Ok(Response::new(pb::WithdrawForumResponse {
            forum: Some(forum_to_pb(row)),
        }))
    }
}
