//! Consumer `governance-dispatch`: a submitted tip becomes a case in the grid that holds it, with
//! the department its category calls for and a deadline. A tip outside every grid goes to the
//! county-level queue; none is dropped.

use std::sync::Arc;

use chrono::Utc;
use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::{
    events::v1 as ev,
    governance::v1::{CaseStatus, TipCategory, TipStatus},
};
use sqlx::{PgConnection, PgPool};
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    domain::RoutingSettings,
    events,
    grids::Grids,
    store::{self, CaseRow},
};

pub struct Dispatch {
    pub pool: PgPool,
    pub grids: Grids,
    pub routing: Arc<RoutingSettings>,
}

impl Handler for Dispatch {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::TipSubmitted = event.decode()?;
        let tip_id = Uuid::parse_str(&e.tip_id).map_err(HandlerError::permanent)?;
        let span = tracing::info_span!("dispatch", tip_id = %tip_id, case_id = tracing::field::Empty, grid_id = tracing::field::Empty);
        self.dispatch(tx, tip_id).instrument(span).await
    }
}

impl Dispatch {
    async fn dispatch(&self, tx: &mut PgConnection, tip_id: Uuid) -> Result<(), HandlerError> {
        let tip = store::lock_tip(tx, tip_id)
            .await?
            .ok_or_else(|| HandlerError::permanent(format!("tip {tip_id} does not exist")))?;
        if tip.status != TipStatus::Received as i16 {
            tracing::debug!(status = tip.status, "tip already dispatched");
            return Ok(());
        }
        let mut grid = self.grids.current().locate(tip.latitude, tip.longitude);
        if grid.is_none() && self.grids.refresh_if_stale(tx, &self.pool).await? {
            grid = self.grids.current().locate(tip.latitude, tip.longitude);
        }
        let category = TipCategory::try_from(i32::from(tip.category)).unwrap_or(TipCategory::Other);
        let now = Utc::now();
        let case = CaseRow {
            id: Uuid::now_v7(),
            grid_id: grid,
            department: self.routing.department(category, grid.is_some()),
            status: CaseStatus::Assigned as i16,
            category: tip.category,
            latitude: tip.latitude,
            longitude: tip.longitude,
            due_at: now + self.routing.deadline(category),
            note: String::new(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        store::insert_case(tx, &case).await?;
        store::link_tip(tx, tip.id, case.id, TipStatus::Routed).await?;
        store::record_change(tx, &case.to_pb(&[tip.id]), case.grid_id, None).await?;
        events::case_assigned(tx, &case, tip.id).await?;
        let span = tracing::Span::current();
        span.record("case_id", tracing::field::display(case.id));
        span.record(
            "grid_id",
            tracing::field::display(
                grid.map(|g| g.to_string())
                    .unwrap_or_else(|| "county".into()),
            ),
        );
        tracing::info!(department = %case.department, "case assigned");
        Ok(())
    }
}
