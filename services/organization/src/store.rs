//! The registry's SQL. Every change writes its integration event into the outbox in the same
//! transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, types::Json};

use crate::personal::Vault;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkerRow {
    pub id: Uuid,
    pub name: String,
    pub phone_sealed: Option<Vec<u8>>,
    pub id_number_sealed: Option<Vec<u8>>,
    pub platform: String,
    pub enterprise_id: Option<Uuid>,
    pub community_id: Option<Uuid>,
    pub party_member: bool,
    pub version: i64,
    pub registered_at: DateTime<Utc>,
    pub organization_id: Option<Uuid>,
    pub reported_in_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub volunteer_roles: Vec<String>,
}

pub struct NewWorker {
    pub name: String,
    pub phone: String,
    /// Optional resident ID number.
    pub id_number: Option<String>,
    pub platform: String,
    pub enterprise_id: Option<Uuid>,
    pub community_id: Option<Uuid>,
    pub party_member: bool,
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

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommunityRow {
    pub id: Uuid,
    pub name: String,
    pub township: String,
    pub version: i64,
    pub township_id: Option<Uuid>,
}

#[macro_export]
macro_rules! worker_columns {
    () => {
        "id, name, phone_sealed, id_number_sealed, platform, enterprise_id, community_id, party_member, version, registered_at, organization_id, reported_in_at, deleted_at,
         ARRAY(SELECT r.role FROM worker_volunteer_roles r WHERE r.worker_id = workers.id ORDER BY r.role) AS volunteer_roles"
    };
}

/// Inserts the worker unless this caller already registered one with `request_id`; returns the
/// worker and whether it is new.
pub async fn insert_worker(
    tx: &mut PgConnection,
    vault: &Vault,
    caller: &str,
    request_id: &str,
    w: &NewWorker,
) -> Result<(WorkerRow, bool), sqlx::Error> {
    let inserted: Option<WorkerRow> = sqlx::query_as(concat!("INSERT INTO workers (id, name, phone_sealed, phone_hash, id_number_sealed, id_number_hash, platform, enterprise_id, community_id, party_member, registered_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (registered_by, request_id) DO NOTHING
         RETURNING ", worker_columns!()))
    .bind(Uuid::now_v7())
    .bind(&w.name)
    .bind(vault.seal(&w.phone))
    .bind(vault.lookup_hash(&w.phone))
    .bind(w.id_number.as_deref().map(|n| vault.seal(n)))
    .bind(w.id_number.as_deref().map(|n| vault.lookup_hash(n)))
    .bind(&w.platform)
    .bind(w.enterprise_id)
    .bind(w.community_id)
    .bind(w.party_member)
    .bind(caller)
    .bind(request_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = inserted {
        return Ok((row, true));
    }
    let existing = sqlx::query_as(concat!(
        "SELECT ",
        worker_columns!(),
        " FROM workers WHERE registered_by = $1 AND request_id = $2"
    ))
    .bind(caller)
    .bind(request_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok((existing, false))
}

/// The community of a worker: `None` when there is no such worker, `Some(None)` for a worker of no
/// community.
pub async fn worker_community(
    pool: &PgPool,
    id: Uuid,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar("SELECT community_id FROM workers WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Of `ids`, the workers (that exist) outside `communities`.
pub async fn workers_outside(
    pool: &PgPool,
    ids: &[Uuid],
    communities: &[Uuid],
) -> Result<Vec<(Uuid, Option<Uuid>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, community_id FROM workers
         WHERE id = ANY($1) AND (community_id IS NULL OR NOT community_id = ANY($2))",
    )
    .bind(ids)
    .bind(communities)
    .fetch_all(pool)
    .await
}

/// The worker a hardship file is about.
pub async fn hardship_file_worker(pool: &PgPool, file: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT worker_id FROM hardship_files WHERE id = $1")
        .bind(file)
        .fetch_optional(pool)
        .await
}

pub async fn worker(pool: &PgPool, id: Uuid) -> Result<Option<WorkerRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        worker_columns!(),
        " FROM workers WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn community_exists(tx: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM communities WHERE id = $1)")
        .bind(id)
        .fetch_one(tx)
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

/// Seals any phone still stored in clear (rows from before encryption); returns how many.
pub async fn seal_clear_phones(pool: &PgPool, vault: &Vault) -> Result<u64, sqlx::Error> {
    let clear: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, phone FROM workers WHERE phone IS NOT NULL")
            .fetch_all(pool)
            .await?;
    for (id, phone) in &clear {
        sqlx::query(
            "UPDATE workers SET phone_sealed = $2, phone_hash = $3, phone = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(vault.seal(phone))
        .bind(vault.lookup_hash(phone))
        .execute(pool)
        .await?;
    }
    Ok(clear.len() as u64)
}

pub struct WorkerFilter {
    /// An `ILIKE` pattern for the name, built by `kit::api::contains_pattern` (the caller's `%`,
    /// `_` and backslash escaped with backslash, the default escape character the statement uses).
    pub name_pattern: Option<String>,
    pub phone_hash: Option<Vec<u8>>,
    pub platform: Option<String>,
    pub community_id: Option<Uuid>,
    pub party_member: Option<bool>,
    pub enterprise_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    /// The caller's scope (None: the whole county).
    pub in_communities: Option<Vec<Uuid>>,
}

pub async fn search_workers(
    pool: &PgPool,
    f: &WorkerFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<WorkerRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        worker_columns!(),
        " FROM workers
         WHERE deleted_at IS NULL AND ($1::text IS NULL OR name ILIKE $1)
           AND ($2::bytea IS NULL OR phone_hash = $2)
           AND ($3::text IS NULL OR platform = $3)
           AND ($4::uuid IS NULL OR community_id = $4)
           AND ($5::bool IS NULL OR party_member = $5)
           AND ($6::uuid IS NULL OR id > $6)
           AND ($8::uuid IS NULL OR enterprise_id = $8)
           AND ($9::uuid IS NULL OR organization_id = $9)
           AND ($10::uuid[] IS NULL OR community_id = ANY($10))
         ORDER BY id LIMIT $7"
    ))
    .bind(&f.name_pattern)
    .bind(&f.phone_hash)
    .bind(&f.platform)
    .bind(f.community_id)
    .bind(f.party_member)
    .bind(after)
    .bind(limit)
    .bind(f.enterprise_id)
    .bind(f.organization_id)
    .bind(f.in_communities.as_deref())
    .fetch_all(pool)
    .await
}

pub async fn delete_grid(tx: &mut PgConnection, id: Uuid) -> Result<GridRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE grids SET deleted_at = now(), version = version + 1, updated_at = now() WHERE id = $1 RETURNING ",
        grid_columns!()
    ))
    .bind(id)
    .fetch_one(tx)
    .await
}
