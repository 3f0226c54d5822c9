//! What education consumes: organization's workers (consumer `education-workers`) and
//! communities (`education-communities`), applied in newer versions only.

use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::events::v1 as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store;

pub const WORKERS_CONSUMER: &str = "education-workers";
pub const COMMUNITIES_CONSUMER: &str = "education-communities";

pub struct WorkerEvents;

impl Handler for WorkerEvents {
    /// A report-in is followed by a worker.updated carrying the new community.
    fn ignores(&self, event: &Event) -> bool {
        event.subject.ends_with(".worker.reported_in")
    }

    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        // WorkerUpdated carries WorkerRegistered's fields 1-7, and `deleted`.
        let e: ev::WorkerUpdated = event.decode()?;
        let id = Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?;
        let community = Uuid::parse_str(&e.community_id).ok();
        store::apply_worker(tx, id, community, e.deleted, e.version).await?;
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
