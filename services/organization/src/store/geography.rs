//! The county's territory: townships and streets (镇街), the communities under them, and the
//! grids drawn over the communities, with what the grid overlap check reads.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TownshipRow {
    pub id: Uuid,
    pub name: String,
    pub kind: i16,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommunityRow {
    pub id: Uuid,
    pub name: String,
    pub township: String,
    pub version: i64,
    pub township_id: Option<Uuid>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GridRow {
    pub id: Uuid,
    pub name: String,
    pub community_id: Option<Uuid>,
    pub boundary: Json<Vec<(f64, f64)>>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

pub async fn update_township(
    tx: &mut PgConnection,
    id: Uuid,
    name: &str,
    kind: i16,
) -> Result<TownshipRow, sqlx::Error> {
    sqlx::query_as(
        "UPDATE townships SET name = $2, kind = $3, version = version + 1, updated_at = now()
         WHERE id = $1 RETURNING id, name, kind, version, updated_at",
    )
    .bind(id)
    .bind(name)
    .bind(kind)
    .fetch_one(&mut *tx)
    .await
}

pub async fn insert_township(
    tx: &mut PgConnection,
    id: Uuid,
    name: &str,
    kind: i16,
) -> Result<TownshipRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO townships (id, name, kind) VALUES ($1, $2, $3)
         RETURNING id, name, kind, version, updated_at",
    )
    .bind(id)
    .bind(name)
    .bind(kind)
    .fetch_one(&mut *tx)
    .await
}

/// Communities carry their township's name: gives the township's name to each of its
/// communities that has another, with a new version; returns those changed.
pub async fn rename_township_communities(
    tx: &mut PgConnection,
    township: Uuid,
    name: &str,
) -> Result<Vec<CommunityRow>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE communities SET township = $2, version = version + 1, updated_at = now()
         WHERE township_id = $1 AND township <> $2
         RETURNING id, name, township, version, township_id",
    )
    .bind(township)
    .bind(name)
    .fetch_all(&mut *tx)
    .await
}

pub async fn township(tx: &mut PgConnection, id: Uuid) -> Result<Option<TownshipRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, kind, version, updated_at FROM townships WHERE id = $1")
        .bind(id)
        .fetch_optional(tx)
        .await
}

pub async fn township_name(tx: &mut PgConnection, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM townships WHERE id = $1")
        .bind(id)
        .fetch_optional(tx)
        .await
}

pub async fn list_townships(
    pool: &PgPool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<TownshipRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, kind, version, updated_at FROM townships
         WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn community_exists(tx: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM communities WHERE id = $1)")
        .bind(id)
        .fetch_one(tx)
        .await
}

pub async fn upsert_community(
    tx: &mut PgConnection,
    caller: &str,
    request_id: Option<&str>,
    id: Option<Uuid>,
    name: &str,
    township: &str,
    township_id: Option<Uuid>,
) -> Result<Option<(CommunityRow, bool)>, sqlx::Error> {
    match id {
        Some(id) => {
            let row = sqlx::query_as(
                "UPDATE communities SET name = $2, township = $3, township_id = $4, version = version + 1, updated_at = now()
                 WHERE id = $1 RETURNING id, name, township, version, township_id",
            )
            .bind(id)
            .bind(name)
            .bind(township)
            .bind(township_id)
            .fetch_optional(&mut *tx)
            .await?;
            Ok(row.map(|r| (r, true)))
        }
        None => {
            let inserted: Option<CommunityRow> = sqlx::query_as(
                "INSERT INTO communities (id, name, township, created_by, request_id, township_id)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (created_by, request_id) DO NOTHING
                 RETURNING id, name, township, version, township_id",
            )
            .bind(Uuid::now_v7())
            .bind(name)
            .bind(township)
            .bind(caller)
            .bind(request_id)
            .bind(township_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = inserted {
                return Ok(Some((row, true)));
            }
            let existing = sqlx::query_as(
                "SELECT id, name, township, version, township_id FROM communities WHERE created_by = $1 AND request_id = $2",
            )
            .bind(caller)
            .bind(request_id)
            .fetch_one(&mut *tx)
            .await?;
            Ok(Some((existing, false)))
        }
    }
}

pub async fn community(pool: &PgPool, id: Uuid) -> Result<Option<CommunityRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, township, version, township_id FROM communities WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn list_communities(
    pool: &PgPool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<CommunityRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, township, version, township_id FROM communities
         WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Every community after `after` (by id), `limit` of them.
pub async fn communities_after(
    tx: &mut PgConnection,
    after: Uuid,
    limit: i64,
) -> Result<Vec<CommunityRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, township, version, township_id FROM communities
         WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(tx)
    .await
}

macro_rules! grid_columns {
    () => {
        "id, name, community_id, boundary, version, updated_at, deleted_at"
    };
}

/// Creates a grid (no `id`; idempotent on the caller's `request_id`) or replaces an existing one,
/// bumping its version. `Ok(None)` when `id` names no grid.
pub async fn upsert_grid(
    tx: &mut PgConnection,
    caller: &str,
    request_id: Option<&str>,
    id: Option<Uuid>,
    name: &str,
    community_id: Option<Uuid>,
    boundary: &[(f64, f64)],
) -> Result<Option<(GridRow, bool)>, sqlx::Error> {
    let boundary = Json(boundary.to_vec());
    match id {
        Some(id) => {
            let row = sqlx::query_as(concat!("UPDATE grids SET name = $2, community_id = $3, boundary = $4, version = version + 1, updated_at = now()
                 WHERE id = $1 RETURNING ", grid_columns!()))
            .bind(id)
            .bind(name)
            .bind(community_id)
            .bind(boundary)
            .fetch_optional(&mut *tx)
            .await?;
            Ok(row.map(|r| (r, true)))
        }
        None => {
            let inserted: Option<GridRow> = sqlx::query_as(concat!(
                "INSERT INTO grids (id, name, community_id, boundary, created_by, request_id)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (created_by, request_id) DO NOTHING
                 RETURNING ",
                grid_columns!()
            ))
            .bind(Uuid::now_v7())
            .bind(name)
            .bind(community_id)
            .bind(boundary)
            .bind(caller)
            .bind(request_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = inserted {
                return Ok(Some((row, true)));
            }
            let existing = sqlx::query_as(concat!(
                "SELECT ",
                grid_columns!(),
                " FROM grids WHERE created_by = $1 AND request_id = $2"
            ))
            .bind(caller)
            .bind(request_id)
            .fetch_one(&mut *tx)
            .await?;
            Ok(Some((existing, false)))
        }
    }
}

/// Serializes changes of grid boundaries (for the overlap check), for the transaction.
pub async fn lock_grid_layout(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('organization.grid_layout'))")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The boundary a grid has now (None: no such grid).
pub async fn grid_boundary(
    tx: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Vec<(f64, f64)>>, sqlx::Error> {
    let b: Option<Json<Vec<(f64, f64)>>> =
        sqlx::query_scalar("SELECT boundary FROM grids WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(b.map(|b| b.0))
}

/// A grid's name and boundary, for the overlap check.
#[derive(Debug, sqlx::FromRow)]
pub struct GridShape {
    pub id: Uuid,
    pub name: String,
    pub boundary: Json<Vec<(f64, f64)>>,
}

/// Every grid that is not deleted, except the one being changed: `id`, or the one this caller
/// created with `request_id` (a retried create).
pub async fn other_grids(
    tx: &mut PgConnection,
    id: Option<Uuid>,
    caller: &str,
    request_id: Option<&str>,
) -> Result<Vec<GridShape>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, boundary FROM grids
         WHERE deleted_at IS NULL AND id IS DISTINCT FROM $1
           AND NOT coalesce(created_by = $2 AND request_id = $3, false)",
    )
    .bind(id)
    .bind(caller)
    .bind(request_id)
    .fetch_all(&mut *tx)
    .await
}

pub async fn grid(pool: &PgPool, id: Uuid) -> Result<Option<GridRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        grid_columns!(),
        " FROM grids WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn list_grids(
    pool: &PgPool,
    community_id: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<GridRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        grid_columns!(),
        " FROM grids
         WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR community_id = $1) AND ($2::uuid IS NULL OR id > $2)
         ORDER BY id LIMIT $3"
    ))
    .bind(community_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Every grid after `after` (by id, deleted ones included), `limit` of them.
pub async fn grids_after(
    tx: &mut PgConnection,
    after: Uuid,
    limit: i64,
) -> Result<Vec<GridRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, community_id, boundary, version, updated_at, deleted_at FROM grids
         WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// The grid, in the transaction that changes it.
pub async fn load_grid(tx: &mut PgConnection, id: Uuid) -> Result<GridRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        grid_columns!(),
        " FROM grids WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(tx)
    .await
}
