//! Rows to protobuf: what education answers with.

use kit::time::to_timestamp;
use redsupply_proto::education::v1 as pb;

use crate::store::{AttendanceRow, CourseRow, LecturerRow, SessionRow, SiteRow};

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
