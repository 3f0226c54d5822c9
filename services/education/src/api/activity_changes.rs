//! `UpdateActivity` and `CancelActivity`: the activity's staff (its community's, or the county's)
//! correct or cancel it until it starts, at the version they read.

use super::{activities::activity_status, convert::*, validate::*, *};
use crate::{app::activities, store::Correction};

impl Api {
    pub(super) async fn update_activity_rpc(
        &self,
        request: Request<pb::UpdateActivityRequest>,
    ) -> Result<Response<pb::UpdateActivityResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = v.id("activity_id", &r.activity_id);
        v.within("expected_version", r.expected_version, 0..=i64::MAX);
        let title = v.line("title", &r.title, TITLE, true);
        let description = v.text("description", &r.description, DESCRIPTION, false);
        let (starts_at, ends_at) = activity_times(&mut v, r.starts_at.as_ref(), r.ends_at.as_ref());
        v.within("capacity", r.capacity, 1..=MAX_SEATS);
        v.into_result()?;
        let id = id.expect("validated");
        self.ensure_activity(&caller, id).await?;
        let row = activities::correct_activity(
            &self.pool,
            &caller.subject,
            id,
            &Correction {
                title,
                description,
                starts_at: starts_at.expect("validated"),
                ends_at: ends_at.expect("validated"),
                capacity: r.capacity,
            },
            r.expected_version,
            Utc::now(),
        )
        .await
        .map_err(activity_status)?;
        Ok(Response::new(pb::UpdateActivityResponse {
            activity: Some(activity_to_pb(row)),
        }))
    }

    pub(super) async fn cancel_activity_rpc(
        &self,
        request: Request<pb::CancelActivityRequest>,
    ) -> Result<Response<pb::CancelActivityResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = v.id("activity_id", &r.activity_id);
        let reason = v.text("reason", &r.reason, DESCRIPTION, true);
        v.within("expected_version", r.expected_version, 0..=i64::MAX);
        v.into_result()?;
        let id = id.expect("validated");
        self.ensure_activity(&caller, id).await?;
        let row = activities::cancel_activity(
            &self.pool,
            &caller.subject,
            id,
            reason,
            r.expected_version,
            Utc::now(),
        )
        .await
        .map_err(activity_status)?;
        Ok(Response::new(pb::CancelActivityResponse {
            activity: Some(activity_to_pb(row)),
        }))
    }
}
