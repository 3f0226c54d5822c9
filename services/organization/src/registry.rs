//! The registry's use cases, each one transaction holding the change and its event. The gRPC API
//! and the demo seed both go through here.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events,
    personal::Vault,
    store::{
        geography::{self, CommunityRow, GridRow},
        workers::{self, NewWorker, WorkerRow},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("community {0} not found")]
    UnknownCommunity(Uuid),
    /// The aggregate changed is missing, deleted or at another version.
    #[error(transparent)]
    Change(#[from] ChangeError),
    #[error("township {0} not found")]
    UnknownTownship(Uuid),
    #[error("enterprise {0} not found")]
    UnknownEnterprise(Uuid),
    /// A grid boundary outside the county, or of no sane size.
    #[error(transparent)]
    Boundary(#[from] kit::geo::BoundaryError),
    /// A grid boundary lying over another grid beyond the tolerance.
    #[error(
        "overlaps grid {other} ({name}): {:.0}% of the smaller of the two lies under both, at most {:.0}% may",
        share * 100.0,
        tolerance * 100.0
    )]
    Overlap {
        other: Uuid,
        name: String,
        share: f64,
        tolerance: f64,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub async fn register_worker(
    pool: &PgPool,
    vault: &Vault,
    caller: &str,
    request_id: &str,
    worker: NewWorker,
) -> Result<WorkerRow, RegistryError> {
    let mut tx = pool.begin().await?;
    if let Some(c) = worker.community_id
        && !geography::community_exists(&mut tx, c).await?
    {
        return Err(RegistryError::UnknownCommunity(c));
    }
    if let Some(e) = worker.enterprise_id
        && !change::exists(&mut tx, Aggregate::Enterprise, e).await?
    {
        return Err(RegistryError::UnknownEnterprise(e));
    }
    let (row, new) = workers::insert_worker(&mut tx, vault, caller, request_id, &worker).await?;
    if new {
        events::worker_registered(&mut tx, &row).await?;
    }
    tx.commit().await?;
    Ok(row)
}

pub struct GridChange<'a> {
    pub id: Option<Uuid>,
    /// 0: no check.
    pub expected_version: i64,
    pub request_id: Option<&'a str>,
    pub name: &'a str,
    pub community_id: Option<Uuid>,
    pub boundary: &'a [(f64, f64)],
}

/// Creates or changes a grid: its boundary must lie in the county, be of a sane size and not lie
/// over another grid beyond `county.grids.grid_overlap_tolerance` (checked under a lock, so two
/// grids drawn at once over the same streets cannot both pass).
pub async fn upsert_grid(
    pool: &PgPool,
    caller: &str,
    county: &kit::settings::CountySettings,
    change: GridChange<'_>,
) -> Result<GridRow, RegistryError> {
    let mut tx = pool.begin().await?;
    if let Some(c) = change.community_id
        && !geography::community_exists(&mut tx, c).await?
    {
        return Err(RegistryError::UnknownCommunity(c));
    }
    if let Some(id) = change.id {
        change::lock(&mut tx, Aggregate::Grid, id, change.expected_version).await?;
    }
    geography::lock_grid_layout(&mut tx).await?;
    // A grid drawn before these rules keeps its boundary through a rename; a new boundary follows
    // them.
    let unchanged = match change.id {
        Some(id) => geography::grid_boundary(&mut tx, id)
            .await?
            .is_some_and(|b| b.as_slice() == change.boundary),
        None => false,
    };
    if !unchanged {
        let shape = kit::geo::Boundary::new(change.boundary, &county.extent, &county.grids)?;
        let tolerance = county.grids.grid_overlap_tolerance;
        for other in geography::other_grids(&mut tx, change.id, caller, change.request_id).await? {
            let share = shape.overlap_with(&other.boundary);
            if share > tolerance {
                return Err(RegistryError::Overlap {
                    other: other.id,
                    name: other.name,
                    share,
                    tolerance,
                });
            }
        }
    }
    let (row, changed) = geography::upsert_grid(
        &mut tx,
        caller,
        change.request_id,
        change.id,
        change.name,
        change.community_id,
        change.boundary,
    )
    .await?
    .ok_or(ChangeError::NotFound {
        what: Aggregate::Grid,
        id: change.id.unwrap_or_default(),
    })?;
    if changed {
        events::grid_upserted(&mut tx, &row).await?;
    }
    tx.commit().await?;
    Ok(row)
}

pub struct CommunityChange<'a> {
    pub id: Option<Uuid>,
    /// 0: no check.
    pub expected_version: i64,
    pub request_id: Option<&'a str>,
    pub name: &'a str,
    pub township: &'a str,
    /// When set, the community's township name is this township's.
    pub township_id: Option<Uuid>,
}

pub async fn upsert_community(
    pool: &PgPool,
    caller: &str,
    c: CommunityChange<'_>,
) -> Result<CommunityRow, RegistryError> {
    let mut tx = pool.begin().await?;
    let mut township = c.township.to_owned();
    if let Some(t) = c.township_id {
        township = geography::township_name(&mut tx, t)
            .await?
            .ok_or(RegistryError::UnknownTownship(t))?;
    }
    if let Some(id) = c.id {
        change::lock(&mut tx, Aggregate::Community, id, c.expected_version).await?;
    }
    let (id, name) = (c.id, c.name);
    let (row, changed) = geography::upsert_community(
        &mut tx,
        caller,
        c.request_id,
        id,
        name,
        &township,
        c.township_id,
    )
    .await?
    .ok_or(RegistryError::UnknownCommunity(id.unwrap_or_default()))?;
    if changed {
        events::community_upserted(&mut tx, &row).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// Soft-deletes a grid and announces it; read models stop routing to it.
pub async fn delete_grid(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<GridRow, RegistryError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Grid, id, expected_version).await?;
    let row = geography::delete_grid(&mut tx, id).await?;
    events::grid_deleted(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}
