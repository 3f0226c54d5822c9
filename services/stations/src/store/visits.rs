//! Visits to stations and the usage they add up to.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VisitRow {
    pub id: Uuid,
    pub station_id: Uuid,
    pub worker_id: Uuid,
    pub amenities_used: Vec<i16>,
    pub visited_at: DateTime<Utc>,
}

/// Records a visit (idempotent on the worker's request id) inside the caller's transaction.
pub async fn record_visit(
    tx: &mut PgConnection,
    request_id: &str,
    station: Uuid,
    worker: Uuid,
    amenities: &[i16],
) -> Result<VisitRow, sqlx::Error> {
    let inserted: Option<VisitRow> = sqlx::query_as(
        "INSERT INTO visits (id, station_id, worker_id, amenities_used, request_id) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (worker_id, request_id) DO NOTHING
         RETURNING id, station_id, worker_id, amenities_used, visited_at",
    )
    .bind(Uuid::now_v7())
    .bind(station)
    .bind(worker)
    .bind(amenities)
    .bind(request_id)
    .fetch_optional(&mut *tx)
    .await?;
    match inserted {
        Some(v) => Ok(v),
        None => {
            sqlx::query_as(
                "SELECT id, station_id, worker_id, amenities_used, visited_at FROM visits
                 WHERE worker_id = $1 AND request_id = $2",
            )
            .bind(worker)
            .bind(request_id)
            .fetch_one(tx)
            .await
        }
    }
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
