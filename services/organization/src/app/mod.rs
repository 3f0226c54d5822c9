//! organization's use cases, one file per aggregate family named like the proto services: the only
//! place a transaction opens, for the API and the demo seed alike. Each change and its event share
//! the transaction.

pub mod care;
pub mod corrections;
pub mod desk;
pub mod enterprise;
pub mod faq;
pub mod membership;
pub mod party;
pub mod registry;
pub mod republish;
pub mod reseal;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::change::{self, Aggregate, ChangeError};

/// The soft delete every deletable aggregate shares, in one transaction: lock it at the caller's
/// version (0: any), let `check` refuse (while it has live children, say), mark it deleted with a
/// new version, then `load` it as it now stands and `announce` that. The aggregate keeps its row
/// and history; read models learn it is gone from the event.
async fn soft_delete<R>(
    pool: &PgPool,
    what: Aggregate,
    id: Uuid,
    expected_version: i64,
    check: impl AsyncFnOnce(&mut PgConnection) -> Result<(), ChangeError>,
    load: impl AsyncFnOnce(&mut PgConnection) -> Result<R, sqlx::Error>,
    announce: impl AsyncFnOnce(&mut PgConnection, &R) -> Result<(), sqlx::Error>,
) -> Result<R, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, what, id, expected_version).await?;
    check(&mut tx).await?;
    change::mark_deleted(&mut tx, what, id).await?;
    let row = load(&mut tx).await?;
    announce(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// Undoes [`soft_delete`] in one transaction: lock the aggregate at the caller's version (0: any),
/// let `check` refuse (what it needs must be live), mark it live with a new version, `load` and
/// `announce` it. A live aggregate is answered as it stands, with nothing written.
async fn restore<R>(
    pool: &PgPool,
    what: Aggregate,
    id: Uuid,
    expected_version: i64,
    check: impl AsyncFnOnce(&mut PgConnection) -> Result<(), ChangeError>,
    load: impl AsyncFnOnce(&mut PgConnection) -> Result<R, sqlx::Error>,
    announce: impl AsyncFnOnce(&mut PgConnection, &R) -> Result<(), sqlx::Error>,
) -> Result<R, ChangeError> {
    let mut tx = pool.begin().await?;
    if !change::lock_any(&mut tx, what, id, expected_version).await? {
        return Ok(load(&mut tx).await?);
    }
    check(&mut tx).await?;
    change::mark_restored(&mut tx, what, id).await?;
    let row = load(&mut tx).await?;
    announce(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// A `check` for [`soft_delete`] that refuses nothing.
async fn always(_: &mut PgConnection) -> Result<(), ChangeError> {
    Ok(())
}
