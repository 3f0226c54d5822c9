//! Re-announces what other services keep of the registry: every worker, community and grid as it
//! stands, through the outbox like any change. Read models apply only newer versions, so a
//! record they know is left alone and one they never heard of (registered before their consumer
//! existed, or before the stream's retention) is filled in. Run once after an upgrade that adds a
//! read model (`redsupply republish`); running it again is harmless.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    events::publish,
    store::{geography, workers},
};

/// Records re-announced per transaction.
const BATCH: i64 = 500;

/// How many of each were announced.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Republished {
    pub workers: u64,
    pub communities: u64,
    pub grids: u64,
}

pub async fn republish(pool: &PgPool) -> Result<Republished, sqlx::Error> {
    let workers = in_batches(
        pool,
        async |tx, after, limit| workers::workers_after(tx, after, limit).await,
        |w| w.id,
        async |tx, w| publish::worker_updated(tx, w).await,
    )
    .await?;
    let communities = in_batches(
        pool,
        async |tx, after, limit| geography::communities_after(tx, after, limit).await,
        |c| c.id,
        async |tx, c| publish::community_upserted(tx, c).await,
    )
    .await?;
    let grids = in_batches(
        pool,
        async |tx, after, limit| geography::grids_after(tx, after, limit).await,
        |g| g.id,
        async |tx, g| {
            if g.deleted_at.is_some() {
                publish::grid_deleted(tx, g).await
            } else {
                publish::grid_upserted(tx, g).await
            }
        },
    )
    .await?;
    Ok(Republished {
        workers,
        communities,
        grids,
    })
}

/// Announces every row `page` pages through (by id: the rows after an id, so many of them), a
/// batch per transaction; returns how many.
async fn in_batches<R>(
    pool: &PgPool,
    mut page: impl AsyncFnMut(&mut PgConnection, Uuid, i64) -> Result<Vec<R>, sqlx::Error>,
    id: impl Fn(&R) -> Uuid,
    mut announce: impl AsyncFnMut(&mut PgConnection, &R) -> Result<(), sqlx::Error>,
) -> Result<u64, sqlx::Error> {
    let (mut after, mut total) = (Uuid::nil(), 0);
    loop {
        let mut tx = pool.begin().await?;
        let rows = page(&mut tx, after, BATCH).await?;
        for row in &rows {
            announce(&mut tx, row).await?;
        }
        tx.commit().await?;
        total += rows.len() as u64;
        match rows.last() {
            Some(last) if rows.len() as i64 == BATCH => after = id(last),
            _ => return Ok(total),
        }
    }
}
