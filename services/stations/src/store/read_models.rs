//! What stations keeps of organization's registry: workers, communities and grids.

use kit::bus::registry::WorkerState;
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

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

/// A worker's state at `version`, unless a newer one is here. At the version held, only a
/// different `deleted` flag or enterprise is applied (rows from before stations kept them say false
/// and none: a redelivery fills them in).
pub async fn apply_worker(tx: &mut PgConnection, w: &WorkerState) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO workers (id, community_id, platform, deleted, version, enterprise_id)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET community_id = EXCLUDED.community_id, platform = EXCLUDED.platform,
             deleted = EXCLUDED.deleted, version = EXCLUDED.version, enterprise_id = EXCLUDED.enterprise_id
         WHERE workers.version < EXCLUDED.version
            OR (workers.version = EXCLUDED.version
                AND (workers.deleted <> EXCLUDED.deleted
                     OR workers.enterprise_id IS DISTINCT FROM EXCLUDED.enterprise_id))",
    )
    .bind(w.id)
    .bind(w.community)
    .bind(&w.platform)
    .bind(w.deleted)
    .bind(w.version)
    .bind(w.enterprise)
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

/// Whether organization told stations of this worker's registration, and not of their deletion.
pub async fn worker_registered<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM workers WHERE id = $1 AND NOT deleted)")
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

/// Applies a newer version of a grid; at the version held, fills in the community of a row
/// written before stations kept it (a re-announcement corrects old rows).
pub async fn apply_grid(
    tx: &mut PgConnection,
    id: Uuid,
    name: &str,
    community: Option<Uuid>,
    boundary: &[(f64, f64)],
    version: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO grids (id, name, community_id, boundary, version) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, community_id = EXCLUDED.community_id,
             boundary = EXCLUDED.boundary, version = EXCLUDED.version
         WHERE grids.version < EXCLUDED.version
            OR (grids.version = EXCLUDED.version AND grids.community_id IS NULL
                AND EXCLUDED.community_id IS NOT NULL)",
    )
    .bind(id)
    .bind(name)
    .bind(community)
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

/// The grids with a boundary (those of `only`, or all), of `community` if given.
pub async fn grids(
    pool: &PgPool,
    only: &[Uuid],
    community: Option<Uuid>,
) -> Result<Vec<GridRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, boundary FROM grids
         WHERE jsonb_array_length(boundary) >= 3 AND (cardinality($1::uuid[]) = 0 OR id = ANY($1))
           AND ($2::uuid IS NULL OR community_id = $2)
         ORDER BY id",
    )
    .bind(only)
    .bind(community)
    .fetch_all(pool)
    .await
}
