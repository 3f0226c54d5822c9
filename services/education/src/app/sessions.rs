//! Scheduling sessions and checking workers in: the use cases with their refusals, each one
//! transaction. A booking locks its lecturer and site rows, so two bookings of the same lecturer
//! or site cannot both pass the clash check; a check-in locks its session row, so capacity holds
//! however many workers check in at once.

use chrono::{DateTime, Duration, Utc};
use kit::bus::enqueue;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    domain,
    events::publish,
    store::{self, AttendanceRow, CodeTarget, NewSession, SessionRow},
};

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("lecturer {0} not found")]
    UnknownLecturer(Uuid),
    #[error("learning site {0} not found")]
    UnknownSite(Uuid),
    #[error("course {0} not found")]
    UnknownCourse(Uuid),
    #[error("lecture series {0} not found")]
    UnknownSeries(Uuid),
    #[error("lecturer {0} is not available for teaching")]
    LecturerUnavailable(Uuid),
    #[error("capacity {requested} exceeds the site's {site} seats")]
    OverCapacity { requested: i32, site: i32 },
    #[error("the {what} is already booked for session {session} from {starts_at} to {ends_at}")]
    Clash {
        what: &'static str,
        session: Uuid,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub struct Booking {
    pub course_id: Uuid,
    pub site_id: Uuid,
    pub lecturer_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    /// 0: the site's capacity.
    pub capacity: i32,
    /// The lecture series it belongs to, if any.
    pub series_id: Option<Uuid>,
}

pub async fn schedule(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    b: &Booking,
) -> Result<SessionRow, ScheduleError> {
    let mut tx = pool.begin().await?;
    if let Some(existing) = store::session_by_request(&mut tx, caller, request_id).await? {
        return Ok(existing);
    }
    // Always lecturer first, then site: one lock order, no deadlocks.
    let available = store::lock_lecturer(&mut tx, b.lecturer_id)
        .await?
        .ok_or(ScheduleError::UnknownLecturer(b.lecturer_id))?;
    let site_capacity = store::lock_site(&mut tx, b.site_id)
        .await?
        .ok_or(ScheduleError::UnknownSite(b.site_id))?;
    // A concurrent retry may have booked it while we waited for the locks.
    if let Some(existing) = store::session_by_request(&mut tx, caller, request_id).await? {
        return Ok(existing);
    }
    let course = store::course(&mut tx, b.course_id)
        .await?
        .ok_or(ScheduleError::UnknownCourse(b.course_id))?;
    if !available {
        return Err(ScheduleError::LecturerUnavailable(b.lecturer_id));
    }
    if let Some(series) = b.series_id
        && store::series(&mut tx, series).await?.is_none()
    {
        return Err(ScheduleError::UnknownSeries(series));
    }
    let capacity = if b.capacity == 0 {
        site_capacity
    } else {
        b.capacity
    };
    if capacity > site_capacity {
        return Err(ScheduleError::OverCapacity {
            requested: capacity,
            site: site_capacity,
        });
    }
    let ends_at = b
        .ends_at
        .unwrap_or(b.starts_at + Duration::minutes(i64::from(course.duration_minutes)));
    if let Some(c) = store::clash(&mut tx, b.lecturer_id, b.site_id, b.starts_at, ends_at).await? {
        return Err(ScheduleError::Clash {
            what: if c.lecturer_id == b.lecturer_id {
                "lecturer"
            } else {
                "site"
            },
            session: c.id,
            starts_at: c.starts_at,
            ends_at: c.ends_at,
        });
    }
    let id = store::insert_session(
        &mut tx,
        caller,
        request_id,
        &NewSession {
            course_id: b.course_id,
            site_id: b.site_id,
            lecturer_id: b.lecturer_id,
            starts_at: b.starts_at,
            ends_at,
            capacity,
            series_id: b.series_id,
        },
    )
    .await?;
    let row = store::session(&mut tx, id).await?.expect("inserted above");
    tx.commit().await?;
    Ok(row)
}

#[derive(Debug, thiserror::Error)]
pub enum CheckInError {
    #[error("session {0} not found")]
    UnknownSession(Uuid),
    #[error("check-in for this session is open from {from} to {until}")]
    OutsideWindow {
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    #[error("is not a check-in code of this session")]
    WrongCode,
    #[error("this code was already used")]
    CodeUsed,
    #[error("the session is full ({capacity} seats)")]
    Full { capacity: i32 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Issues `count` single-use codes for a session; returns them with their validity window.
pub async fn issue_codes(
    pool: &PgPool,
    session: Uuid,
    count: usize,
) -> Result<(Vec<String>, DateTime<Utc>, DateTime<Utc>), CheckInError> {
    let mut tx = pool.begin().await?;
    let s = store::session(&mut tx, session)
        .await?
        .ok_or(CheckInError::UnknownSession(session))?;
    let codes = fresh_codes(&mut tx, CodeTarget::Session(session), count).await?;
    tx.commit().await?;
    let (from, until) = domain::check_in_window(s.starts_at, s.ends_at);
    Ok((codes, from, until))
}

/// Stores `count` new single-use codes admitting to `target` (a session or an activity), drawing
/// again for any that collide with a code already issued.
pub(super) async fn fresh_codes(
    tx: &mut PgConnection,
    target: CodeTarget,
    count: usize,
) -> Result<Vec<String>, sqlx::Error> {
    let mut codes = Vec::with_capacity(count);
    while codes.len() < count {
        let fresh: Vec<String> = {
            let mut rng = rand::rng();
            (codes.len()..count)
                .map(|_| domain::new_code(&mut rng))
                .collect()
        };
        codes.extend(store::insert_codes(&mut *tx, target, &fresh).await?);
    }
    Ok(codes)
}

/// Checks a worker in with a code. A retry by the same worker returns the same attendance.
pub async fn check_in(
    pool: &PgPool,
    session: Uuid,
    worker: Uuid,
    code: &str,
    now: DateTime<Utc>,
) -> Result<AttendanceRow, CheckInError> {
    let mut tx = pool.begin().await?;
    if !store::lock_session(&mut tx, session).await? {
        return Err(CheckInError::UnknownSession(session));
    }
    if let Some(done) = store::attendance_of(&mut tx, session, worker).await? {
        return Ok(done);
    }
    let s = store::session(&mut tx, session)
        .await?
        .ok_or(CheckInError::UnknownSession(session))?;
    if !domain::within_check_in_window(now, s.starts_at, s.ends_at) {
        let (from, until) = domain::check_in_window(s.starts_at, s.ends_at);
        return Err(CheckInError::OutsideWindow { from, until });
    }
    let code_row = store::lock_code(&mut tx, code)
        .await?
        .filter(|c| c.admits(CodeTarget::Session(session)))
        .ok_or(CheckInError::WrongCode)?;
    if code_row.used_by.is_some() {
        return Err(CheckInError::CodeUsed);
    }
    if store::attendance_count(&mut tx, session).await? >= i64::from(s.capacity) {
        return Err(CheckInError::Full {
            capacity: s.capacity,
        });
    }
    let row = record_attendance(&mut tx, &s, worker, Some(code), now).await?;
    tx.commit().await?;
    Ok(row)
}

/// Writes the attendance and its `AttendanceRecorded` event (also used by the demo seed for
/// sessions already held).
pub async fn record_attendance(
    tx: &mut PgConnection,
    session: &SessionRow,
    worker: Uuid,
    code: Option<&str>,
    at: DateTime<Utc>,
) -> Result<AttendanceRow, sqlx::Error> {
    let row = store::insert_attendance(tx, session.id, worker, code, at).await?;
    enqueue(tx, publish::attendance_recorded(&row, session, worker)).await?;
    Ok(row)
}

/// Records that `workers` attended `session` at `at`, each once (a worker already recorded is
/// left as is), with their events, in one transaction: the demo seed's past trainings.
pub async fn record_past_attendance(
    pool: &PgPool,
    session: &SessionRow,
    workers: &[Uuid],
    at: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut recorded = 0;
    for worker in workers {
        if store::attendance_of(&mut tx, session.id, *worker)
            .await?
            .is_none()
        {
            record_attendance(&mut tx, session, *worker, None, at).await?;
            recorded += 1;
        }
    }
    tx.commit().await?;
    Ok(recorded)
}
