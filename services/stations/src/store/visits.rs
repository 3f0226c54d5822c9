//! Visits to stations and the usage they add up to.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

macro_rules! visit_columns {
    () => {
        "id, station_id, worker_id, amenities_used, visited_at, proof, distance_meters"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VisitRow {
    pub id: Uuid,
    pub station_id: Uuid,
    pub worker_id: Uuid,
    pub amenities_used: Vec<i16>,
    pub visited_at: DateTime<Utc>,
    /// 0 none (before proofs), 1 the worker's location, 2 staff.
    pub proof: i16,
    pub distance_meters: Option<f64>,
}

/// The visit the worker recorded under `request_id`, if any.
pub async fn visit_by_request(
    tx: &mut PgConnection,
    worker: Uuid,
    request_id: &str,
) -> Result<Option<VisitRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        visit_columns!(),
        " FROM visits WHERE worker_id = $1 AND request_id = $2"
    ))
    .bind(worker)
    .bind(request_id)
    .fetch_optional(tx)
    .await
}

pub struct NewVisit<'a> {
    pub request_id: &'a str,
    pub station: Uuid,
    pub worker: Uuid,
    pub amenities: &'a [i16],
    pub proof: i16,
    pub distance_meters: Option<f64>,
}

/// Records a visit (idempotent on the worker's request id) inside the caller's transaction.
pub async fn record_visit(
    tx: &mut PgConnection,
    v: &NewVisit<'_>,
) -> Result<VisitRow, sqlx::Error> {
    let insert = sqlx::query_as(concat!(
        "INSERT INTO visits (id, station_id, worker_id, amenities_used, request_id, proof, distance_meters)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (worker_id, request_id) DO NOTHING RETURNING ",
        visit_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(v.station)
    .bind(v.worker)
    .bind(v.amenities)
    .bind(v.request_id)
    .bind(v.proof)
    .bind(v.distance_meters);
    let existing = sqlx::query_as(concat!(
        "SELECT ",
        visit_columns!(),
        " FROM visits WHERE worker_id = $1 AND request_id = $2"
    ))
    .bind(v.worker)
    .bind(v.request_id);
    Ok(kit::db::create_once(tx, insert, existing).await?.0)
}

pub struct Usage {
    pub visits: i64,
    pub workers: i64,
    pub by_amenity: Vec<(i16, i64)>,
    pub by_hour: Vec<(i32, i64)>,
}

/// Visits to a station in [from, until): totals, per amenity used, per local hour of day.
pub async fn usage(
    pool: &PgPool,
    station: Uuid,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    utc_offset_minutes: i32,
) -> Result<Usage, sqlx::Error> {
    let (visits, workers): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT worker_id) FROM visits
         WHERE station_id = $1 AND ($2::timestamptz IS NULL OR visited_at >= $2) AND ($3::timestamptz IS NULL OR visited_at < $3)",
    )
    .bind(station)
    .bind(from)
    .bind(until)
    .fetch_one(pool)
    .await?;
    let by_amenity = sqlx::query_as(
        "SELECT a, count(*) FROM visits, unnest(amenities_used) AS a
         WHERE station_id = $1 AND ($2::timestamptz IS NULL OR visited_at >= $2) AND ($3::timestamptz IS NULL OR visited_at < $3)
         GROUP BY a ORDER BY a",
    )
    .bind(station)
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await?;
    let by_hour = sqlx::query_as(
        "SELECT extract(hour FROM (visited_at AT TIME ZONE 'UTC') + make_interval(mins => $4))::int AS h, count(*)
         FROM visits
         WHERE station_id = $1 AND ($2::timestamptz IS NULL OR visited_at >= $2) AND ($3::timestamptz IS NULL OR visited_at < $3)
         GROUP BY h ORDER BY h",
    )
    .bind(station)
    .bind(from)
    .bind(until)
    .bind(utc_offset_minutes)
    .fetch_all(pool)
    .await?;
    Ok(Usage {
        visits,
        workers,
        by_amenity,
        by_hour,
    })
}
