//! `EducationService` and `ActivityService` in and out: the policy table, the RPCs
//! (`education.rs`, `activities.rs`, `activity_changes.rs`), field checks
//! (`validate.rs`), rows to protobuf (`convert.rs`), and here the scope checks and the mapping of
//! the use cases' refusals to statuses.

mod activities;
mod activity_changes;
mod convert;
mod education;
pub mod policy;
mod validate;

use std::collections::BTreeMap;

use chrono::Utc;
use kit::{
    api::{Violations, internal, invalid, not_found, parse_id},
    auth::{Caller, caller},
    time::to_timestamp,
};
use redsupply_proto::{
    education::v1::{
        self as pb, CourseFormat, CourseTheme, education_service_server::EducationService,
    },
    roles::WORKER,
};
use sqlx::PgPool;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};
use uuid::Uuid;

use crate::{
    app::{
        self,
        sessions::{self, Booking, CheckInError, ScheduleError},
        sites,
    },
    domain,
    store::{self, NewCourse, NewSite},
};

const MAX_CODES: i32 = 500;
/// Bounds of text fields, in characters (once trimmed).
const NAME: usize = 100;
const TITLE: usize = 200;
const DESCRIPTION: usize = 2_000;
/// Most expertise tags one lecturer carries.
const MAX_TAGS: usize = 20;
/// Most seats of a site or a session.
const MAX_SEATS: i32 = 10_000;
/// The longest session.
const MAX_SESSION: chrono::Duration = chrono::Duration::hours(24);

#[derive(Clone)]
pub struct Api {
    pub pool: PgPool,
}

/// NOT_FOUND naming the request's field: a reference the request makes names nothing.
fn unknown(field: &str, what: &str, id: Uuid) -> Status {
    Status::not_found(format!("{field}: {what} {id} not found"))
}

fn schedule_status(e: ScheduleError) -> Status {
    match e {
        ScheduleError::UnknownLecturer(id) => unknown("lecturer_id", "lecturer", id),
        ScheduleError::UnknownSite(id) => unknown("site_id", "learning site", id),
        ScheduleError::UnknownCourse(id) => unknown("course_id", "course", id),
        ScheduleError::UnknownSeries(id) => unknown("series_id", "lecture series", id),
        ScheduleError::LecturerUnavailable(_) => Status::failed_precondition(e.to_string()),
        ScheduleError::OverCapacity { .. } => invalid("capacity", e.to_string()),
        ScheduleError::Clash { what, session, .. } => {
            let mut details = ErrorDetails::new();
            details.add_precondition_failure_violation(
                if what == "lecturer" {
                    "LECTURER_BOOKED"
                } else {
                    "SITE_BOOKED"
                },
                format!("sessions/{session}"),
                e.to_string(),
            );
            Status::with_error_details(Code::FailedPrecondition, e.to_string(), details)
        }
        ScheduleError::Database(db) => internal("scheduling the session", db),
    }
}

fn check_in_status(e: CheckInError) -> Status {
    match e {
        CheckInError::UnknownSession(id) => not_found("session", id),
        CheckInError::WrongCode => invalid("code", e.to_string()),
        CheckInError::OutsideWindow { .. } | CheckInError::CodeUsed | CheckInError::Full { .. } => {
            Status::failed_precondition(e.to_string())
        }
        CheckInError::Database(db) => internal("checking in", db),
    }
}

impl Api {
    /// PERMISSION_DENIED unless the session's site is in a community the caller serves;
    /// NOT_FOUND when there is no such session.
    async fn ensure_session(&self, caller: &Caller, session: Uuid) -> Result<(), Status> {
        let community = store::session_community(&self.pool, session)
            .await
            .map_err(|e| internal("checking the caller's scope", e))?
            .ok_or_else(|| not_found("session", session))?;
        caller.ensure_community(community)
    }

    /// NOT_FOUND when a filter names a site or a lecturer this service never recorded.
    async fn ensure_known(&self, site: Option<Uuid>, lecturer: Option<Uuid>) -> Result<(), Status> {
        let fail = |e| internal("checking the filter", e);
        if let Some(s) = site
            && store::site_community(&self.pool, s)
                .await
                .map_err(fail)?
                .is_none()
        {
            return Err(unknown("site_id", "learning site", s));
        }
        if let Some(l) = lecturer
            && !store::lecturer_exists(&self.pool, l).await.map_err(fail)?
        {
            return Err(unknown("lecturer_id", "lecturer", l));
        }
        Ok(())
    }
}
