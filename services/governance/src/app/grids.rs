//! The grid read model: organization's grid events land in the `grids` table (consumer
//! `governance-grids`), moving the open cases a change concerns; and every replica keeps an
//! in-memory R-tree of the grids, reloaded when any replica applies a change (`NOTIFY
//! governance_grids`) and, as a fallback, every minute.

use std::{sync::Arc, time::Duration};

use kit::Shutdown;
use redsupply_proto::governance::v1::{CaseStatus, TipCategory};
use sqlx::{PgConnection, PgPool};
use std::sync::RwLock;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::changes::record_case_change;
use crate::{
    domain::{GridIndex, RoutingSettings},
    events::publish,
    store::{self, CaseRow},
};

/// The shared, swappable index.
#[derive(Clone, Default)]
pub struct Grids {
    index: Arc<RwLock<Arc<GridIndex>>>,
}

impl Grids {
    pub fn current(&self) -> Arc<GridIndex> {
        self.index.read().expect("grid index lock").clone()
    }

    /// Reloads from the read model.
    pub async fn reload(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let (grids, generation) = store::grids(pool).await?;
        let index = Arc::new(GridIndex::new(grids, generation));
        tracing::debug!(grids = index.len(), generation, "grid index loaded");
        *self.index.write().expect("grid index lock") = index;
        Ok(())
    }

    /// Reloads when the read model holds changes the index lacks (checked on a routing miss).
    pub async fn refresh_if_stale(
        &self,
        conn: &mut PgConnection,
        pool: &PgPool,
    ) -> Result<bool, sqlx::Error> {
        let latest = store::grid_generation(conn).await?;
        if latest > self.current().generation {
            self.reload(pool).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Keeps the index current until shutdown.
    pub fn spawn_refresher(&self, pool: PgPool, shutdown: Shutdown) -> JoinHandle<()> {
        let grids = self.clone();
        kit::db::spawn_listener(
            pool.clone(),
            "governance_grids",
            Duration::from_secs(60),
            shutdown,
            move || {
                let (grids, pool) = (grids.clone(), pool.clone());
                async move {
                    if let Err(e) = grids.reload(&pool).await {
                        tracing::warn!(error = %e, "grid index reload failed");
                    }
                }
            },
        )
    }
}

/// A grid's new shape at `version` into the read model; then the open cases of the county queue
/// that it holds are routed to it. False when a newer version was here.
pub async fn apply_grid_upserted(
    tx: &mut PgConnection,
    routing: &RoutingSettings,
    grid: GridShape<'_>,
) -> Result<bool, sqlx::Error> {
    let applied = store::apply_grid(
        tx,
        grid.id,
        grid.name,
        grid.community,
        &grid.boundary,
        grid.version,
    )
    .await?;
    tracing::info!(grid_id = %grid.id, version = grid.version, applied, "grid read model");
    if applied {
        let index = GridIndex::new([(grid.id, grid.boundary)], 0);
        for case in store::county_queue(tx).await? {
            if index.locate(case.latitude, case.longitude).is_some() {
                route_to(tx, routing, &case, Some(grid.id), "a grid now holds it").await?;
                tracing::info!(case_id = %case.id, grid_id = %grid.id, "county-queue case routed to a new grid");
            }
        }
    }
    Ok(applied)
}

/// A grid deleted at `version`: out of the read model, and its open cases back to the county
/// queue (no grid, the county queue's department, deadline kept): nobody would otherwise see them
/// again. False when a newer version was here.
pub async fn apply_grid_deleted(
    tx: &mut PgConnection,
    routing: &RoutingSettings,
    id: Uuid,
    version: i64,
) -> Result<bool, sqlx::Error> {
    store::lock_grid_routing(tx, true).await?;
    let removed = store::remove_grid(tx, id, version).await?;
    tracing::info!(grid_id = %id, version, removed, "grid deleted from the read model");
    if removed {
        for case in store::open_cases_in_grid(tx, id).await? {
            route_to(tx, routing, &case, None, "its grid was deleted").await?;
            tracing::info!(case_id = %case.id, grid_id = %id, "case of a deleted grid returned to the county queue");
        }
    }
    Ok(removed)
}

/// A grid as organization announced it.
pub struct GridShape<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub community: Option<Uuid>,
    pub boundary: Vec<(f64, f64)>,
    pub version: i64,
}

/// Sends an open case to `grid` (None: the county queue) with the department routing gives its
/// category there, ASSIGNED again with its deadline kept; the history line, the feed change and a
/// `CaseRerouted` by "system" go with it.
async fn route_to(
    tx: &mut PgConnection,
    routing: &RoutingSettings,
    case: &CaseRow,
    grid: Option<Uuid>,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let category = TipCategory::try_from(i32::from(case.category)).unwrap_or(TipCategory::Other);
    let department = routing.department(category, grid.is_some());
    let after = store::reroute_case(
        tx,
        case.id,
        &store::Route {
            grid_id: grid,
            department: &department,
            category: case.category,
            due_at: case.due_at,
            status: CaseStatus::Assigned as i16,
        },
    )
    .await?;
    record_case_change(tx, case, &after, "system", reason, "").await?;
    publish::case_rerouted(tx, case, &after, reason, "system").await?;
    Ok(())
}
