//! Consumer `governance-workers`: organization's worker events into the worker read model, so
//! governance refuses a volunteer or a staff-filed tip for someone not registered (or deleted).

use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::events::v1 as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store;

/// Applies `WorkerRegistered` and `WorkerUpdated`.
pub struct WorkerEvents;

impl Handler for WorkerEvents {
    /// A report-in is followed by a worker.updated carrying the new community.
    fn ignores(&self, event: &Event) -> bool {
        event.subject.ends_with(".worker.reported_in")
    }

    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        // WorkerUpdated carries WorkerRegistered's fields 1-7, and `deleted` (a registration
        // decodes with deleted = false).
        let e: ev::WorkerUpdated = event.decode()?;
        let id = Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?;
        let community = Uuid::parse_str(&e.community_id).ok();
        store::apply_worker(tx, id, community, e.deleted, e.version).await?;
        Ok(())
    }
}
