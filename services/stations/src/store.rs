//! Stations and ledger SQL. A ledger entry, its balance update and its event share a transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StationRow {
    pub id: Uuid,
    pub name: String,
    pub tier: i16,
    pub host: i16,
    pub latitude: f64,
    pub longitude: f64,
    pub address: String,
    pub amenities: Vec<i16>,
}

pub struct NewStation<'a> {
    pub name: &'a str,
    pub tier: i16,
    pub host: i16,
    pub latitude: f64,
    pub longitude: f64,
    pub address: &'a str,
    pub amenities: &'a [i16],
}

/// Inserts or updates a station by name (the demo seed runs more than once).
pub async fn upsert_station(pool: &PgPool, s: &NewStation<'_>) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO stations (id, name, tier, host, latitude, longitude, address, amenities)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (name) DO UPDATE SET tier = EXCLUDED.tier, host = EXCLUDED.host,
             latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude,
             address = EXCLUDED.address, amenities = EXCLUDED.amenities
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(s.name)
    .bind(s.tier)
    .bind(s.host)
    .bind(s.latitude)
    .bind(s.longitude)
    .bind(s.address)
    .bind(s.amenities)
    .fetch_one(pool)
    .await
}

macro_rules! station_columns {
    () => {
        "id, name, tier, host, latitude, longitude, address, amenities"
    };
}

/// Stations offering `amenity` (any when `None`) within a bounding box around the point.
pub async fn stations_in_box(
    pool: &PgPool,
    amenity: Option<i16>,
    lat_min: f64,
    lat_max: f64,
    lng_min: f64,
    lng_max: f64,
) -> Result<Vec<StationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        station_columns!(),
        " FROM stations
         WHERE ($1::smallint IS NULL OR $1 = ANY(amenities))
           AND latitude BETWEEN $2 AND $3 AND longitude BETWEEN $4 AND $5"
    ))
    .bind(amenity)
    .bind(lat_min)
    .bind(lat_max)
    .bind(lng_min)
    .bind(lng_max)
    .fetch_all(pool)
    .await
}

pub async fn station(pool: &PgPool, id: Uuid) -> Result<Option<StationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        station_columns!(),
        " FROM stations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: Uuid,
    pub worker_id: Uuid,
    pub points: i64,
    pub reason: String,
    pub source_event_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// Appends an entry unless one exists for (source event, reason); updates the balance. Returns
/// the entry and the new balance when it was appended.
pub async fn append_entry(
    tx: &mut PgConnection,
    worker_id: Uuid,
    points: i64,
    reason: &str,
    source_event_id: Uuid,
) -> Result<Option<(EntryRow, i64)>, sqlx::Error> {
    let entry: Option<EntryRow> = sqlx::query_as(
        "INSERT INTO ledger_entries (id, worker_id, points, reason, source_event_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (source_event_id, reason) DO NOTHING
         RETURNING id, worker_id, points, reason, source_event_id, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(worker_id)
    .bind(points)
    .bind(reason)
    .bind(source_event_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(entry) = entry else {
        return Ok(None);
    };
    let balance: i64 = sqlx::query_scalar(
        "INSERT INTO balances (worker_id, points) VALUES ($1, $2)
         ON CONFLICT (worker_id) DO UPDATE SET points = balances.points + EXCLUDED.points, updated_at = now()
         RETURNING points",
    )
    .bind(worker_id)
    .bind(points)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Some((entry, balance)))
}

pub async fn balance(pool: &PgPool, worker_id: Uuid) -> Result<i64, sqlx::Error> {
    Ok(
        sqlx::query_scalar("SELECT points FROM balances WHERE worker_id = $1")
            .bind(worker_id)
            .fetch_optional(pool)
            .await?
            .unwrap_or(0),
    )
}

pub async fn entries(
    pool: &PgPool,
    worker_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, worker_id, points, reason, source_event_id, created_at FROM ledger_entries
         WHERE worker_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
    )
    .bind(worker_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}
