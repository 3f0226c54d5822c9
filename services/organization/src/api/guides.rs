//! Guides of `PartyService` (the trait impl in `party.rs` calls here): instructors and red
//! commissioners, created or changed whole or field by field (`update_mask`).

use kit::{
    api::{Violations, internal, invalid},
    auth::caller,
};
use redsupply_proto::organization::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    convert::guide_to_pb,
    party::PartyApi,
    validate::{MAX_REFERENCES, NAME, enum_value, upsert_request_id},
};
use crate::{app::party, store};

/// What an update may not name in its mask.
const GUIDE_KEPT: &[&str] = &["id", "version", "deleted_at"];

impl PartyApi {
    /// The stored guide as the API answers it, with its version.
    async fn guide_pb(&self, id: Uuid) -> Result<(pb::Guide, i64), Status> {
        let fail = |e| internal("loading the guide", e);
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        match store::guides::get(&mut conn, id).await {
            Ok(row) => {
                let version = row.version;
                Ok((guide_to_pb(row), version))
            }
            Err(sqlx::Error::RowNotFound) => Err(kit::api::not_found("guide", id)),
            Err(e) => Err(fail(e)),
        }
    }

    pub(super) async fn upsert_guide_rpc(
        &self,
        request: Request<pb::UpsertGuideRequest>,
    ) -> Result<Response<pb::UpsertGuideResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let g = r.guide.ok_or_else(|| invalid("guide", "is required"))?;
        let (g, expected_version) = kit::api::mask::merge(
            "redsupply.organization.v1.Guide",
            GUIDE_KEPT,
            r.update_mask.as_ref(),
            Uuid::parse_str(&g.id).ok(),
            r.expected_version,
            g,
            |id| self.guide_pb(id),
        )
        .await?;
        let mut v = Violations::new();
        let id = v.optional_id("guide.id", &g.id);
        upsert_request_id(&mut v, id.is_none(), &r.request_id);
        let name = v.line("guide.name", &g.name, NAME, true);
        let department = v.line("guide.department", &g.department, NAME, false);
        // Instructors and red commissioners: every kind defined.
        let kind = enum_value::<pb::GuideKind>(&mut v, "guide.kind", g.kind);
        let enterprise_ids = v.ids("guide.enterprise_ids", &g.enterprise_ids, MAX_REFERENCES);
        let organization_ids = v.ids(
            "guide.organization_ids",
            &g.organization_ids,
            MAX_REFERENCES,
        );
        v.check(
            g.kind != pb::GuideKind::RedCommissioner as i32 || organization_ids.is_empty(),
            "guide.organization_ids",
            "red commissioners are assigned to enterprises, not organizations",
        );
        v.into_result()?;
        let row = party::upsert_guide(
            &self.pool,
            &caller.subject,
            party::GuideChange {
                id,
                expected_version,
                request_id: &r.request_id,
                name,
                kind: kind.expect("validated"),
                department,
                enterprise_ids,
                organization_ids,
            },
        )
        .await
        .map_err(|e| e.into_status("saving the guide"))?;
        Ok(Response::new(pb::UpsertGuideResponse {
            guide: Some(guide_to_pb(row)),
        }))
    }
}
