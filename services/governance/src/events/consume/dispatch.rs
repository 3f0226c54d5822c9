//! Consumer `governance-dispatch`: governance's own `TipSubmitted` events, decoded and handed to
//! `app::dispatch` — one at a time, or a group that arrived together in one go.

use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::events::v1 as ev;
use sqlx::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use crate::app::dispatch::Dispatch;

fn tip_id(event: &Event) -> Result<Uuid, HandlerError> {
    let e: ev::TipSubmitted = event.decode()?;
    Uuid::parse_str(&e.tip_id).map_err(HandlerError::permanent)
}

impl Handler for Dispatch {
    /// Dispatch is keyed by the tip's own state: it locks the tip and acts only while the tip
    /// is still `received`, so a redelivered submission finds it routed (or merged, or
    /// rejected) and changes nothing, with no inbox row.
    fn keyed_by_effect(&self, _event: &Event) -> bool {
        true
    }

    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let tip_id = tip_id(event)?;
        let span = tracing::info_span!("dispatch", tip_id = %tip_id, case_id = tracing::field::Empty, grid_id = tracing::field::Empty, merged = tracing::field::Empty);
        self.dispatch(tx, tip_id).instrument(span).await
    }

    async fn handle_many(
        &self,
        tx: &mut PgConnection,
        events: &[&Event],
    ) -> Result<(), HandlerError> {
        let ids = events
            .iter()
            .map(|e| tip_id(e))
            .collect::<Result<Vec<_>, _>>()?;
        let span = tracing::info_span!("dispatch_many", tips = ids.len());
        self.dispatch_many(tx, &ids).instrument(span).await
    }
}
