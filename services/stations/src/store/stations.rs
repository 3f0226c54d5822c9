//! Stations: where they are, what they offer and in what state, for the index and the API.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{Hours, StationPoint};

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
    pub community_id: Option<Uuid>,
    pub always_open: bool,
    pub opens_minute: i32,
    pub closes_minute: i32,
    pub version: i64,
    /// Set while the station is retired.
    pub retired_at: Option<DateTime<Utc>>,
    pub retired_reason: String,
    /// The station's own riding speed (km/h); None: its area's or the county's.
    pub riding_speed_kmh: Option<f64>,
}

impl StationRow {
    pub fn hours(&self) -> Hours {
        Hours {
            always_open: self.always_open,
            opens: self.opens_minute,
            closes: self.closes_minute,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewStation<'a> {
    pub name: &'a str,
    pub tier: i16,
    pub host: i16,
    pub latitude: f64,
    pub longitude: f64,
    pub address: &'a str,
    pub amenities: &'a [i16],
    pub community_id: Option<Uuid>,
    pub hours: Hours,
    /// None: its area's or the county's.
    pub riding_speed_kmh: Option<f64>,
}

/// Inserts or updates a station by name (the demo seed runs more than once); returns it and
/// whether this call changed it (a changed station's version moves on).
pub async fn upsert_station_by_name(
    tx: &mut PgConnection,
    s: &NewStation<'_>,
) -> Result<(StationRow, bool), sqlx::Error> {
    let upsert = sqlx::query_as(concat!(
        "INSERT INTO stations (id, name, tier, host, latitude, longitude, address, amenities, community_id,
                               always_open, opens_minute, closes_minute, riding_speed_kmh, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'seed')
         ON CONFLICT (name) DO UPDATE SET tier = EXCLUDED.tier, host = EXCLUDED.host,
             latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, address = EXCLUDED.address,
             amenities = EXCLUDED.amenities, community_id = EXCLUDED.community_id,
             always_open = EXCLUDED.always_open, opens_minute = EXCLUDED.opens_minute,
             closes_minute = EXCLUDED.closes_minute, riding_speed_kmh = EXCLUDED.riding_speed_kmh,
             version = stations.version + 1
         WHERE (stations.tier, stations.host, stations.latitude, stations.longitude, stations.address,
                stations.amenities, stations.community_id, stations.always_open,
                stations.opens_minute, stations.closes_minute, stations.riding_speed_kmh)
               IS DISTINCT FROM
               (EXCLUDED.tier, EXCLUDED.host, EXCLUDED.latitude, EXCLUDED.longitude, EXCLUDED.address,
                EXCLUDED.amenities, EXCLUDED.community_id, EXCLUDED.always_open,
                EXCLUDED.opens_minute, EXCLUDED.closes_minute, EXCLUDED.riding_speed_kmh)
         RETURNING ",
        station_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(s.name)
    .bind(s.tier)
    .bind(s.host)
    .bind(s.latitude)
    .bind(s.longitude)
    .bind(s.address)
    .bind(s.amenities)
    .bind(s.community_id)
    .bind(s.hours.always_open)
    .bind(s.hours.opens)
    .bind(s.hours.closes)
    .bind(s.riding_speed_kmh);
    let unchanged = sqlx::query_as(concat!(
        "SELECT ",
        station_columns!(),
        " FROM stations WHERE name = $1"
    ))
    .bind(s.name);
    kit::db::create_once(tx, upsert, unchanged).await
}

pub enum Upserted {
    Done(StationRow, bool),
    NotFound,
    StaleVersion(i64),
}

/// Creates (no id; idempotent on the caller's request id) or replaces a station, refusing a stale
/// `expected_version`.
pub async fn save_station(
    tx: &mut PgConnection,
    caller: &str,
    request_id: Option<&str>,
    id: Option<Uuid>,
    expected_version: Option<i64>,
    s: &NewStation<'_>,
) -> Result<Upserted, sqlx::Error> {
    if let Some(id) = id {
        let current: Option<i64> =
            sqlx::query_scalar("SELECT version FROM stations WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(current) = current else {
            return Ok(Upserted::NotFound);
        };
        if expected_version.is_some_and(|v| v != current) {
            return Ok(Upserted::StaleVersion(current));
        }
        let row = sqlx::query_as(concat!(
            "UPDATE stations SET name = $2, tier = $3, host = $4, latitude = $5, longitude = $6,
                 address = $7, amenities = $8, community_id = $9, always_open = $10,
                 opens_minute = $11, closes_minute = $12, riding_speed_kmh = $13, version = version + 1
             WHERE id = $1 RETURNING ",
            station_columns!()
        ))
        .bind(id)
        .bind(s.name)
        .bind(s.tier)
        .bind(s.host)
        .bind(s.latitude)
        .bind(s.longitude)
        .bind(s.address)
        .bind(s.amenities)
        .bind(s.community_id)
        .bind(s.hours.always_open)
        .bind(s.hours.opens)
        .bind(s.hours.closes)
        .bind(s.riding_speed_kmh)
        .fetch_one(&mut *tx)
        .await?;
        return Ok(Upserted::Done(row, true));
    }
    let insert = sqlx::query_as(concat!(
        "INSERT INTO stations (id, name, tier, host, latitude, longitude, address, amenities, community_id,
                               always_open, opens_minute, closes_minute, created_by, request_id,
                               riding_speed_kmh)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (created_by, request_id) DO NOTHING RETURNING ",
        station_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(s.name)
    .bind(s.tier)
    .bind(s.host)
    .bind(s.latitude)
    .bind(s.longitude)
    .bind(s.address)
    .bind(s.amenities)
    .bind(s.community_id)
    .bind(s.hours.always_open)
    .bind(s.hours.opens)
    .bind(s.hours.closes)
    .bind(caller)
    .bind(request_id)
    .bind(s.riding_speed_kmh);
    let existing = sqlx::query_as(concat!(
        "SELECT ",
        station_columns!(),
        " FROM stations WHERE created_by = $1 AND request_id = $2"
    ))
    .bind(caller)
    .bind(request_id);
    let (row, created) = kit::db::create_once(tx, insert, existing).await?;
    Ok(Upserted::Done(row, created))
}

/// A station's community: `None` when there is no such station.
pub async fn station_community(
    pool: &PgPool,
    id: Uuid,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar("SELECT community_id FROM stations WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn station(conn: &mut PgConnection, id: Uuid) -> Result<Option<StationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        station_columns!(),
        " FROM stations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn stations_by_ids(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<StationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        station_columns!(),
        " FROM stations WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// Stations in id order after `after`, of a community and a tier if given; retired ones only
/// when `include_retired`.
pub async fn list_stations(
    pool: &PgPool,
    community: Option<Uuid>,
    tier: Option<i16>,
    include_retired: bool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<StationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        station_columns!(),
        " FROM stations WHERE ($1::uuid IS NULL OR community_id = $1) AND ($2::smallint IS NULL OR tier = $2)
           AND ($5 OR retired_at IS NULL)
           AND ($3::uuid IS NULL OR id > $3) ORDER BY id LIMIT $4"
    ))
    .bind(community)
    .bind(tier)
    .bind(after)
    .bind(limit)
    .bind(include_retired)
    .fetch_all(pool)
    .await
}

/// Wakes every replica's station index after commit.
pub async fn notify_stations_changed(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify('stations_changed', '')")
        .execute(tx)
        .await?;
    Ok(())
}

/// Every station as the index needs it: amenities minus those not working.
pub async fn station_points(pool: &PgPool) -> Result<Vec<StationPoint>, sqlx::Error> {
    let rows: Vec<StationRow> = sqlx::query_as(concat!(
        "SELECT ",
        station_columns!(),
        " FROM stations WHERE retired_at IS NULL"
    ))
    .fetch_all(pool)
    .await?;
    let broken: Vec<(Uuid, i16)> = sqlx::query_as(
        "SELECT station_id, amenity FROM amenity_states WHERE status <> ALL($1::smallint[])",
    )
    .bind(crate::domain::COUNTING_STATES)
    .fetch_all(pool)
    .await?;
    let broken: HashSet<(Uuid, i16)> = broken.into_iter().collect();
    Ok(rows
        .into_iter()
        .map(|s| StationPoint {
            id: s.id,
            latitude: s.latitude,
            longitude: s.longitude,
            hours: s.hours(),
            riding_speed_kmh: s.riding_speed_kmh,
            working: s
                .amenities
                .iter()
                .copied()
                .filter(|a| !broken.contains(&(s.id, *a)))
                .collect(),
        })
        .collect())
}

/// The station, held (FOR SHARE) until the transaction ends: a retirement waits for the visit,
/// report or stock written against it, and one that committed first is seen.
pub async fn share_station(
    tx: &mut PgConnection,
    id: Uuid,
) -> Result<Option<StationRow>, sqlx::Error> {
    held_station(
        tx,
        id,
        concat!(
            "SELECT ",
            station_columns!(),
            " FROM stations WHERE id = $1 FOR SHARE"
        ),
    )
    .await
}

/// The station locked for a change of its state.
pub async fn lock_station(
    tx: &mut PgConnection,
    id: Uuid,
) -> Result<Option<StationRow>, sqlx::Error> {
    held_station(
        tx,
        id,
        concat!(
            "SELECT ",
            station_columns!(),
            " FROM stations WHERE id = $1 FOR UPDATE"
        ),
    )
    .await
}

async fn held_station(
    tx: &mut PgConnection,
    id: Uuid,
    select: &'static str,
) -> Result<Option<StationRow>, sqlx::Error> {
    sqlx::query_as(select)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
}

/// Retires (`retired` true, with `reason`) or restores the station at a new version.
pub async fn set_retired(
    tx: &mut PgConnection,
    id: Uuid,
    retired: bool,
    reason: &str,
) -> Result<StationRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE stations SET retired_at = CASE WHEN $2 THEN now() END,
             retired_reason = CASE WHEN $2 THEN $3 ELSE '' END, version = version + 1
         WHERE id = $1 RETURNING ",
        station_columns!()
    ))
    .bind(id)
    .bind(retired)
    .bind(reason)
    .fetch_one(&mut *tx)
    .await
}

/// A line of a station's history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StationHistoryRow {
    pub change: i16,
    pub reason: String,
    pub actor: String,
    pub version: i64,
    pub occurred_at: DateTime<Utc>,
}

pub const RETIRED: i16 = 1;
pub const RESTORED: i16 = 2;

pub async fn record_station_change(
    tx: &mut PgConnection,
    station: Uuid,
    change: i16,
    reason: &str,
    actor: &str,
    version: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO station_history (station_id, change, reason, actor, version)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(station)
    .bind(change)
    .bind(reason)
    .bind(actor)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A station's history, newest first.
pub async fn station_history(
    pool: &PgPool,
    station: Uuid,
) -> Result<Vec<StationHistoryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT change, reason, actor, version, occurred_at FROM station_history
         WHERE station_id = $1 ORDER BY id DESC",
    )
    .bind(station)
    .fetch_all(pool)
    .await
}
