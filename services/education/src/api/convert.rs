//! Rows to protobuf: what education answers with.

use kit::time::to_timestamp;
use redsupply_proto::education::v1 as pb;

use crate::store::{
    ActivityAttendanceRow, ActivityRow, AttendanceRow, CourseRow, LecturerRow, SeriesRow,
    SessionRow, SignUpRow, SiteRow,
};

pub(super) fn site_to_pb(s: SiteRow) -> pb::LearningSite {
    pb::LearningSite {
        id: s.id.to_string(),
        name: s.name,
        community_id: s.community_id.map(|c| c.to_string()).unwrap_or_default(),
        address: s.address,
        capacity: s.capacity,
        created_at: Some(to_timestamp(s.created_at)),
    }
}

pub(super) fn lecturer_to_pb(l: LecturerRow) -> pb::Lecturer {
    pb::Lecturer {
        id: l.id.to_string(),
        name: l.name,
        department: l.department,
        expertise: l.expertise,
        available: l.available,
        version: l.version,
    }
}

pub(super) fn course_to_pb(c: CourseRow) -> pb::Course {
    pb::Course {
        id: c.id.to_string(),
        title: c.title,
        format: i32::from(c.format),
        theme: i32::from(c.theme),
        duration_minutes: c.duration_minutes,
        description: c.description,
    }
}

pub(super) fn session_to_pb(s: SessionRow) -> pb::Session {
    pb::Session {
        id: s.id.to_string(),
        course_id: s.course_id.to_string(),
        site_id: s.site_id.to_string(),
        lecturer_id: s.lecturer_id.to_string(),
        starts_at: Some(to_timestamp(s.starts_at)),
        ends_at: Some(to_timestamp(s.ends_at)),
        capacity: s.capacity,
        attendance_count: s.attendance_count as i32,
        format: i32::from(s.format),
        theme: i32::from(s.theme),
        course_title: s.course_title,
        series_id: s.series_id.map(|l| l.to_string()).unwrap_or_default(),
    }
}

pub(super) fn attendance_to_pb(a: AttendanceRow) -> pb::Attendance {
    pb::Attendance {
        id: a.id.to_string(),
        session_id: a.session_id.to_string(),
        worker_id: a.worker_id.to_string(),
        checked_in_at: Some(to_timestamp(a.checked_in_at)),
    }
}

pub(super) fn series_to_pb(s: SeriesRow) -> pb::LectureSeries {
    pb::LectureSeries {
        id: s.id.to_string(),
        title: s.title,
        theme: i32::from(s.theme),
        departments: s.departments,
        year: s.year,
        sessions_held: count(s.sessions_held),
        activities_held: count(s.activities_held),
        attendances: count(s.attendances),
        sessions_scheduled: count(s.sessions_scheduled),
    }
}

fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn opt_id(id: Option<uuid::Uuid>) -> String {
    id.map(|i| i.to_string()).unwrap_or_default()
}

pub(super) fn activity_to_pb(a: ActivityRow) -> pb::Activity {
    pb::Activity {
        id: a.id.to_string(),
        kind: i32::from(a.kind),
        title: a.title,
        description: a.description,
        organizer_community_id: opt_id(a.organizer_community_id),
        organizer_department: a.organizer_department,
        site_id: opt_id(a.site_id),
        station_id: opt_id(a.station_id),
        address: a.address,
        community_id: opt_id(a.community_id),
        starts_at: Some(to_timestamp(a.starts_at)),
        ends_at: Some(to_timestamp(a.ends_at)),
        capacity: a.capacity,
        series_id: opt_id(a.series_id),
        sign_ups: count(a.sign_ups),
        attendance_count: count(a.attendance_count),
        created_at: Some(to_timestamp(a.created_at)),
        cancelled_at: a.cancelled_at.map(to_timestamp),
        cancel_reason: a.cancel_reason,
        version: a.version,
    }
}

pub(super) fn sign_up_to_pb(s: SignUpRow) -> pb::ActivitySignUp {
    pb::ActivitySignUp {
        activity_id: s.activity_id.to_string(),
        worker_id: s.worker_id.to_string(),
        signed_up_at: Some(to_timestamp(s.signed_up_at)),
        cancelled_at: s.cancelled_at.map(to_timestamp),
        version: s.version,
    }
}

pub(super) fn activity_attendance_to_pb(a: ActivityAttendanceRow) -> pb::ActivityAttendance {
    pb::ActivityAttendance {
        id: a.id.to_string(),
        activity_id: a.activity_id.to_string(),
        worker_id: a.worker_id.to_string(),
        checked_in_at: Some(to_timestamp(a.checked_in_at)),
        signed_up: a.signed_up,
    }
}
