//! Activities and their lecture series: announcing them, signing up and cancelling, issuing codes
//! and checking in, each one transaction with its event. An activity's row is locked by every
//! sign-up and check-in, so its seats hold however many workers come at once; a check-in admits a
//! worker once (a retry answers the same attendance) and publishes `ActivityAttended`, from which
//! stations awards points by its rules.

use chrono::{DateTime, Utc};
use kit::bus::enqueue;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::sessions::fresh_codes;
use crate::{
    domain,
    events::publish,
    store::{
        self, ActivityAttendanceRow, ActivityRow, CodeTarget, Correction, NewActivity, NewSeries,
        SeriesRow, SignUpRow,
    },
};

#[derive(Debug, thiserror::Error)]
pub enum ActivityError {
    #[error("activity {0} not found")]
    UnknownActivity(Uuid),
    #[error("lecture series {0} not found")]
    UnknownSeries(Uuid),
    #[error("learning site {0} not found")]
    UnknownSite(Uuid),
    #[error("station {0} not found")]
    UnknownStation(Uuid),
    #[error("station {0} is retired")]
    RetiredStation(Uuid),
    #[error("capacity {requested} exceeds the site's {site} seats")]
    OverCapacity { requested: i32, site: i32 },
    #[error("the activity started at {0}; sign-ups are closed")]
    Started(DateTime<Utc>),
    #[error("every seat of the activity is taken ({capacity} seats)")]
    Full { capacity: i32 },
    #[error("the worker is not signed up for this activity")]
    NotSignedUp,
    #[error("check-in for this activity is open from {from} to {until}")]
    OutsideWindow {
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    #[error("is not a check-in code of this activity")]
    WrongCode,
    #[error("this code was already used")]
    CodeUsed,
    #[error("check-in for the activity opened at {0}; it can no longer be changed")]
    CheckInOpened(DateTime<Utc>),
    #[error("the activity was cancelled: {0}")]
    Cancelled(String),
    #[error("the activity is at version {found}, not the version {expected} read")]
    Stale { found: i64, expected: i64 },
    #[error("{signed_up} workers hold seats; the capacity cannot go below that")]
    BelowSignUps { signed_up: i64 },
    #[error("an activity is moved to a time still to come")]
    InThePast,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Opens a lecture series (a retry with the same request id answers the first one).
pub async fn create_series(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    s: &NewSeries<'_>,
) -> Result<SeriesRow, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (id, new) = match store::insert_series(&mut tx, caller, request_id, s).await? {
        Some(id) => (id, true),
        None => (
            store::series_by_request(&mut tx, caller, request_id)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?,
            false,
        ),
    };
    let row = store::series(&mut tx, id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    if new {
        enqueue(&mut tx, publish::lecture_series_changed(&row)).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// Announces an activity (a retry with the same request id answers the first one). At a learning
/// site, the activity seats at most the site's capacity and belongs to the site's community
/// unless a community organizes it.
pub async fn create_activity(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    a: NewActivity<'_>,
) -> Result<ActivityRow, ActivityError> {
    let mut tx = pool.begin().await?;
    if let Some(existing) = store::activity_by_request(&mut tx, caller, request_id).await? {
        return load_activity(&mut tx, existing).await;
    }
    if let Some(series) = a.series_id
        && store::series(&mut tx, series).await?.is_none()
    {
        return Err(ActivityError::UnknownSeries(series));
    }
    if let Some(site) = a.site_id {
        let seats = store::lock_site(&mut tx, site)
            .await?
            .ok_or(ActivityError::UnknownSite(site))?;
        if a.capacity > seats {
            return Err(ActivityError::OverCapacity {
                requested: a.capacity,
                site: seats,
            });
        }
    }
    if let Some(station) = a.station_id {
        match store::station_retired_in(&mut tx, station).await? {
            None => return Err(ActivityError::UnknownStation(station)),
            Some(true) => return Err(ActivityError::RetiredStation(station)),
            Some(false) => {}
        }
    }
    let (id, new) = match store::insert_activity(&mut tx, caller, request_id, &a).await? {
        Some(id) => (id, true),
        // A retry committed between our look and our insert.
        None => (
            store::activity_by_request(&mut tx, caller, request_id)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?,
            false,
        ),
    };
    let row = load_activity(&mut tx, id).await?;
    if new {
        enqueue(&mut tx, publish::activity_changed(&row)).await?;
    }
    tx.commit().await?;
    Ok(row)
}

async fn load_activity(tx: &mut PgConnection, id: Uuid) -> Result<ActivityRow, ActivityError> {
    store::activity(tx, id)
        .await?
        .ok_or(ActivityError::UnknownActivity(id))
}

/// The refusal a cancelled activity answers, if it is.
fn cancelled(a: &ActivityRow) -> Option<ActivityError> {
    a.cancelled_at
        .map(|_| ActivityError::Cancelled(a.cancel_reason.clone()))
}

/// Whether staff may change `a` now: refused once cancelled, once its check-in opened, or at
/// another version than the one read (0: any).
fn may_change(
    a: &ActivityRow,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<(), ActivityError> {
    if let Some(why) = cancelled(a) {
        return Err(why);
    }
    if expected_version != 0 && expected_version != a.version {
        return Err(ActivityError::Stale {
            found: a.version,
            expected: expected_version,
        });
    }
    // From the opening of check-in (attendance may have earned points by then).
    let (opens, _) = domain::check_in_window(a.starts_at, a.ends_at);
    if now >= opens || a.attendance_count > 0 {
        return Err(ActivityError::CheckInOpened(opens));
    }
    Ok(())
}

/// Corrects an activity until it starts: its seats hold everyone signed up, at a learning site
/// at most its seats; a correction that changes nothing writes nothing.
pub async fn correct_activity(
    pool: &PgPool,
    caller: &str,
    id: Uuid,
    c: &Correction<'_>,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<ActivityRow, ActivityError> {
    let mut tx = pool.begin().await?;
    let a = lock(&mut tx, id).await?;
    // Times as stored: to the microsecond.
    let micros = |t: DateTime<Utc>| t.timestamp_micros();
    let same = a.title == c.title
        && a.description == c.description
        && micros(a.starts_at) == micros(c.starts_at)
        && micros(a.ends_at) == micros(c.ends_at)
        && a.capacity == c.capacity;
    // The same correction again (a retry) answers the activity as it is, even cancelled since.
    if same {
        return Ok(a);
    }
    may_change(&a, expected_version, now)?;
    if c.starts_at <= now {
        return Err(ActivityError::InThePast);
    }
    let held = store::seats(&mut tx, id).await?;
    if i64::from(c.capacity) < held.signed_up + held.walk_ins {
        return Err(ActivityError::BelowSignUps {
            signed_up: held.signed_up + held.walk_ins,
        });
    }
    if let Some(site) = a.site_id {
        let seats = store::lock_site(&mut tx, site)
            .await?
            .ok_or(ActivityError::UnknownSite(site))?;
        if c.capacity > seats {
            return Err(ActivityError::OverCapacity {
                requested: c.capacity,
                site: seats,
            });
        }
    }
    store::correct_activity(&mut tx, id, c, caller).await?;
    let row = load_activity(&mut tx, id).await?;
    enqueue(&mut tx, publish::activity_changed(&row)).await?;
    tx.commit().await?;
    Ok(row)
}

/// Cancels an activity until it starts, with a reason; cancelling it again answers it as it is.
pub async fn cancel_activity(
    pool: &PgPool,
    caller: &str,
    id: Uuid,
    reason: &str,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<ActivityRow, ActivityError> {
    let mut tx = pool.begin().await?;
    let a = lock(&mut tx, id).await?;
    if a.cancelled_at.is_some() {
        return Ok(a);
    }
    may_change(&a, expected_version, now)?;
    store::cancel_activity(&mut tx, id, reason, caller).await?;
    let row = load_activity(&mut tx, id).await?;
    enqueue(&mut tx, publish::activity_changed(&row)).await?;
    tx.commit().await?;
    Ok(row)
}

/// Locks the activity and loads it.
async fn lock(tx: &mut PgConnection, id: Uuid) -> Result<ActivityRow, ActivityError> {
    if !store::lock_activity(tx, id).await? {
        return Err(ActivityError::UnknownActivity(id));
    }
    load_activity(tx, id).await
}

/// Signs a worker up until the activity starts, while a seat is free; signing up again answers
/// the sign-up as it stands.
pub async fn sign_up(
    pool: &PgPool,
    activity: Uuid,
    worker: Uuid,
    now: DateTime<Utc>,
) -> Result<SignUpRow, ActivityError> {
    let mut tx = pool.begin().await?;
    let a = lock(&mut tx, activity).await?;
    if let Some(s) = store::sign_up_of(&mut tx, activity, worker).await?
        && s.cancelled_at.is_none()
    {
        return Ok(s);
    }
    if let Some(why) = cancelled(&a) {
        return Err(why);
    }
    if now >= a.starts_at {
        return Err(ActivityError::Started(a.starts_at));
    }
    if !store::seats(&mut tx, activity).await?.admits_sign_up() {
        return Err(ActivityError::Full {
            capacity: a.capacity,
        });
    }
    let row = store::upsert_sign_up(&mut tx, activity, worker).await?;
    enqueue(&mut tx, publish::sign_up_changed(&row)).await?;
    tx.commit().await?;
    Ok(row)
}

/// Cancels a sign-up (before the activity starts); cancelling again answers it as it stands.
pub async fn cancel_sign_up(
    pool: &PgPool,
    activity: Uuid,
    worker: Uuid,
    now: DateTime<Utc>,
) -> Result<SignUpRow, ActivityError> {
    let mut tx = pool.begin().await?;
    let a = lock(&mut tx, activity).await?;
    let current = store::sign_up_of(&mut tx, activity, worker)
        .await?
        .ok_or(ActivityError::NotSignedUp)?;
    if current.cancelled_at.is_some() {
        return Ok(current);
    }
    if now >= a.starts_at {
        return Err(ActivityError::Started(a.starts_at));
    }
    let row = store::cancel_sign_up(&mut tx, activity, worker).await?;
    enqueue(&mut tx, publish::sign_up_changed(&row)).await?;
    tx.commit().await?;
    Ok(row)
}

/// Issues `count` single-use codes for an activity, with their validity window.
pub async fn issue_codes(
    pool: &PgPool,
    activity: Uuid,
    count: usize,
) -> Result<(Vec<String>, DateTime<Utc>, DateTime<Utc>), ActivityError> {
    let mut tx = pool.begin().await?;
    let a = load_activity(&mut tx, activity).await?;
    if let Some(why) = cancelled(&a) {
        return Err(why);
    }
    let codes = fresh_codes(&mut tx, CodeTarget::Activity(activity), count).await?;
    tx.commit().await?;
    let (from, until) = domain::check_in_window(a.starts_at, a.ends_at);
    Ok((codes, from, until))
}

/// Checks a worker in with a code, within the activity's window: a signed-up worker into their
/// held seat, anyone else while a seat is free. A retry answers the same attendance.
pub async fn check_in(
    pool: &PgPool,
    activity: Uuid,
    worker: Uuid,
    code: &str,
    now: DateTime<Utc>,
) -> Result<ActivityAttendanceRow, ActivityError> {
    let mut tx = pool.begin().await?;
    let a = lock(&mut tx, activity).await?;
    if let Some(done) = store::activity_attendance_of(&mut tx, activity, worker).await? {
        return Ok(done);
    }
    if let Some(why) = cancelled(&a) {
        return Err(why);
    }
    if !domain::within_check_in_window(now, a.starts_at, a.ends_at) {
        let (from, until) = domain::check_in_window(a.starts_at, a.ends_at);
        return Err(ActivityError::OutsideWindow { from, until });
    }
    let code_row = store::lock_code(&mut tx, code)
        .await?
        .filter(|c| c.admits(CodeTarget::Activity(activity)))
        .ok_or(ActivityError::WrongCode)?;
    if code_row.used_by.is_some() {
        return Err(ActivityError::CodeUsed);
    }
    let signed_up = store::sign_up_of(&mut tx, activity, worker)
        .await?
        .is_some_and(|s| s.cancelled_at.is_none());
    if !store::seats(&mut tx, activity)
        .await?
        .admits_check_in(signed_up)
    {
        return Err(ActivityError::Full {
            capacity: a.capacity,
        });
    }
    let row = record_attendance(&mut tx, &a, worker, Some(code), signed_up, now).await?;
    tx.commit().await?;
    Ok(row)
}

/// Writes the attendance and its `ActivityAttended` event (also used by the demo seed for
/// activities already held).
pub async fn record_attendance(
    tx: &mut PgConnection,
    a: &ActivityRow,
    worker: Uuid,
    code: Option<&str>,
    signed_up: bool,
    at: DateTime<Utc>,
) -> Result<ActivityAttendanceRow, sqlx::Error> {
    let row = store::insert_activity_attendance(tx, a.id, worker, code, signed_up, at).await?;
    enqueue(tx, publish::activity_attended(&row, a)).await?;
    Ok(row)
}

/// Records that `workers` attended activity `id` at `at`, each once, in one transaction: the demo
/// seed's past activities.
pub async fn record_past_attendance(
    pool: &PgPool,
    id: Uuid,
    workers: &[Uuid],
    at: DateTime<Utc>,
) -> Result<usize, ActivityError> {
    let mut tx = pool.begin().await?;
    let a = lock(&mut tx, id).await?;
    if let Some(why) = cancelled(&a) {
        return Err(why);
    }
    let mut recorded = 0;
    for worker in workers {
        if store::activity_attendance_of(&mut tx, id, *worker)
            .await?
            .is_none()
        {
            record_attendance(&mut tx, &a, *worker, None, false, at).await?;
            recorded += 1;
        }
    }
    tx.commit().await?;
    Ok(recorded)
}
