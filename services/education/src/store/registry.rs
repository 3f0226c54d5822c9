//! What education keeps of organization's registry: workers and communities.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A worker's registration or change, if newer than what is kept.
pub async fn apply_worker(
    tx: &mut PgConnection,
    id: Uuid,
    community: Option<Uuid>,
    deleted: bool,
    version: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO workers (id, community_id, deleted, version) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE
           SET community_id = EXCLUDED.community_id, deleted = EXCLUDED.deleted,
               version = EXCLUDED.version
         WHERE workers.version < EXCLUDED.version",
    )
    .bind(id)
    .bind(community)
    .bind(deleted)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A community organization announced, if newer than what is kept.
pub async fn apply_community(
    tx: &mut PgConnection,
    id: Uuid,
    version: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO communities (id, version) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version
         WHERE communities.version < EXCLUDED.version",
    )
    .bind(id)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Registered and not deleted.
pub async fn worker_registered(pool: &PgPool, worker: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM workers WHERE id = $1 AND NOT deleted)")
        .bind(worker)
        .fetch_one(pool)
        .await
}

/// A registration or an attendance.
pub async fn worker_known(pool: &PgPool, worker: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM workers WHERE id = $1)
             OR EXISTS (SELECT 1 FROM attendances WHERE worker_id = $1)",
    )
    .bind(worker)
    .fetch_one(pool)
    .await
}

/// Announced, or the community of a registered worker.
pub async fn community_known(pool: &PgPool, community: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM communities WHERE id = $1)
             OR EXISTS (SELECT 1 FROM workers WHERE community_id = $1)",
    )
    .bind(community)
    .fetch_one(pool)
    .await
}
