//! What education consumes: organization's workers (consumer `education-workers`) and
//! communities (`education-communities`), decoded by `kit::bus::registry`, and stations' stations
//! (`education-stations`: where an activity may be held); each applied in newer versions only.

use kit::bus::{
    Event, Handler, HandlerError,
    registry::{CommunityState, CommunityStore, WorkerState, WorkerStore},
};
use redsupply_proto::events::v1 as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store;

pub const WORKERS_CONSUMER: &str = "education-workers";
pub const COMMUNITIES_CONSUMER: &str = "education-communities";
pub const STATIONS_CONSUMER: &str = "education-stations";

/// Education's `workers` table.
pub struct Workers;

impl WorkerStore for Workers {
    async fn apply(&self, tx: &mut PgConnection, w: &WorkerState) -> Result<(), sqlx::Error> {
        store::apply_worker(tx, w.id, w.community, w.deleted, w.version).await
    }
}

/// Education's `communities` table.
pub struct Communities;

impl CommunityStore for Communities {
    async fn apply(&self, tx: &mut PgConnection, c: &CommunityState) -> Result<(), sqlx::Error> {
        store::apply_community(tx, c.id, c.version).await
    }
}

/// Education's `stations` table, from `StationUpserted` (a retired station stays, marked).
pub struct Stations;

impl Handler for Stations {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::StationUpserted = event.decode()?;
        let id = Uuid::parse_str(&e.station_id).map_err(HandlerError::permanent)?;
        store::apply_station(tx, id, &e.name, e.retired, e.version).await?;
        Ok(())
    }
}
