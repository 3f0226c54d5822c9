//! The events education publishes, built from rows (pure); the use cases enqueue them in the
//! change's transaction.

use kit::{bus::NewEvent, time::to_timestamp};
use redsupply_proto::{
    events::v1 as ev,
    subjects::education::{ATTENDANCE_RECORDED, LEARNING_SITE_CREATED, SOURCE},
};
use uuid::Uuid;

use crate::store::{AttendanceRow, SessionRow, SiteRow};

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
