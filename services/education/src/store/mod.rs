//! education's SQL, one file per table family; the row types live here. A new row and its
//! event share the transaction the use case (`app`) opened.

macro_rules! session_select {
    () => {
        "SELECT s.id, s.course_id, s.site_id, s.lecturer_id, s.starts_at, s.ends_at, s.capacity,
                (SELECT count(*) FROM attendances a WHERE a.session_id = s.id) AS attendance_count,
                c.format, c.theme, c.title AS course_title, s.series_id
         FROM sessions s JOIN courses c ON c.id = s.course_id "
    };
}

mod activities;
mod activity_changes;
mod attendance;
mod courses;
mod lecturers;
mod registry;
mod sessions;
mod sites;
mod stats;

pub use activities::*;
pub use activity_changes::*;
pub use attendance::*;
pub use courses::*;
pub use lecturers::*;
pub use registry::*;
pub use sessions::*;
pub use sites::*;
pub use stats::*;
