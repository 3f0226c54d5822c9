//! The grid read model: organization's grid events land in the `grids` table (consumer
//! `governance-grids`), and every replica keeps an in-memory R-tree of them, reloaded when any
//! replica applies a change (`NOTIFY governance_grids`) and, as a fallback, every minute.

use std::{sync::Arc, time::Duration};

use kit::{
    Shutdown,
    bus::{Event, Handler, HandlerError},
};
use redsupply_proto::events::v1 as ev;
use sqlx::{PgConnection, PgPool};
use std::sync::RwLock;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::{domain::GridIndex, store};

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

/// Consumer `governance-grids`: applies `GridUpserted` to the read model, then routes the open
/// cases of the county queue that the new boundary holds.
pub struct GridEvents {
    pub routing: std::sync::Arc<crate::domain::RoutingSettings>,
}

impl Handler for GridEvents {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        if event.subject.ends_with(".grid.deleted") {
            let e: ev::GridDeleted = event.decode()?;
            let id = Uuid::parse_str(&e.grid_id).map_err(HandlerError::permanent)?;
            store::lock_grid_routing(tx, true).await?;
            let removed = store::remove_grid(tx, id, e.version).await?;
            tracing::info!(grid_id = %id, version = e.version, removed, "grid deleted from the read model");
            if removed {
                self.return_to_county_queue(tx, id).await?;
            }
            return Ok(());
        }
        let e: ev::GridUpserted = event.decode()?;
        let id = Uuid::parse_str(&e.grid_id).map_err(HandlerError::permanent)?;
        let community = Uuid::parse_str(&e.community_id).ok();
        let boundary: Vec<(f64, f64)> = e
            .boundary
            .iter()
            .map(|p| (p.latitude, p.longitude))
            .collect();
        let applied = store::apply_grid(tx, id, &e.name, community, &boundary, e.version).await?;
        tracing::info!(grid_id = %id, version = e.version, applied, "grid read model");
        if applied {
            self.route_county_queue(tx, id, boundary).await?;
        }
        Ok(())
    }
}

impl GridEvents {
    /// The open cases of a deleted grid go back to the county queue (no grid, the county queue's
    /// department, deadline kept), each with a history line, a feed change and a `CaseRerouted`:
    /// nobody would otherwise see them again.
    async fn return_to_county_queue(
        &self,
        tx: &mut PgConnection,
        grid: Uuid,
    ) -> Result<(), sqlx::Error> {
        use redsupply_proto::governance::v1::{CaseStatus, TipCategory};
        for case in store::open_cases_in_grid(tx, grid).await? {
            let category =
                TipCategory::try_from(i32::from(case.category)).unwrap_or(TipCategory::Other);
            let department = self.routing.department(category, false);
            let after = store::reroute_case(
                tx,
                case.id,
                &store::Route {
                    grid_id: None,
                    department: &department,
                    category: case.category,
                    due_at: case.due_at,
                    status: CaseStatus::Assigned as i16,
                },
            )
            .await?;
            let reason = "its grid was deleted";
            store::record_transition(tx, &store::Transition::of(&case, &after, "system", reason))
                .await?;
            store::record_change(tx, case.id, Some(store::Before::of(&case))).await?;
            crate::events::case_rerouted(tx, &case, &after, reason, "system").await?;
            tracing::info!(case_id = %case.id, grid_id = %grid, "case of a deleted grid returned to the county queue");
        }
        Ok(())
    }

    async fn route_county_queue(
        &self,
        tx: &mut PgConnection,
        grid: Uuid,
        boundary: Vec<(f64, f64)>,
    ) -> Result<(), sqlx::Error> {
        use redsupply_proto::governance::v1::{CaseStatus, TipCategory};
        let index = GridIndex::new([(grid, boundary)], 0);
        for case in store::county_queue(tx).await? {
            if index.locate(case.latitude, case.longitude).is_none() {
                continue;
            }
            let category =
                TipCategory::try_from(i32::from(case.category)).unwrap_or(TipCategory::Other);
            let department = self.routing.department(category, true);
            let after = store::reroute_case(
                tx,
                case.id,
                &store::Route {
                    grid_id: Some(grid),
                    department: &department,
                    category: case.category,
                    due_at: case.due_at,
                    status: CaseStatus::Assigned as i16,
                },
            )
            .await?;
            let reason = "a grid now holds it";
            store::record_transition(tx, &store::Transition::of(&case, &after, "system", reason))
                .await?;
            store::record_change(tx, case.id, Some(store::Before::of(&case))).await?;
            crate::events::case_rerouted(tx, &case, &after, reason, "system").await?;
            tracing::info!(case_id = %case.id, grid_id = %grid, "county-queue case routed to a new grid");
        }
        Ok(())
    }
}
