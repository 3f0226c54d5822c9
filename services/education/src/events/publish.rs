//! The events education publishes, built from rows (pure); the use cases enqueue them in the
//! change's transaction.

use kit::{bus::NewEvent, time::to_timestamp};
use redsupply_proto::{
    events::v1 as ev,
    subjects::education::{
        ACTIVITY_ATTENDED, ACTIVITY_CHANGED, ACTIVITY_SIGN_UP_CHANGED, ATTENDANCE_RECORDED,
        LEARNING_SITE_CREATED, LECTURE_SERIES_CHANGED, SOURCE,
    },
};
use uuid::Uuid;

use crate::store::{
    ActivityAttendanceRow, ActivityRow, AttendanceRow, SeriesRow, SessionRow, SignUpRow, SiteRow,
};

fn opt_id(id: Option<Uuid>) -> String {
    id.map(|i| i.to_string()).unwrap_or_default()
}

pub fn learning_site_created(row: &SiteRow) -> NewEvent {
    let msg = ev::LearningSiteCreated {
        site_id: row.id.to_string(),
        name: row.name.clone(),
        community_id: row.community_id.map(|c| c.to_string()).unwrap_or_default(),
        capacity: row.capacity,
        occurred_at: Some(to_timestamp(row.created_at)),
    };
    NewEvent::new(SOURCE, LEARNING_SITE_CREATED, row.id, &msg)
}

pub fn attendance_recorded(row: &AttendanceRow, session: &SessionRow, worker: Uuid) -> NewEvent {
    let msg = ev::AttendanceRecorded {
        attendance_id: row.id.to_string(),
        session_id: session.id.to_string(),
        worker_id: worker.to_string(),
        course_id: session.course_id.to_string(),
        theme: i32::from(session.theme),
        format: i32::from(session.format),
        checked_in_at: Some(to_timestamp(row.checked_in_at)),
    };
    NewEvent::new(SOURCE, ATTENDANCE_RECORDED, row.id, &msg)
}

pub fn lecture_series_changed(row: &SeriesRow) -> NewEvent {
    let msg = ev::LectureSeriesChanged {
        series_id: row.id.to_string(),
        title: row.title.clone(),
        theme: i32::from(row.theme),
        year: row.year,
        version: row.version,
        occurred_at: Some(to_timestamp(chrono::Utc::now())),
    };
    NewEvent::new(SOURCE, LECTURE_SERIES_CHANGED, row.id, &msg)
}

pub fn activity_changed(row: &ActivityRow) -> NewEvent {
    let msg = ev::ActivityChanged {
        activity_id: row.id.to_string(),
        kind: i32::from(row.kind),
        title: row.title.clone(),
        community_id: opt_id(row.community_id),
        series_id: opt_id(row.series_id),
        starts_at: Some(to_timestamp(row.starts_at)),
        ends_at: Some(to_timestamp(row.ends_at)),
        capacity: row.capacity,
        version: row.version,
        occurred_at: Some(to_timestamp(row.changed_at.unwrap_or(row.created_at))),
        cancelled: row.cancelled_at.is_some(),
        reason: row.cancel_reason.clone(),
        changed_by: row.changed_by.clone().unwrap_or_default(),
    };
    NewEvent::new(SOURCE, ACTIVITY_CHANGED, row.id, &msg)
}

pub fn sign_up_changed(row: &SignUpRow) -> NewEvent {
    let msg = ev::ActivitySignUpChanged {
        activity_id: row.activity_id.to_string(),
        worker_id: row.worker_id.to_string(),
        cancelled: row.cancelled_at.is_some(),
        version: row.version,
        occurred_at: Some(to_timestamp(chrono::Utc::now())),
    };
    NewEvent::new(SOURCE, ACTIVITY_SIGN_UP_CHANGED, row.activity_id, &msg)
}

pub fn activity_attended(row: &ActivityAttendanceRow, activity: &ActivityRow) -> NewEvent {
    let msg = ev::ActivityAttended {
        attendance_id: row.id.to_string(),
        activity_id: activity.id.to_string(),
        worker_id: row.worker_id.to_string(),
        kind: i32::from(activity.kind),
        series_id: opt_id(activity.series_id),
        checked_in_at: Some(to_timestamp(row.checked_in_at)),
    };
    NewEvent::new(SOURCE, ACTIVITY_ATTENDED, row.id, &msg)
}
