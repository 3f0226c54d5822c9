//! Consumer `governance-grids`: organization's grid events (upserted, deleted) into the grid read
//! model, which moves the open cases they concern (`app::grids`).

use std::sync::Arc;

use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::events::v1 as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{app::grids, domain::RoutingSettings};

pub struct GridEvents {
    pub routing: Arc<RoutingSettings>,
}

impl Handler for GridEvents {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        if event.subject.ends_with(".grid.deleted") {
            let e: ev::GridDeleted = event.decode()?;
            let id = Uuid::parse_str(&e.grid_id).map_err(HandlerError::permanent)?;
            grids::apply_grid_deleted(tx, &self.routing, id, e.version).await?;
            return Ok(());
        }
        let e: ev::GridUpserted = event.decode()?;
        let id = Uuid::parse_str(&e.grid_id).map_err(HandlerError::permanent)?;
        let shape = grids::GridShape {
            id,
            name: &e.name,
            community: Uuid::parse_str(&e.community_id).ok(),
            boundary: e
                .boundary
                .iter()
                .map(|p| (p.latitude, p.longitude))
                .collect(),
            version: e.version,
        };
        grids::apply_grid_upserted(tx, &self.routing, shape).await?;
        Ok(())
    }
}
