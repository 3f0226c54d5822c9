//! The catalogue: lecturers and courses, created once per caller's `request_id`. Nothing else
//! listens to them, so they publish no event; the API and the demo seed both add them here.

use sqlx::PgPool;

use crate::store::{self, CourseRow, LecturerRow, NewCourse};

/// Adds a lecturer (a retry with the same request id answers the first one).
pub async fn add_lecturer(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    name: &str,
    department: &str,
    expertise: &[String],
) -> Result<LecturerRow, sqlx::Error> {
    store::insert_lecturer(pool, caller, request_id, name, department, expertise).await
}

/// Adds a course (a retry with the same request id answers the first one).
pub async fn add_course(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    course: &NewCourse<'_>,
) -> Result<CourseRow, sqlx::Error> {
    store::insert_course(pool, caller, request_id, course).await
}
