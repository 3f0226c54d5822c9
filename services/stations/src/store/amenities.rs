//! Amenity states (what each station's amenities are doing) and the workers' reports that move
//! them: staff set a state, reports count distinct workers since staff's last mark, within a
//! window.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AmenityStateRow {
    pub station_id: Uuid,
    pub amenity: i16,
    pub status: i16,
    pub note: String,
    pub updated_at: DateTime<Utc>,
    /// Distinct workers who reported it broken since staff last set it, within the window.
    pub reports: i32,
}

pub async fn amenity_states(
    pool: &PgPool,
    stations: &[Uuid],
) -> Result<Vec<AmenityStateRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT station_id, amenity, status, note, updated_at, reports FROM amenity_states
         WHERE station_id = ANY($1) ORDER BY station_id, amenity",
    )
    .bind(stations)
    .fetch_all(pool)
    .await
}

/// Staff set the amenity's state: reports before now no longer count.
pub async fn set_amenity_status(
    tx: &mut PgConnection,
    station: Uuid,
    amenity: i16,
    status: i16,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO amenity_states (station_id, amenity, status, note, staff_set_at, reports)
         VALUES ($1, $2, $3, $4, clock_timestamp(), 0)
         ON CONFLICT (station_id, amenity) DO UPDATE
           SET status = EXCLUDED.status, note = EXCLUDED.note, updated_at = now(),
               staff_set_at = EXCLUDED.staff_set_at, reports = 0",
    )
    .bind(station)
    .bind(amenity)
    .bind(status)
    .bind(note)
    .execute(tx)
    .await?;
    Ok(())
}

/// The amenity's state, locked (WORKING when nothing was ever set).
pub async fn lock_amenity_state(
    tx: &mut PgConnection,
    station: Uuid,
    amenity: i16,
) -> Result<i16, sqlx::Error> {
    sqlx::query(
        "INSERT INTO amenity_states (station_id, amenity, status) VALUES ($1, $2, 1)
         ON CONFLICT DO NOTHING",
    )
    .bind(station)
    .bind(amenity)
    .execute(&mut *tx)
    .await?;
    sqlx::query_scalar(
        "SELECT status FROM amenity_states WHERE station_id = $1 AND amenity = $2 FOR UPDATE",
    )
    .bind(station)
    .bind(amenity)
    .fetch_one(&mut *tx)
    .await
}

/// Records a worker's report; returns the distinct reporters since staff last set the state,
/// within the last `window_minutes`, this one included.
pub async fn add_amenity_report(
    tx: &mut PgConnection,
    station: Uuid,
    amenity: i16,
    reporter: &str,
    note: &str,
    window_minutes: i32,
) -> Result<i32, sqlx::Error> {
    sqlx::query(
        "INSERT INTO amenity_reports (station_id, amenity, reporter, note, reported_at)
         VALUES ($1, $2, $3, $4, clock_timestamp())",
    )
    .bind(station)
    .bind(amenity)
    .bind(reporter)
    .bind(note)
    .execute(&mut *tx)
    .await?;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT r.reporter) FROM amenity_reports r
         JOIN amenity_states s ON s.station_id = r.station_id AND s.amenity = r.amenity
         WHERE r.station_id = $1 AND r.amenity = $2
           AND r.reported_at > greatest(clock_timestamp() - make_interval(mins => $3),
                                        coalesce(s.staff_set_at, '-infinity'))",
    )
    .bind(station)
    .bind(amenity)
    .bind(window_minutes)
    .fetch_one(&mut *tx)
    .await?;
    Ok(n as i32)
}

/// The state workers' reports gave the amenity (staff's mark and its time are kept).
pub async fn set_reported_status(
    tx: &mut PgConnection,
    station: Uuid,
    amenity: i16,
    status: i16,
    note: &str,
    reports: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE amenity_states SET status = $3, note = $4, reports = $5, updated_at = now()
         WHERE station_id = $1 AND amenity = $2",
    )
    .bind(station)
    .bind(amenity)
    .bind(status)
    .bind(note)
    .bind(reports)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// How many amenity reports `reporter` filed in the last minute, counted under a lock on the
/// reporter (the limit holds across replicas and concurrent calls).
pub async fn reports_in_last_minute(
    tx: &mut PgConnection,
    reporter: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 18))")
        .bind(reporter)
        .execute(&mut *tx)
        .await?;
    sqlx::query_scalar(
        "SELECT count(*) FROM amenity_reports
         WHERE reporter = $1 AND reported_at > clock_timestamp() - interval '1 minute'",
    )
    .bind(reporter)
    .fetch_one(tx)
    .await
}
