//! `GridGatewayService`: the case feed municipal grid systems follow (`WatchCases`) and the
//! progress they report (`UpdateCase`).

use std::{pin::Pin, time::Duration};

use futures::Stream;
use kit::{
    api::{Violations, internal, invalid},
    auth::{Caller, Visible, caller},
};
use redsupply_proto::governance::v1::{
    self as pb, CaseStatus, grid_gateway_service_server::GridGatewayService,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    app::{self},
    domain::{self, MAX_DESCRIPTION_CHARS},
    store::{self, Cursor},
};

use super::{Api, MAX_EXTERNAL_REF, case_status, optional_text};

/// The most grids one stream may name (a municipal system follows its own, not the county's).
const MAX_WATCHED_GRIDS: usize = 1_000;
/// The case statuses there are: a filter naming more repeats one.
const STATUSES: usize = 16;

type CaseStream = Pin<Box<dyn Stream<Item = Result<pb::WatchCasesResponse, Status>> + Send>>;

impl Api {
    /// The grids a stream follows: those asked for, each in the caller's scope; when none are
    /// asked for, every grid of the scope (the whole county, with the county queue, for a county
    /// admin). A grid added to a community later joins new streams, not open ones.
    async fn watchable(&self, caller: &Caller, asked: Vec<Uuid>) -> Result<Vec<Uuid>, Status> {
        for g in &asked {
            self.ensure_grid(caller, Some(*g)).await?;
        }
        match caller.visible() {
            Visible::County => Ok(asked),
            _ if !asked.is_empty() => Ok(asked),
            Visible::Only { communities, grids } => {
                let mut all = store::grids_of_communities(&self.pool, &communities)
                    .await
                    .map_err(|e| internal("opening the case feed", e))?;
                all.extend(grids);
                all.sort();
                all.dedup();
                if all.is_empty() {
                    return Err(Status::permission_denied(
                        "this token's scope holds no grid or community (claims grids, communities)",
                    ));
                }
                Ok(all)
            }
        }
    }
}

#[tonic::async_trait]
impl GridGatewayService for Api {
    type WatchCasesStream = CaseStream;

    #[tracing::instrument(name = "WatchCases", skip_all)]
    async fn watch_cases(
        &self,
        request: Request<pb::WatchCasesRequest>,
    ) -> Result<Response<Self::WatchCasesStream>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let grids = v.ids("grid_ids", &r.grid_ids, MAX_WATCHED_GRIDS);
        let mut statuses = Vec::new();
        if v.count("statuses", &r.statuses, STATUSES) {
            for (i, st) in r.statuses.iter().enumerate() {
                if let Some(s) = v.enumeration::<CaseStatus>(&format!("statuses[{i}]"), *st, false)
                {
                    statuses.push(s as i16);
                }
            }
            statuses = kit::api::distinct(statuses);
        }
        let cursor = if r.cursor.is_empty() {
            None
        } else {
            let c = Cursor::decode(&r.cursor);
            v.check(
                c.is_some(),
                "cursor",
                "is not a cursor this service gave out",
            );
            c
        };
        v.into_result()?;
        // Held by the stream's task: given back when the stream ends, however it ends.
        let slot = self.watch_streams.acquire(&caller.subject)?;
        let fail = |e| internal("opening the case feed", e);
        let grids = self.watchable(&caller, grids).await?;
        if cursor.is_none() {
            // "From now on" exactly: every change committed before this call gets its number, so
            // it lies before the stream's first cursor.
            app::feed::sequence(&self.pool).await.map_err(fail)?;
        }
        let head = store::feed_head(&self.pool).await.map_err(fail)?;
        let start = match cursor {
            None => head,
            Some(Cursor::At(at)) if at > head => {
                return Err(Status::out_of_range(format!(
                    "cursor {at} lies ahead of the feed (its newest change is {head}): it was not \
                     given out by this deployment, or its database was restored; open a stream with \
                     an empty cursor, then backfill with ListCases updated_since"
                )));
            }
            Some(Cursor::At(at)) => at,
            Some(Cursor::Legacy { xid, seq }) => store::legacy_position(&self.pool, xid, seq)
                .await
                .map_err(fail)?,
        };
        let filter = domain::FeedFilter { grids, statuses };
        let (tx, rx) = mpsc::channel(256);
        let api = self.clone();
        // The stream lives as long as the token: at its expiry the platform is told so and
        // reconnects (from its cursor) with a fresh one.
        let stop = self.shutdown.child_token();
        if caller.expires_at > 0 {
            let (stop, tx) = (stop.clone(), tx.clone());
            let left = caller
                .expires_at
                .saturating_sub(chrono::Utc::now().timestamp().max(0) as u64);
            tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(left)) => {
                        let _ = tx
                            .send(Err(Status::unauthenticated(
                                "the token expired: reconnect with a fresh one and your last cursor",
                            )))
                            .await;
                        stop.cancel();
                    }
                    _ = stop.cancelled() => {}
                    _ = tx.closed() => {}
                }
            });
        }
        tokio::spawn(async move {
            let _slot = slot;
            api.feed
                .stream(
                    api.pool.clone(),
                    filter,
                    start,
                    api.watch_heartbeat,
                    tx,
                    stop,
                )
                .await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    #[tracing::instrument(name = "UpdateCase", skip_all, fields(case_id))]
    async fn update_case(
        &self,
        request: Request<pb::UpdateCaseRequest>,
    ) -> Result<Response<pb::UpdateCaseResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = v.id("case_id", &r.case_id);
        let status = match CaseStatus::try_from(r.status) {
            Ok(CaseStatus::Unspecified) => None,
            Ok(s) => Some(s),
            Err(_) => {
                v.add("status", format!("{} is not a CaseStatus", r.status));
                None
            }
        };
        v.check(
            r.expected_version >= 0,
            "expected_version",
            "must be a version the case had (or 0: no check)",
        );
        let note = optional_text(&mut v, "note", &r.note, MAX_DESCRIPTION_CHARS);
        let public_reply = optional_text(
            &mut v,
            "public_reply",
            &r.public_reply,
            MAX_DESCRIPTION_CHARS,
        );
        let external_ref = optional_text(&mut v, "external_ref", &r.external_ref, MAX_EXTERNAL_REF);
        v.into_result()?;
        let Some(id) = id else {
            return Err(invalid("case_id", "must be a UUID"));
        };
        tracing::Span::current().record("case_id", tracing::field::display(id));
        self.ensure_case(&caller, id).await?;
        let case = self
            .cases
            .update(app::UpdateCase {
                id,
                status,
                note,
                public_reply,
                external_ref,
                expected_version: (r.expected_version > 0).then_some(r.expected_version),
                actor: caller.subject,
            })
            .await
            .map_err(|e| case_status("updating the case", e))?;
        Ok(Response::new(pb::UpdateCaseResponse { case: Some(case) }))
    }
}
