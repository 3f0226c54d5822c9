//! Stations and points SQL. A change and its event share a transaction; every award and
//! redemption locks the worker's balance row first, so caps and the never-below-zero rule hold
//! under concurrency.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, types::Json};
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

macro_rules! station_columns {
    () => {
        "id, name, tier, host, latitude, longitude, address, amenities, community_id, always_open, opens_minute, closes_minute, version"
    };
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
}

/// Inserts or updates a station by name (the demo seed runs more than once), and tells the running
/// replicas to reload their index.
pub async fn upsert_station(pool: &PgPool, s: &NewStation<'_>) -> Result<Uuid, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let id = sqlx::query_scalar(
        "INSERT INTO stations (id, name, tier, host, latitude, longitude, address, amenities, community_id,
                               always_open, opens_minute, closes_minute, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'seed')
         ON CONFLICT (name) DO UPDATE SET tier = EXCLUDED.tier, host = EXCLUDED.host,
             latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, address = EXCLUDED.address,
             amenities = EXCLUDED.amenities, community_id = EXCLUDED.community_id,
             always_open = EXCLUDED.always_open, opens_minute = EXCLUDED.opens_minute,
             closes_minute = EXCLUDED.closes_minute
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
    .bind(s.community_id)
    .bind(s.hours.always_open)
    .bind(s.hours.opens)
    .bind(s.hours.closes)
    .fetch_one(&mut *tx)
    .await?;
    notify_stations_changed(&mut tx).await?;
    tx.commit().await?;
    Ok(id)
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
                 opens_minute = $11, closes_minute = $12, version = version + 1
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
        .fetch_one(&mut *tx)
        .await?;
        return Ok(Upserted::Done(row, true));
    }
    let inserted: Option<StationRow> = sqlx::query_as(concat!(
        "INSERT INTO stations (id, name, tier, host, latitude, longitude, address, amenities, community_id,
                               always_open, opens_minute, closes_minute, created_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
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
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = inserted {
        return Ok(Upserted::Done(row, true));
    }
    let row = sqlx::query_as(concat!(
        "SELECT ",
        station_columns!(),
        " FROM stations WHERE created_by = $1 AND request_id = $2"
    ))
    .bind(caller)
    .bind(request_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Upserted::Done(row, false))
}

/// A worker's community as the registry last told us: `None` when no registration has arrived.
pub async fn worker_community(
    pool: &PgPool,
    id: Uuid,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar("SELECT community_id FROM workers WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
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

pub async fn list_stations(
    pool: &PgPool,
    community: Option<Uuid>,
    tier: Option<i16>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<StationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        station_columns!(),
        " FROM stations WHERE ($1::uuid IS NULL OR community_id = $1) AND ($2::smallint IS NULL OR tier = $2)
           AND ($3::uuid IS NULL OR id > $3) ORDER BY id LIMIT $4"
    ))
    .bind(community)
    .bind(tier)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AmenityStateRow {
    pub station_id: Uuid,
    pub amenity: i16,
    pub status: i16,
    pub note: String,
    pub updated_at: DateTime<Utc>,
}

pub async fn amenity_states(
    pool: &PgPool,
    stations: &[Uuid],
) -> Result<Vec<AmenityStateRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT station_id, amenity, status, note, updated_at FROM amenity_states
         WHERE station_id = ANY($1) ORDER BY station_id, amenity",
    )
    .bind(stations)
    .fetch_all(pool)
    .await
}

pub async fn set_amenity_status(
    tx: &mut PgConnection,
    station: Uuid,
    amenity: i16,
    status: i16,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO amenity_states (station_id, amenity, status, note) VALUES ($1, $2, $3, $4)
         ON CONFLICT (station_id, amenity) DO UPDATE
           SET status = EXCLUDED.status, note = EXCLUDED.note, updated_at = now()",
    )
    .bind(station)
    .bind(amenity)
    .bind(status)
    .bind(note)
    .execute(tx)
    .await?;
    Ok(())
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
    let rows: Vec<StationRow> =
        sqlx::query_as(concat!("SELECT ", station_columns!(), " FROM stations"))
            .fetch_all(pool)
            .await?;
    let broken: Vec<(Uuid, i16)> =
        sqlx::query_as("SELECT station_id, amenity FROM amenity_states WHERE status <> 1")
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
            working: s
                .amenities
                .iter()
                .copied()
                .filter(|a| !broken.contains(&(s.id, *a)))
                .collect(),
        })
        .collect())
}

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

// ---- read models --------------------------------------------------------------------------------

pub async fn apply_worker(
    tx: &mut PgConnection,
    id: Uuid,
    community: Option<Uuid>,
    platform: &str,
    version: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO workers (id, community_id, platform, version) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET community_id = EXCLUDED.community_id, platform = EXCLUDED.platform,
             version = EXCLUDED.version
         WHERE workers.version < EXCLUDED.version",
    )
    .bind(id)
    .bind(community)
    .bind(platform)
    .bind(version)
    .execute(tx)
    .await?
    .rows_affected()
        == 1)
}

pub async fn apply_community(
    tx: &mut PgConnection,
    id: Uuid,
    version: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO communities (id, version) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version
         WHERE communities.version < EXCLUDED.version",
    )
    .bind(id)
    .bind(version)
    .execute(tx)
    .await?
    .rows_affected()
        == 1)
}

/// Whether organization told stations of this worker's registration.
pub async fn worker_registered<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM workers WHERE id = $1)")
        .bind(id)
        .fetch_one(db)
        .await
}

/// Whether stations holds anything of this worker: a registration, or a balance (points may
/// arrive before the registration does).
pub async fn worker_known<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM workers WHERE id = $1)
             OR EXISTS (SELECT 1 FROM balances WHERE worker_id = $1)",
    )
    .bind(id)
    .fetch_one(db)
    .await
}

/// Whether the community exists as organization told stations: announced itself, or is the
/// community of a registered worker (organization checks that one; it also covers communities
/// announced before the stream's retention).
pub async fn community_known<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM communities WHERE id = $1)
             OR EXISTS (SELECT 1 FROM workers WHERE community_id = $1)",
    )
    .bind(id)
    .fetch_one(db)
    .await
}

pub async fn apply_grid(
    tx: &mut PgConnection,
    id: Uuid,
    name: &str,
    boundary: &[(f64, f64)],
    version: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO grids (id, name, boundary, version) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, boundary = EXCLUDED.boundary, version = EXCLUDED.version
         WHERE grids.version < EXCLUDED.version",
    )
    .bind(id)
    .bind(name)
    .bind(Json(boundary))
    .bind(version)
    .execute(tx)
    .await?
    .rows_affected()
        == 1)
}

/// A tombstone (no boundary, the deletion's version): a late, older event cannot bring it back.
pub async fn remove_grid(
    tx: &mut PgConnection,
    id: Uuid,
    version: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO grids (id, name, boundary, version) VALUES ($1, '', '[]'::jsonb, $2)
         ON CONFLICT (id) DO UPDATE SET boundary = '[]'::jsonb, version = EXCLUDED.version
         WHERE grids.version < EXCLUDED.version",
    )
    .bind(id)
    .bind(version)
    .execute(tx)
    .await?
    .rows_affected()
        == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GridRow {
    pub id: Uuid,
    pub name: String,
    pub boundary: Json<Vec<(f64, f64)>>,
}

pub async fn grids(pool: &PgPool, only: &[Uuid]) -> Result<Vec<GridRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, boundary FROM grids
         WHERE jsonb_array_length(boundary) >= 3 AND (cardinality($1::uuid[]) = 0 OR id = ANY($1))
         ORDER BY id",
    )
    .bind(only)
    .fetch_all(pool)
    .await
}

// ---- the ledger ---------------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: Uuid,
    pub worker_id: Uuid,
    pub points: i64,
    pub reason: String,
    pub source_event_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub subject_ref: Option<String>,
}

/// Locks the worker's balance row (creating it at zero) and returns the balance.
pub async fn lock_balance(tx: &mut PgConnection, worker: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query("INSERT INTO balances (worker_id, points) VALUES ($1, 0) ON CONFLICT DO NOTHING")
        .bind(worker)
        .execute(&mut *tx)
        .await?;
    sqlx::query_scalar("SELECT points FROM balances WHERE worker_id = $1 FOR UPDATE")
        .bind(worker)
        .fetch_one(tx)
        .await
}

/// Points a worker earned from `reason` since `since`.
pub async fn earned_since(
    tx: &mut PgConnection,
    worker: Uuid,
    reason: &str,
    since: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(points), 0)::bigint FROM ledger_entries
         WHERE worker_id = $1 AND reason = $2 AND created_at >= $3 AND points > 0",
    )
    .bind(worker)
    .bind(reason)
    .bind(since)
    .fetch_one(tx)
    .await
}

pub struct NewEntry<'a> {
    pub worker: Uuid,
    pub points: i64,
    pub reason: &'a str,
    pub source_event_id: Uuid,
    pub subject_ref: Option<&'a str>,
    pub reverses: Option<Uuid>,
}

/// Appends an entry unless one exists for (source event, reason, worker), and moves the balance (whose
/// row the caller has locked). Returns the entry and the new balance when appended.
pub async fn append_entry(
    tx: &mut PgConnection,
    e: &NewEntry<'_>,
) -> Result<Option<(EntryRow, i64)>, sqlx::Error> {
    let entry: Option<EntryRow> = sqlx::query_as(
        "INSERT INTO ledger_entries (id, worker_id, points, reason, source_event_id, subject_ref, reverses_entry_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (source_event_id, reason, worker_id) DO NOTHING
         RETURNING id, worker_id, points, reason, source_event_id, created_at, subject_ref",
    )
    .bind(Uuid::now_v7())
    .bind(e.worker)
    .bind(e.points)
    .bind(e.reason)
    .bind(e.source_event_id)
    .bind(e.subject_ref)
    .bind(e.reverses)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(entry) = entry else {
        return Ok(None);
    };
    // The caller locked (and so created) the row. An upsert would not do: PostgreSQL checks the
    // never-negative constraint on the row it proposes to insert, even when it then updates.
    let balance: i64 = sqlx::query_scalar(
        "UPDATE balances SET points = points + $2, updated_at = now() WHERE worker_id = $1 RETURNING points",
    )
    .bind(e.worker)
    .bind(e.points)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Some((entry, balance)))
}

/// Whether the worker already holds a positive entry for `reason` and `subject_ref`.
pub async fn awarded_for(
    tx: &mut PgConnection,
    worker: Uuid,
    reason: &str,
    subject_ref: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM ledger_entries
             WHERE worker_id = $1 AND reason = $2 AND subject_ref = $3 AND points > 0)",
    )
    .bind(worker)
    .bind(reason)
    .bind(subject_ref)
    .fetch_one(tx)
    .await
}

/// Records a rejected tip; true the first time.
pub async fn mark_tip_rejected(tx: &mut PgConnection, tip: Uuid) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("INSERT INTO rejected_tips (tip_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(tip)
            .execute(tx)
            .await?
            .rows_affected()
            == 1,
    )
}

pub async fn tip_rejected(tx: &mut PgConnection, tip: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM rejected_tips WHERE tip_id = $1)")
        .bind(tip)
        .fetch_one(tx)
        .await
}

/// Positive entries awarded for `subject_ref` and not yet reversed.
pub async fn awards_for(
    tx: &mut PgConnection,
    subject_ref: &str,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, worker_id, points, reason, source_event_id, created_at, subject_ref FROM ledger_entries e
         WHERE subject_ref = $1 AND points > 0
           AND NOT EXISTS (SELECT 1 FROM ledger_entries r WHERE r.reverses_entry_id = e.id)",
    )
    .bind(subject_ref)
    .fetch_all(tx)
    .await
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
        "SELECT id, worker_id, points, reason, source_event_id, created_at, subject_ref FROM ledger_entries
         WHERE worker_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
    )
    .bind(worker_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

// ---- the points supermarkets --------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RewardRow {
    pub id: Uuid,
    pub name: String,
    pub points_cost: i64,
    pub active: bool,
}

pub async fn save_reward(
    pool: &PgPool,
    caller: &str,
    request_id: Option<&str>,
    id: Option<Uuid>,
    name: &str,
    points_cost: i64,
    active: bool,
) -> Result<Option<RewardRow>, sqlx::Error> {
    if let Some(id) = id {
        return sqlx::query_as(
            "UPDATE rewards SET name = $2, points_cost = $3, active = $4 WHERE id = $1
             RETURNING id, name, points_cost, active",
        )
        .bind(id)
        .bind(name)
        .bind(points_cost)
        .bind(active)
        .fetch_optional(pool)
        .await;
    }
    let inserted: Option<RewardRow> = sqlx::query_as(
        "INSERT INTO rewards (id, name, points_cost, active, created_by, request_id) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (created_by, request_id) DO NOTHING RETURNING id, name, points_cost, active",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(points_cost)
    .bind(active)
    .bind(caller)
    .bind(request_id)
    .fetch_optional(pool)
    .await?;
    if inserted.is_some() {
        return Ok(inserted);
    }
    sqlx::query_as(
        "SELECT id, name, points_cost, active FROM rewards WHERE created_by = $1 AND request_id = $2",
    )
    .bind(caller)
    .bind(request_id)
    .fetch_optional(pool)
    .await
}

pub async fn reward(conn: &mut PgConnection, id: Uuid) -> Result<Option<RewardRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, points_cost, active FROM rewards WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StockRow {
    pub id: Uuid,
    pub name: String,
    pub points_cost: i64,
    pub active: bool,
    pub quantity: i64,
}

/// Every active reward with its stock in the community (zero where none was supplied).
pub async fn catalog(pool: &PgPool, community: Uuid) -> Result<Vec<StockRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.name, r.points_cost, r.active, COALESCE(s.quantity, 0) AS quantity
         FROM rewards r LEFT JOIN stock s ON s.reward_id = r.id AND s.community_id = $1
         WHERE r.active ORDER BY r.points_cost, r.id",
    )
    .bind(community)
    .fetch_all(pool)
    .await
}

/// Adds supplied stock (idempotent on the caller's request id); returns the stock now held.
pub async fn supply(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
    station: Uuid,
    community: Uuid,
    reward: Uuid,
    quantity: i64,
) -> Result<i64, sqlx::Error> {
    let fresh = sqlx::query(
        "INSERT INTO stock_supplies (id, station_id, community_id, reward_id, quantity, created_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (created_by, request_id) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(station)
    .bind(community)
    .bind(reward)
    .bind(quantity)
    .bind(caller)
    .bind(request_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if fresh {
        sqlx::query(
            "INSERT INTO stock (community_id, reward_id, quantity) VALUES ($1, $2, $3)
             ON CONFLICT (community_id, reward_id) DO UPDATE SET quantity = stock.quantity + EXCLUDED.quantity",
        )
        .bind(community)
        .bind(reward)
        .bind(quantity)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query_scalar(
        "SELECT COALESCE((SELECT quantity FROM stock WHERE community_id = $1 AND reward_id = $2), 0)",
    )
    .bind(community)
    .bind(reward)
    .fetch_one(tx)
    .await
}

/// Takes `quantity` from stock if that much is there; false otherwise.
pub async fn take_stock(
    tx: &mut PgConnection,
    community: Uuid,
    reward: Uuid,
    quantity: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE stock SET quantity = quantity - $3
         WHERE community_id = $1 AND reward_id = $2 AND quantity >= $3",
    )
    .bind(community)
    .bind(reward)
    .bind(quantity)
    .execute(tx)
    .await?
    .rows_affected()
        == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RedemptionRow {
    pub id: Uuid,
    pub worker_id: Uuid,
    pub community_id: Uuid,
    pub reward_id: Uuid,
    pub quantity: i64,
    pub points: i64,
    pub redeemed_at: DateTime<Utc>,
}

pub async fn redemption_by_request(
    tx: &mut PgConnection,
    worker: Uuid,
    request_id: &str,
) -> Result<Option<RedemptionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, worker_id, community_id, reward_id, quantity, points, redeemed_at FROM redemptions
         WHERE worker_id = $1 AND request_id = $2",
    )
    .bind(worker)
    .bind(request_id)
    .fetch_optional(tx)
    .await
}

pub async fn insert_redemption(
    tx: &mut PgConnection,
    r: &RedemptionRow,
    request_id: &str,
) -> Result<RedemptionRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO redemptions (id, worker_id, community_id, reward_id, quantity, points, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, worker_id, community_id, reward_id, quantity, points, redeemed_at",
    )
    .bind(r.id)
    .bind(r.worker_id)
    .bind(r.community_id)
    .bind(r.reward_id)
    .bind(r.quantity)
    .bind(r.points)
    .bind(request_id)
    .fetch_one(tx)
    .await
}

/// Net points earned (redemptions excluded) in [from, until) by workers of a community or a
/// platform; ties go to the lower worker id, so the order never changes between calls.
pub async fn leaderboard(
    pool: &PgPool,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    community: Option<Uuid>,
    platform: Option<&str>,
    limit: i64,
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.worker_id, sum(l.points)::bigint AS points
         FROM ledger_entries l JOIN workers w ON w.id = l.worker_id
         WHERE l.reason <> 'redemption' AND l.created_at >= $1 AND l.created_at < $2
           AND ($3::uuid IS NULL OR w.community_id = $3) AND ($4::text IS NULL OR w.platform = $4)
         GROUP BY l.worker_id HAVING sum(l.points) > 0
         ORDER BY points DESC, l.worker_id ASC LIMIT $5",
    )
    .bind(from)
    .bind(until)
    .bind(community)
    .bind(platform)
    .bind(limit)
    .fetch_all(pool)
    .await
}

// ---- Set-wise awards for many submitted tips at once (the same effects as `lock_balance`,
// `tip_rejected`, `earned_since` and `append_entry`, in one statement each).

/// Locks the workers' balance rows in id order (creating them at zero); returns the balances.
pub async fn lock_balances(
    tx: &mut PgConnection,
    workers: &[Uuid],
) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    sqlx::query(
        "INSERT INTO balances (worker_id, points) SELECT w, 0 FROM unnest($1::uuid[]) AS w ORDER BY w
         ON CONFLICT DO NOTHING",
    )
    .bind(workers)
    .execute(&mut *tx)
    .await?;
    // One primary-key probe per worker, in id order: with `worker_id = ANY($1)` the planner
    // chose a sequential scan of the whole table (1.1 ms for 6 rows of 4,230, measured), since
    // it underprices testing every row against the array.
    let mut sorted = workers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT b.worker_id, b.points FROM unnest($1::uuid[]) AS w,
         LATERAL (SELECT worker_id, points FROM balances WHERE worker_id = w FOR UPDATE) AS b",
    )
    .bind(&sorted)
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Which of these tips were rejected.
pub async fn rejected_among(
    tx: &mut PgConnection,
    tips: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, sqlx::Error> {
    let rows: Vec<Uuid> =
        sqlx::query_scalar("SELECT tip_id FROM rejected_tips WHERE tip_id = ANY($1)")
            .bind(tips)
            .fetch_all(tx)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Points each worker earned for `reason` since `since`.
pub async fn earned_since_many(
    tx: &mut PgConnection,
    workers: &[Uuid],
    reason: &str,
    since: DateTime<Utc>,
) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        // One probe of ledger_by_worker_reason per worker, whatever the statistics say; the array
        // and the bound hidden from the planner so that it keeps one plan (see tips_since_many in
        // governance).
        "SELECT w, (SELECT COALESCE(sum(points), 0)::bigint FROM ledger_entries
                    WHERE worker_id = w AND reason = $2 AND created_at >= (SELECT $3::timestamptz) AND points > 0)
         FROM unnest((SELECT $1::uuid[])) AS w",
    )
    .bind(workers)
    .bind(reason)
    .bind(since)
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Appends awards (no reversals) unless their source event already has its entry; returns the
/// entries appended, in the order given. The caller locked the balances and adds to them.
pub async fn append_awards(
    tx: &mut PgConnection,
    entries: &[NewEntry<'_>],
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO ledger_entries (id, worker_id, points, reason, source_event_id, subject_ref)
         SELECT u.id, u.worker_id, u.points, u.reason, u.source_event_id, u.subject_ref
         FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::uuid[], $6::text[]) WITH ORDINALITY
              AS u(id, worker_id, points, reason, source_event_id, subject_ref, n)
         ORDER BY u.n
         ON CONFLICT (source_event_id, reason, worker_id) DO NOTHING
         RETURNING id, worker_id, points, reason, source_event_id, created_at, subject_ref",
    )
    .bind(entries.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.worker).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.points).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.reason).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.source_event_id).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.subject_ref).collect::<Vec<_>>())
    .fetch_all(tx)
    .await
}

/// Adds to locked balances (one delta per worker).
pub async fn add_to_balances(
    tx: &mut PgConnection,
    deltas: &HashMap<Uuid, i64>,
) -> Result<(), sqlx::Error> {
    let (workers, points): (Vec<Uuid>, Vec<i64>) = deltas.iter().map(|(w, p)| (*w, *p)).unzip();
    // An upsert finds each row through the primary key, whatever the statistics say (an UPDATE
    // joined to the list scanned the whole table); every row exists and is locked already.
    sqlx::query(
        "INSERT INTO balances (worker_id, points) SELECT * FROM UNNEST($1::uuid[], $2::int8[])
         ON CONFLICT (worker_id) DO UPDATE SET points = balances.points + EXCLUDED.points, updated_at = now()",
    )
    .bind(&workers)
    .bind(&points)
    .execute(tx)
    .await?;
    Ok(())
}
