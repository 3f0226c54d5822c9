//! What stations keeps of other services' data: organization's workers (community, platform and
//! enterprise, for the leaderboards, the honours and the checks of the ids a request names;
//! consumer `stations-workers`), communities (which exist; consumer `stations-communities`) and
//! grids (for coverage; consumer `stations-grids`). Each applies only newer versions.

use kit::bus::{
    Event, Handler, HandlerError,
    registry::{CommunityState, CommunityStore, WorkerState, WorkerStore},
};
use redsupply_proto::events::v1 as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store;

/// Stations' `workers` table (community, platform and whether deleted; worker events decoded by
/// `kit::bus::registry`).
pub struct Workers;

impl WorkerStore for Workers {
    async fn apply(&self, tx: &mut PgConnection, w: &WorkerState) -> Result<(), sqlx::Error> {
        store::apply_worker(tx, w).await?;
        Ok(())
    }
}

/// Stations' `communities` table.
pub struct Communities;

impl CommunityStore for Communities {
    async fn apply(&self, tx: &mut PgConnection, c: &CommunityState) -> Result<(), sqlx::Error> {
        store::apply_community(tx, c.id, c.version).await?;
        Ok(())
    }
}

pub struct GridEvents;

impl Handler for GridEvents {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        if event.subject.ends_with(".grid.deleted") {
            let e: ev::GridDeleted = event.decode()?;
            let id = Uuid::parse_str(&e.grid_id).map_err(HandlerError::permanent)?;
            store::remove_grid(tx, id, e.version).await?;
            return Ok(());
        }
        let e: ev::GridUpserted = event.decode()?;
        let id = Uuid::parse_str(&e.grid_id).map_err(HandlerError::permanent)?;
        let ring: Vec<(f64, f64)> = e
            .boundary
            .iter()
            .map(|p| (p.latitude, p.longitude))
            .collect();
        let community = Uuid::parse_str(&e.community_id).ok();
        store::apply_grid(tx, id, &e.name, community, &ring, e.version).await?;
        Ok(())
    }
}
