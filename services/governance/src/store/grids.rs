//! The read model of organization's grids, and the lock that orders grid changes against dispatch.

use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

pub async fn grid_known(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM grids WHERE id = $1 AND jsonb_array_length(boundary) >= 3)",
    )
    .bind(id)
    .fetch_one(conn)
    .await
}

/// The community a grid belongs to (None: unknown grid, or a grid of no community).
/// Whether governance ever heard of `id` (a deleted grid keeps its row: its cases stay listable).
pub async fn grid_ever_known(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM grids WHERE id = $1)")
        .bind(id)
        .fetch_one(pool)
        .await
}

pub async fn grid_community(pool: &PgPool, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    let c: Option<Option<Uuid>> =
        sqlx::query_scalar("SELECT community_id FROM grids WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(c.flatten())
}

/// Every grid of these communities.
pub async fn grids_of_communities(
    pool: &PgPool,
    communities: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM grids WHERE community_id = ANY($1) ORDER BY id")
        .bind(communities)
        .fetch_all(pool)
        .await
}

/// The grid's boundary from the read model.
pub async fn grid_boundary(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Vec<(f64, f64)>>, sqlx::Error> {
    let b: Option<Json<Vec<(f64, f64)>>> =
        sqlx::query_scalar("SELECT boundary FROM grids WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(b.map(|b| b.0))
}

/// Applies a grid from organization's event if it is newer than what we hold.
pub async fn apply_grid(
    tx: &mut PgConnection,
    id: Uuid,
    name: &str,
    community_id: Option<Uuid>,
    boundary: &[(f64, f64)],
    version: i64,
) -> Result<bool, sqlx::Error> {
    let applied = sqlx::query(
        "INSERT INTO grids (id, name, community_id, boundary, version) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE
           SET name = EXCLUDED.name, community_id = EXCLUDED.community_id, boundary = EXCLUDED.boundary,
               version = EXCLUDED.version, applied_seq = nextval('grid_applied_seq')
         WHERE grids.version < EXCLUDED.version",
    )
    .bind(id)
    .bind(name)
    .bind(community_id)
    .bind(Json(boundary))
    .bind(version)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if applied {
        sqlx::query("SELECT pg_notify('governance_grids', $1)")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
    }
    Ok(applied)
}

#[derive(sqlx::FromRow)]
struct GridRow {
    id: Uuid,
    boundary: Json<Vec<(f64, f64)>>,
    applied_seq: i64,
}

/// Marks a deleted grid in the read model (a tombstone: no boundary, the deletion's version, so
/// that an older event arriving late cannot bring it back) and wakes every replica's index. Its
/// cases keep their grid id.
pub async fn remove_grid(
    tx: &mut PgConnection,
    id: Uuid,
    version: i64,
) -> Result<bool, sqlx::Error> {
    let removed = sqlx::query(
        "INSERT INTO grids (id, name, community_id, boundary, version) VALUES ($1, '', NULL, '[]'::jsonb, $2)
         ON CONFLICT (id) DO UPDATE
           SET boundary = '[]'::jsonb, version = EXCLUDED.version, applied_seq = nextval('grid_applied_seq')
         WHERE grids.version < EXCLUDED.version",
    )
    .bind(id)
    .bind(version)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if removed {
        sqlx::query("SELECT pg_notify('governance_grids', $1)")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
    }
    Ok(removed)
}

/// Every grid with the latest change applied, and the newest change's sequence.
pub async fn grids(pool: &PgPool) -> Result<(Vec<(Uuid, Vec<(f64, f64)>)>, i64), sqlx::Error> {
    let rows: Vec<GridRow> = sqlx::query_as("SELECT id, boundary, applied_seq FROM grids")
        .fetch_all(pool)
        .await?;
    let generation = rows.iter().map(|r| r.applied_seq).max().unwrap_or(0);
    Ok((
        rows.into_iter().map(|g| (g.id, g.boundary.0)).collect(),
        generation,
    ))
}

pub async fn grid_generation(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(max(applied_seq), 0) FROM grids")
        .fetch_one(conn)
        .await
}

/// Dispatch holds this lock shared while it locates a tip's grid; applying a grid holds it
/// exclusively. So a grid and a tip it holds never pass each other: either dispatch sees the grid,
/// or the grid's consumer sees the tip's county-queue case.
pub const GRID_ROUTING_LOCK: i64 = 0x5245_4453_5550_0002;

pub async fn lock_grid_routing(tx: &mut PgConnection, exclusive: bool) -> Result<(), sqlx::Error> {
    let sql = if exclusive {
        "SELECT pg_advisory_xact_lock($1)"
    } else {
        "SELECT pg_advisory_xact_lock_shared($1)"
    };
    sqlx::query(sql).bind(GRID_ROUTING_LOCK).execute(tx).await?;
    Ok(())
}
