//! gRPC in and out for governance: `GovernanceService` ([`governance`]: tips and cases, for
//! workers and county staff) and `GridGatewayService` ([`gateway`]: for municipal grid systems).
//! Here: who may call what (the role lists), the service state, and what both share — turning a
//! use case's refusal into a status and reading optional fields.

mod gateway;
mod governance;
mod policy;
mod validate;

pub use policy::POLICIES;

use std::time::Duration;

use chrono::Utc;
use kit::{
    Shutdown,
    api::{Violations, internal, not_found},
    time::from_timestamp,
};
use sqlx::PgPool;
use tonic::Status;

use crate::{
    app::{self, CaseError},
    domain::{self},
    feed::Feed,
};

/// The longest platform reference kept (it is copied into every feed message of its case).
const MAX_EXTERNAL_REF: usize = 128;

#[derive(Clone)]
pub struct Api {
    pub pool: PgPool,
    pub feed: Feed,
    pub shutdown: Shutdown,
    pub watch_heartbeat: Duration,
    pub routing: std::sync::Arc<domain::RoutingSettings>,
    /// 0: no limit.
    pub tips_per_minute: u32,
    /// Group commit of SubmitTip.
    pub intake: crate::intake::Intake,
    /// The case write path.
    pub cases: app::Cases,
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
    let value = value.trim();
    v.check(
        value.chars().count() <= max,
        field,
        format!("must be at most {max} characters"),
    );
    (!value.is_empty()).then(|| value.to_owned())
}
