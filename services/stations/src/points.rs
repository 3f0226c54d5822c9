//! Consumers `stations-points` (submitted tips) and `stations-attendance` (training attended):
//! each event earns its worker the configured points — one ledger entry per source event, the
//! balance updated and `PointsAwarded` published in the same transaction.

use chrono::Utc;
use kit::{
    bus::{Event, Handler, HandlerError, NewEvent, enqueue},
    time::to_timestamp,
};
use redsupply_proto::events::v1 as ev;
use sqlx::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use crate::{domain::PointsSettings, store};

pub const SOURCE: &str = "redsupply/stations";
pub const POINTS_AWARDED: &str = "redsupply.stations.points.awarded";
pub const REASON_TIP_SUBMITTED: &str = "tip_submitted";
pub const REASON_TRAINING_ATTENDED: &str = "training_attended";

pub struct Awards {
    pub rules: PointsSettings,
}

impl Handler for Awards {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::TipSubmitted = event.decode()?;
        let worker = Uuid::parse_str(&e.reporter_id).map_err(HandlerError::permanent)?;
        let span = tracing::info_span!("award", worker_id = %worker, tip_id = %e.tip_id);
        award(
            tx,
            worker,
            self.rules.tip_submitted,
            REASON_TIP_SUBMITTED,
            event.id,
        )
        .instrument(span)
        .await
    }
}

/// Consumer `stations-attendance`.
pub struct AttendanceAwards {
    pub rules: PointsSettings,
}

impl Handler for AttendanceAwards {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::AttendanceRecorded = event.decode()?;
        let worker = Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?;
        let span = tracing::info_span!("award", worker_id = %worker, session_id = %e.session_id);
        award(
            tx,
            worker,
            self.rules.training_attended,
            REASON_TRAINING_ATTENDED,
            event.id,
        )
        .instrument(span)
        .await
    }
}

async fn award(
    tx: &mut PgConnection,
    worker: Uuid,
    points: i64,
    reason: &str,
    source_event: Uuid,
) -> Result<(), HandlerError> {
    if points == 0 {
        return Ok(());
    }
    let Some((entry, balance)) =
        store::append_entry(tx, worker, points, reason, source_event).await?
    else {
        tracing::debug!("already awarded for this event");
        return Ok(());
    };
    let msg = ev::PointsAwarded {
        entry_id: entry.id.to_string(),
        worker_id: worker.to_string(),
        points,
        reason: reason.to_owned(),
        source_event_id: source_event.to_string(),
        balance,
        occurred_at: Some(to_timestamp(Utc::now())),
    };
    enqueue(tx, NewEvent::new(SOURCE, POINTS_AWARDED, worker, &msg)).await?;
    tracing::info!(points, balance, "points awarded");
    Ok(())
}
