//! The integration events organization publishes, so that other services build read models of
//! workers, communities and grids. Each is written to the outbox inside the change's transaction.

use kit::bus::{NewEvent, enqueue};
use redsupply_proto::{common::v1::LatLng, events::v1 as ev};
use sqlx::PgConnection;

use crate::store::{CommunityRow, GridRow, WorkerRow};

pub const SOURCE: &str = "redsupply/organization";
pub const WORKER_REGISTERED: &str = "redsupply.organization.worker.registered";
pub const GRID_UPSERTED: &str = "redsupply.organization.grid.upserted";
pub const GRID_DELETED: &str = "redsupply.organization.grid.deleted";
pub const COMMUNITY_UPSERTED: &str = "redsupply.organization.community.upserted";

pub async fn worker_registered(tx: &mut PgConnection, w: &WorkerRow) -> Result<(), sqlx::Error> {
    let msg = ev::WorkerRegistered {
        worker_id: w.id.to_string(),
        platform: w.platform.clone(),
        enterprise_id: w.enterprise_id.map(|u| u.to_string()).unwrap_or_default(),
        community_id: w.community_id.map(|u| u.to_string()).unwrap_or_default(),
        party_member: w.party_member,
        version: w.version,
        occurred_at: Some(kit::time::to_timestamp(chrono::Utc::now())),
    };
    enqueue(tx, NewEvent::new(SOURCE, WORKER_REGISTERED, w.id, &msg)).await?;
    Ok(())
}

pub async fn grid_upserted(tx: &mut PgConnection, g: &GridRow) -> Result<(), sqlx::Error> {
    let msg = ev::GridUpserted {
        grid_id: g.id.to_string(),
        name: g.name.clone(),
        community_id: g.community_id.map(|u| u.to_string()).unwrap_or_default(),
        boundary: g
            .boundary
            .iter()
            .map(|&(latitude, longitude)| LatLng {
                latitude,
                longitude,
            })
            .collect(),
        version: g.version,
        occurred_at: Some(kit::time::to_timestamp(g.updated_at)),
    };
    enqueue(tx, NewEvent::new(SOURCE, GRID_UPSERTED, g.id, &msg)).await?;
    Ok(())
}

pub async fn community_upserted(
    tx: &mut PgConnection,
    c: &CommunityRow,
) -> Result<(), sqlx::Error> {
    let msg = ev::CommunityUpserted {
        community_id: c.id.to_string(),
        name: c.name.clone(),
        township: c.township.clone(),
        version: c.version,
        occurred_at: Some(kit::time::to_timestamp(chrono::Utc::now())),
    };
    enqueue(tx, NewEvent::new(SOURCE, COMMUNITY_UPSERTED, c.id, &msg)).await?;
    Ok(())
}

pub async fn grid_deleted(tx: &mut PgConnection, g: &GridRow) -> Result<(), sqlx::Error> {
    let msg = ev::GridDeleted {
        grid_id: g.id.to_string(),
        version: g.version,
        occurred_at: Some(kit::time::to_timestamp(g.updated_at)),
    };
    enqueue(tx, NewEvent::new(SOURCE, GRID_DELETED, g.id, &msg)).await?;
    Ok(())
}
