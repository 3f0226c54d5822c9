//! The worker read model (`workers`): who is registered, in which community, and whether deleted,
//! as organization's events told it.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Applies a worker's state at `version`, unless a newer one is here.
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

/// Whether `worker` is registered and not deleted, as far as governance has heard.
pub async fn is_registered(pool: &PgPool, worker: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM workers WHERE id = $1 AND NOT deleted)")
        .bind(worker)
        .fetch_one(pool)
        .await
}

/// Whether `worker` was ever registered or has filed tips (tips may arrive before the
/// registration does).
pub async fn is_known_reporter(pool: &PgPool, worker: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM workers WHERE id = $1)
             OR EXISTS (SELECT 1 FROM tips WHERE reporter_id = $1)",
    )
    .bind(worker)
    .fetch_one(pool)
    .await
}
