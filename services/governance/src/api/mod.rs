//! gRPC in and out for governance: `GovernanceService` ([`governance`]: tips and cases, for
//! workers and county staff) and `GridGatewayService` ([`gateway`]: for municipal grid systems).
//! Here: who may call what (the role lists), the service state, and what both share — turning a
//! use case's refusal into a status and reading optional fields.

mod gateway;
mod governance;
mod policy;
mod references;
mod validate;
pub mod volunteers;

pub use policy::POLICIES;

use std::time::Duration;

use chrono::Utc;
use kit::{
    Shutdown,
    api::{Violations, internal, not_found},
    auth::{Caller, Visible},
    time::from_timestamp,
};
use sqlx::PgPool;
use tonic::Status;
use uuid::Uuid;

use crate::{
    app::{self, CaseError, feed::Feed},
    domain::{self},
    store,
};

/// The longest platform reference kept (it is copied into every feed message of its case).
const MAX_EXTERNAL_REF: usize = 128;
/// The longest department name (a routing key).
const MAX_DEPARTMENT: usize = 64;
/// The longest reason staff give for a reroute or a rejection.
const MAX_REASON: usize = 500;

#[derive(Clone)]
pub struct Api {
    pub pool: PgPool,
    pub feed: Feed,
    pub shutdown: Shutdown,
    pub watch_heartbeat: Duration,
    /// Where the county lies: tips outside it are refused.
    pub county: kit::geo::Extent,
    /// Open `WatchCases` streams per caller.
    pub watch_streams: kit::limit::Slots,
    pub routing: std::sync::Arc<domain::RoutingSettings>,
    /// 0: no limit.
    pub tips_per_minute: u32,
    /// Group commit of SubmitTip.
    pub intake: app::intake::Intake,
    /// The case write path.
    pub cases: app::Cases,
    /// The grids' shapes, to place a tip that has no case yet.
    pub grids: app::grids::Grids,
}

/// The grids a caller's lists cover.
fn grid_scope(caller: &Caller) -> store::GridScope {
    match caller.visible() {
        Visible::County => store::GridScope::default(),
        Visible::Only { communities, grids } => store::GridScope {
            grids: Some(grids),
            communities,
        },
    }
}

impl Api {
    /// PERMISSION_DENIED unless a case in `grid` (None: the county queue) is in the caller's
    /// scope: one of its grids, or a grid of one of its communities.
    async fn ensure_grid(&self, caller: &Caller, grid: Option<Uuid>) -> Result<(), Status> {
        if caller.visible().grid(grid, None) {
            return Ok(());
        }
        let community = match grid {
            Some(g) => store::grid_community(&self.pool, g)
                .await
                .map_err(|e| internal("checking the caller's scope", e))?,
            None => None,
        };
        caller.ensure_grid(grid, community)
    }

    /// [`ensure_grid`](Self::ensure_grid) for a case (NOT_FOUND when there is none).
    async fn ensure_case(&self, caller: &Caller, case: Uuid) -> Result<(), Status> {
        if caller.is_county() {
            return Ok(());
        }
        let grid: Option<Option<Uuid>> = store::case_exists_in(&self.pool, case)
            .await
            .map_err(|e| internal("checking the caller's scope", e))?;
        match grid {
            None => Err(not_found("case", case)),
            Some(grid) => self.ensure_grid(caller, grid).await,
        }
    }

    /// [`ensure_grid`](Self::ensure_grid) for the case a tip belongs to, or for the grid its
    /// location lies in while it has none.
    async fn ensure_tip(&self, caller: &Caller, tip: &store::TipRow) -> Result<(), Status> {
        let grid = match tip.case_id {
            Some(case) => store::case_exists_in(&self.pool, case)
                .await
                .map_err(|e| internal("checking the caller's scope", e))?
                .flatten(),
            None => self.grids.current().locate(tip.latitude, tip.longitude),
        };
        self.ensure_grid(caller, grid).await
    }
}

/// The status a refused or failed case use case answers with; store failures keep their cause.
fn case_status(context: &str, e: CaseError) -> Status {
    match e {
        CaseError::NotFound(what, id) => not_found(what, id),
        CaseError::Stale { current, .. } => {
            let message = e.to_string();
            let mut details = tonic_types::ErrorDetails::new();
            details.set_error_info(
                "CASE_VERSION_MISMATCH",
                "redsupply.governance",
                [("current_version".to_owned(), current.to_string())],
            );
            <Status as tonic_types::StatusExt>::with_error_details(
                tonic::Code::Aborted,
                message,
                details,
            )
        }
        CaseError::Refused(m) => Status::failed_precondition(m),
        CaseError::Invalid(field, m) => kit::api::invalid(field, m),
        CaseError::Forbidden(m) => Status::permission_denied(m),
        CaseError::Store(e) => internal(context, e),
    }
}

/// A timestamp field: None when absent, a violation when not a valid instant.
fn optional_time(
    v: &mut Violations,
    field: &str,
    t: Option<&prost_types::Timestamp>,
) -> Option<chrono::DateTime<Utc>> {
    let t = t?;
    let at = from_timestamp(t);
    v.check(at.is_some(), field, "is not a valid timestamp");
    at
}

/// An optional bounded text field: None when empty (after trimming).
fn optional_text(v: &mut Violations, field: &str, value: &str, max: usize) -> Option<String> {
    let value = v.text(field, value, max, false);
    (!value.is_empty()).then(|| value.to_owned())
}
