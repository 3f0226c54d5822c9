//! Consumer `governance-dispatch`: a submitted tip joins an open case of the same category close
//! by (a near-duplicate: MERGED) or becomes a new case in the grid that holds it, with the
//! department its category calls for, a deadline and a number. A tip outside every grid goes to
//! the county-level queue; none is dropped. Near-duplicates arriving at once are serialized by
//! advisory locks on the lattice cells around them, so they make one case, not two.

use std::sync::Arc;

use chrono::{Datelike, Duration, Utc};
use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::{
    events::v1 as ev,
    governance::v1::{CaseStatus, TipCategory, TipStatus},
};
use sqlx::{PgConnection, PgPool};
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    domain::{self, MergeSettings, RoutingSettings},
    events,
    grids::Grids,
    store::{self, CaseRow, Transition},
};

pub struct Dispatch {
    pub pool: PgPool,
    pub grids: Grids,
    pub routing: Arc<RoutingSettings>,
    pub merge: MergeSettings,
    pub county_code: String,
    pub utc_offset_minutes: i32,
}

impl Handler for Dispatch {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::TipSubmitted = event.decode()?;
        let tip_id = Uuid::parse_str(&e.tip_id).map_err(HandlerError::permanent)?;
        let span = tracing::info_span!("dispatch", tip_id = %tip_id, case_id = tracing::field::Empty, grid_id = tracing::field::Empty, merged = tracing::field::Empty);
        self.dispatch(tx, tip_id).instrument(span).await
    }
}

impl Dispatch {
    async fn dispatch(&self, tx: &mut PgConnection, tip_id: Uuid) -> Result<(), HandlerError> {
        let tip = store::lock_tip(tx, tip_id)
            .await?
            .ok_or_else(|| HandlerError::permanent(format!("tip {tip_id} does not exist")))?;
        if tip.status != TipStatus::Received as i16 {
            tracing::debug!(status = tip.status, "tip already dispatched or rejected");
            return Ok(());
        }
        let span = tracing::Span::current();
        let open = match self.near_duplicate(tx, &tip).await? {
            // Still open when we lock it? (It may have been resolved a moment ago.)
            Some(candidate) => store::touch_open_case(tx, candidate.id).await?,
            None => None,
        };
        if let Some(case) = open {
            store::link_tip(tx, tip.id, case.id, TipStatus::Merged).await?;
            let tips = store::case_tip_ids(tx, case.id).await?;
            store::record_change(tx, &case.to_pb(&tips), case.grid_id, None).await?;
            events::case_assigned(tx, &case, tip.id, true).await?;
            span.record("case_id", tracing::field::display(case.id));
            span.record("merged", true);
            tracing::info!(
                reporters = case.reporter_count,
                "tip merged into an open case"
            );
            return Ok(());
        }
        // Under the shared routing lock no grid change can commit; catch up with any that did.
        store::lock_grid_routing(tx, false).await?;
        self.grids.refresh_if_stale(tx, &self.pool).await?;
        let grid = self.grids.current().locate(tip.latitude, tip.longitude);
        let category = TipCategory::try_from(i32::from(tip.category)).unwrap_or(TipCategory::Other);
        let now = Utc::now();
        // Numbers follow the county's calendar year.
        let year = (now + Duration::minutes(i64::from(self.utc_offset_minutes))).year();
        let number = store::next_case_number(tx, &self.county_code, year).await?;
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
            number: Some(domain::case_number(&self.county_code, year, number)),
            external_ref: String::new(),
            escalated_at: None,
            reporter_count: 1,
        };
        store::insert_case(tx, &case).await?;
        store::link_tip(tx, tip.id, case.id, TipStatus::Routed).await?;
        store::record_transition(
            tx,
            &Transition {
                case_id: case.id,
                from_status: None,
                to_status: case.status,
                from_grid: None,
                to_grid: case.grid_id,
                from_department: None,
                to_department: &case.department,
                actor: "system",
                reason: if grid.is_some() {
                    "dispatched to the grid holding the tip"
                } else {
                    "outside every grid: county queue"
                },
            },
        )
        .await?;
        store::record_change(tx, &case.to_pb(&[tip.id]), case.grid_id, None).await?;
        events::case_assigned(tx, &case, tip.id, false).await?;
        span.record("case_id", tracing::field::display(case.id));
        span.record(
            "grid_id",
            tracing::field::display(
                grid.map(|g| g.to_string())
                    .unwrap_or_else(|| "county".into()),
            ),
        );
        tracing::info!(department = %case.department, number = ?case.number, "case assigned");
        Ok(())
    }

    /// An open case of the tip's category within the merge distance, created within the window:
    /// the nearest, then the oldest.
    async fn near_duplicate(
        &self,
        tx: &mut PgConnection,
        tip: &store::TipRow,
    ) -> Result<Option<CaseRow>, sqlx::Error> {
        if self.merge.distance_meters <= 0.0 {
            return Ok(None);
        }
        for key in domain::merge_lock_keys(
            tip.category,
            tip.latitude,
            tip.longitude,
            self.merge.distance_meters,
        ) {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        let (dlat, dlng) = domain::degrees_around(tip.latitude, self.merge.distance_meters);
        let candidates = store::open_cases_near(
            tx,
            tip.category,
            (tip.latitude - dlat, tip.latitude + dlat),
            (tip.longitude - dlng, tip.longitude + dlng),
            Utc::now() - Duration::minutes(self.merge.window_minutes),
        )
        .await?;
        Ok(candidates
            .into_iter()
            .map(|c| {
                (
                    domain::distance_meters(tip.latitude, tip.longitude, c.latitude, c.longitude),
                    c,
                )
            })
            .filter(|(d, _)| *d <= self.merge.distance_meters)
            .min_by(|a, b| {
                a.0.total_cmp(&b.0)
                    .then(a.1.created_at.cmp(&b.1.created_at))
            })
            .map(|(_, c)| c))
    }
}
