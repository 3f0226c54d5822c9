//! The registry's use cases (`OrganizationService`), each one transaction holding the change and
//! its event: workers — registration, edits, soft deletion, report-in to a community — and the
//! county's territory — townships and streets (镇街), communities, grids. The gRPC API and the demo
//! seed both go through here.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    domain::personal::Vault,
    events::publish,
    store::{
        geography::{self, CommunityRow, GridRow, TownshipRow},
        membership::{End, MEMBERSHIP_CLEARED, REMOVED},
        tree,
        workers::{self, NewWorker, ReportInRow, WorkerEdit, WorkerRow},
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
    // A retried registration answers the first one.
    if let Some(done) = workers::by_request(&mut tx, caller, request_id).await? {
        return Ok(done);
    }
    // The same person registered twice: point at the record that exists.
    let phone = vault.lookup_hashes(&worker.phone);
    let id_number = worker
        .id_number
        .as_deref()
        .map(|n| vault.lookup_hashes(n))
        .unwrap_or_default();
    if let Some((id, field)) = workers::registered_with(&mut tx, &phone, &id_number, None).await? {
        return Err(RegistryError::Change(ChangeError::AlreadyExists {
            field,
            what: Aggregate::Worker,
            id,
        }));
    }
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
        publish::worker_registered(&mut tx, &row).await?;
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
        let others = geography::other_grids(&mut tx, change.id, caller, change.request_id).await?;
        fits_among(county, change.boundary, &others)?;
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
        publish::grid_upserted(&mut tx, &row).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// Whether a boundary follows the county's grid rules and overlaps none of `others` beyond the
/// tolerance (the first it overlaps is named).
fn fits_among(
    county: &kit::settings::CountySettings,
    boundary: &[(f64, f64)],
    others: &[geography::GridShape],
) -> Result<(), RegistryError> {
    let shape = kit::geo::Boundary::new(boundary, &county.extent, &county.grids)?;
    let tolerance = county.grids.grid_overlap_tolerance;
    for other in others {
        let share = shape.overlap_with(&other.boundary);
        if share > tolerance {
            return Err(RegistryError::Overlap {
                other: other.id,
                name: other.name.clone(),
                share,
                tolerance,
            });
        }
    }
    Ok(())
}

/// Undoes a grid's deletion, unless it now overlaps a live grid drawn since (or no longer follows
/// the county's grid rules); announced as upserted with a new version, so read models route to
/// it again. A live grid is answered as it stands.
pub async fn restore_grid(
    pool: &PgPool,
    county: &kit::settings::CountySettings,
    id: Uuid,
    expected_version: i64,
) -> Result<GridRow, RegistryError> {
    let mut tx = pool.begin().await?;
    if !change::lock_any(&mut tx, Aggregate::Grid, id, expected_version).await? {
        return Ok(geography::load_grid(&mut tx, id).await?);
    }
    geography::lock_grid_layout(&mut tx).await?;
    let grid = geography::load_grid(&mut tx, id).await?;
    let others = geography::other_grids(&mut tx, Some(id), "", None).await?;
    fits_among(county, &grid.boundary, &others)?;
    change::mark_restored(&mut tx, Aggregate::Grid, id).await?;
    let row = geography::load_grid(&mut tx, id).await?;
    publish::grid_upserted(&mut tx, &row).await?;
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
        publish::community_upserted(&mut tx, &row).await?;
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
    Ok(super::soft_delete(
        pool,
        Aggregate::Grid,
        id,
        expected_version,
        super::always,
        async |tx| geography::load_grid(tx, id).await,
        async |tx, row| publish::grid_deleted(tx, row).await,
    )
    .await?)
}

pub struct TownshipChange<'a> {
    pub id: Option<Uuid>,
    pub expected_version: i64,
    pub request_id: &'a str,
    pub name: &'a str,
    pub kind: i16,
}

pub async fn upsert_township(
    pool: &PgPool,
    caller: &str,
    c: TownshipChange<'_>,
) -> Result<TownshipRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let row: TownshipRow = match c.id {
        Some(id) => {
            change::lock(&mut tx, Aggregate::Township, id, c.expected_version).await?;
            geography::update_township(&mut tx, id, c.name, c.kind).await?
        }
        None => {
            let id = Uuid::now_v7();
            if let Some(existing) =
                change::claim_request(&mut tx, caller, c.request_id, Aggregate::Township, id)
                    .await?
            {
                return Ok(geography::township(&mut tx, existing)
                    .await?
                    .expect("claimed township exists"));
            }
            geography::insert_township(&mut tx, id, c.name, c.kind).await?
        }
    };
    // Communities carry their township's name: a rename is a change of each of them too.
    let renamed = geography::rename_township_communities(&mut tx, row.id, &row.name).await?;
    for c in &renamed {
        publish::community_upserted(&mut tx, c).await?;
    }
    publish::township_upserted(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update_worker(
    pool: &PgPool,
    vault: &Vault,
    caller: &str,
    id: Uuid,
    expected_version: i64,
    edit: WorkerEdit,
) -> Result<WorkerRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, id, expected_version).await?;
    let phone = edit
        .phone
        .as_deref()
        .map(|p| vault.lookup_hashes(p))
        .unwrap_or_default();
    let id_number = edit
        .id_number
        .as_ref()
        .and_then(|n| n.as_deref())
        .map(|n| vault.lookup_hashes(n))
        .unwrap_or_default();
    if (!phone.is_empty() || !id_number.is_empty())
        && let Some((other, field)) =
            workers::registered_with(&mut tx, &phone, &id_number, Some(id)).await?
    {
        return Err(ChangeError::AlreadyExists {
            field,
            what: Aggregate::Worker,
            id: other,
        });
    }
    if let Some(Some(e)) = edit.enterprise_id
        && !change::exists(&mut tx, Aggregate::Enterprise, e).await?
    {
        return Err(ChangeError::invalid(
            "enterprise_id",
            format!("enterprise {e} does not exist"),
        ));
    }
    workers::update(&mut tx, vault, id, &edit).await?;
    let mut row = workers::load(&mut tx, id).await?;
    // No longer a party member: no longer a member of their organization either (the worker is
    // announced with the spell that ended).
    let cleared = edit.party_member == Some(false) && row.organization_id.is_some();
    let end = End {
        how: MEMBERSHIP_CLEARED,
        reason: "party membership cleared",
        by: caller,
        transferred_to: None,
    };
    if cleared
        && super::membership::end(&mut tx, id, &end, false)
            .await?
            .is_some()
    {
        row = workers::load(&mut tx, id).await?;
    } else {
        publish::worker_updated(&mut tx, &row).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// Soft delete: tips, points and links keep pointing at the worker; searches and coverage skip them.
pub async fn delete_worker(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<WorkerRow, ChangeError> {
    super::soft_delete(
        pool,
        Aggregate::Worker,
        id,
        expected_version,
        super::always,
        async |tx| workers::load(tx, id).await,
        async |tx, row| publish::worker_updated(tx, row).await,
    )
    .await
}

/// Undoes a worker's deletion, unless another live worker now holds their phone or ID number.
pub async fn restore_worker(
    pool: &PgPool,
    caller: &str,
    id: Uuid,
    expected_version: i64,
) -> Result<WorkerRow, ChangeError> {
    super::restore(
        pool,
        Aggregate::Worker,
        id,
        expected_version,
        async |tx| {
            // The stored hashes: during a key rotation a duplicate whose hash is still the other
            // key's is found only once `redsupply personal-data reseal` has run.
            let (phone, id_number) = workers::hashes_of(tx, id).await?;
            if let Some((other, field)) = workers::registered_with(
                tx,
                &Vec::from_iter(phone),
                &Vec::from_iter(id_number),
                Some(id),
            )
            .await?
            {
                return Err(ChangeError::AlreadyExists {
                    field,
                    what: Aggregate::Worker,
                    id: other,
                });
            }
            // Their organization may have been deleted meanwhile (a deleted worker is not
            // counted as its member): they come back as a member of none.
            if let Some(organization) = workers::load(tx, id).await?.organization_id
                && tree::live_kind(tx, organization).await?.is_none()
            {
                let end = End {
                    how: REMOVED,
                    reason: "their organization was deleted while they were",
                    by: caller,
                    transferred_to: None,
                };
                super::membership::end(tx, id, &end, true).await?;
            }
            Ok(())
        },
        async |tx| workers::load(tx, id).await,
        async |tx, row| publish::worker_updated(tx, row).await,
    )
    .await
}

/// The worker reports in to the community (报到备案); their community becomes this one.
pub async fn report_in(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    worker_id: Uuid,
    community_id: Uuid,
    note: &str,
) -> Result<(ReportInRow, WorkerRow), ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, worker_id, 0).await?;
    if !change::exists(&mut tx, Aggregate::Community, community_id).await? {
        return Err(ChangeError::invalid(
            "community_id",
            format!("community {community_id} does not exist"),
        ));
    }
    let id = Uuid::now_v7();
    if let Some(existing) =
        change::claim_request(&mut tx, caller, request_id, Aggregate::ReportIn, id).await?
    {
        let row = workers::report_in(&mut tx, existing).await?;
        let worker = workers::load(&mut tx, row.worker_id).await?;
        return Ok((row, worker));
    }
    let row = workers::insert_report_in(&mut tx, id, worker_id, community_id, note).await?;
    workers::move_to_community(&mut tx, worker_id, community_id, row.reported_at).await?;
    let worker = workers::load(&mut tx, worker_id).await?;
    publish::worker_reported_in(&mut tx, &row, worker.version).await?;
    publish::worker_updated(&mut tx, &worker).await?;
    tx.commit().await?;
    Ok((row, worker))
}
