//! What stations keeps of other services' data: organization's workers (community and platform,
//! for the leaderboards and the checks of the ids a request names; consumer `stations-workers`),
//! communities (which exist; consumer `stations-communities`) and grids (for coverage; consumer
//! `stations-grids`). Each applies only newer versions.

use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::events::v1 as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store;

pub struct WorkerEvents;

impl Handler for WorkerEvents {
    /// A report-in is followed by a worker.updated carrying the new community.
    fn ignores(&self, event: &Event) -> bool {
        event.subject.ends_with(".worker.reported_in")
    }

    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        // worker.updated carries the same fields 1-7 as worker.registered (community, platform and
        // version are all stations keeps).
        let e: ev::WorkerRegistered = event.decode()?;
        let id = Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?;
        let community = Uuid::parse_str(&e.community_id).ok();
        store::apply_worker(tx, id, community, &e.platform, e.version).await?;
        Ok(())
    }
}

pub struct CommunityEvents;

impl Handler for CommunityEvents {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::CommunityUpserted = event.decode()?;
        let id = Uuid::parse_str(&e.community_id).map_err(HandlerError::permanent)?;
        store::apply_community(tx, id, e.version).await?;
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
        store::apply_grid(tx, id, &e.name, &ring, e.version).await?;
        Ok(())
    }
}
