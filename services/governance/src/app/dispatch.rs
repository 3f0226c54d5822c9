//! Dispatch, the statements half (consumer `governance-dispatch` decodes and calls it): a submitted tip joins an open case of the same category close
//! by (a near-duplicate: MERGED) or becomes a new case in the grid that holds it, with the
//! department its category calls for, a deadline and a number. A tip outside every grid goes to
//! the county-level queue; none is dropped. Near-duplicates arriving at once are serialized by
//! advisory locks on the lattice cells around them, so they make one case, not two. Which case a
//! tip joins is planned by `domain::dispatch`, the same for one tip and for a group.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Utc};
use kit::bus::HandlerError;
use redsupply_proto::governance::v1::{CaseStatus, TipCategory, TipStatus};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::grids::Grids;
use crate::{
    domain::{
        self, MergeSettings, RoutingSettings,
        dispatch::{Grouping, OpenCase, Spot, Target},
    },
    events::publish,
    store::{self, CaseRow, TipRow, Transition},
};

pub struct Dispatch {
    pub pool: PgPool,
    pub grids: Grids,
    pub routing: Arc<RoutingSettings>,
    pub merge: MergeSettings,
    pub county_code: String,
    pub utc_offset_minutes: i32,
}

impl Dispatch {
    /// The case a tip opens in `grid` (None: the county queue), before it has a number, a
    /// version or a reporter.
    fn case_for(&self, tip: &TipRow, grid: Option<Uuid>, now: DateTime<Utc>) -> CaseRow {
        let category = TipCategory::try_from(i32::from(tip.category)).unwrap_or(TipCategory::Other);
        CaseRow {
            id: Uuid::now_v7(),
            grid_id: grid,
            department: self.routing.department(category, grid.is_some()),
            status: CaseStatus::Assigned as i16,
            category: tip.category,
            latitude: tip.latitude,
            longitude: tip.longitude,
            due_at: now + self.routing.deadline(category),
            note: String::new(),
            version: 0,
            created_at: now,
            updated_at: now,
            number: None,
            external_ref: String::new(),
            escalated_at: None,
            reporter_count: 0,
            public_reply: String::new(),
            resolution: 0,
            closed_at: None,
        }
    }

    /// Dispatches one submitted tip.
    pub async fn dispatch(&self, tx: &mut PgConnection, tip_id: Uuid) -> Result<(), HandlerError> {
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
            // The snapshot is read after the link, so it counts this tip's reporter too.
            let snapshot =
                store::record_change(tx, case.id, Some(store::Before::of(&case))).await?;
            publish::case_assigned(tx, &case, &tip, true).await?;
            span.record("case_id", tracing::field::display(case.id));
            span.record("merged", true);
            tracing::info!(
                reporters = snapshot.reporter_count,
                "tip merged into an open case"
            );
            return Ok(());
        }
        // Under the shared routing lock no grid change can commit; catch up with any that did.
        store::lock_grid_routing(tx, false).await?;
        self.grids.refresh_if_stale(tx, &self.pool).await?;
        let grid = self.grids.current().locate(tip.latitude, tip.longitude);
        let now = Utc::now();
        // Numbers follow the county's calendar year.
        let year = (now + Duration::minutes(i64::from(self.utc_offset_minutes))).year();
        let number = store::next_case_number(tx, &self.county_code, year).await?;
        let case = CaseRow {
            version: 1,
            number: Some(domain::case_number(&self.county_code, year, number)),
            reporter_count: 1,
            ..self.case_for(&tip, grid, now)
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
                public_reply: "",
                version: case.version,
            },
        )
        .await?;
        store::record_change(tx, case.id, None).await?;
        publish::case_assigned(tx, &case, &tip, false).await?;
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

    /// The set-wise dispatch of tips that arrived together: the same decisions as [`Self::dispatch`]
    /// tip by tip, in id order (a tip may merge into a case an earlier tip of the group opened), in
    /// about a dozen statements for the whole group. Anything unusual (a tip that does not exist,
    /// a case closed under us) is an error, and the consumer then dispatches the group tip by tip.
    pub async fn dispatch_many(
        &self,
        tx: &mut PgConnection,
        ids: &[Uuid],
    ) -> Result<(), HandlerError> {
        let mut tips = store::lock_tips(tx, ids).await?;
        if tips.len() != ids.len() {
            return Err(HandlerError::permanent(
                "a tip of the group does not exist (or came twice)",
            ));
        }
        tips.retain(|t| t.status == TipStatus::Received as i16);
        if tips.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let distance = self.merge.distance_meters;
        let merging = distance > 0.0;
        let mut candidates: Vec<Vec<CaseRow>> = vec![Vec::new(); tips.len()];
        if merging {
            let mut keys: Vec<i64> = tips
                .iter()
                .flat_map(|t| {
                    domain::merge_lock_keys(t.category, t.latitude, t.longitude, distance)
                })
                .collect();
            keys.sort_unstable();
            keys.dedup();
            store::advisory_xact_locks(tx, &keys).await?;
            let boxes: Vec<store::MergeBox> = tips
                .iter()
                .map(|t| {
                    let (dlat, dlng) = domain::degrees_around(t.latitude, distance);
                    store::MergeBox {
                        category: t.category,
                        lat: (t.latitude - dlat, t.latitude + dlat),
                        lng: (t.longitude - dlng, t.longitude + dlng),
                    }
                })
                .collect();
            let since = now - Duration::minutes(self.merge.window_minutes);
            for (i, case) in store::open_cases_near_many(tx, &boxes, since).await? {
                candidates[i as usize].push(case);
            }
        }
        store::lock_grid_routing(tx, false).await?;
        self.grids.refresh_if_stale(tx, &self.pool).await?;
        let index = self.grids.current();

        let mut grouping = Grouping::default();
        let mut new_cases: Vec<CaseRow> = Vec::new();
        let mut targets: Vec<Target> = Vec::with_capacity(tips.len());
        for (i, tip) in tips.iter().enumerate() {
            let open: Vec<OpenCase> = candidates[i].iter().map(open_case).collect();
            let target = match grouping.join(&spot(tip), &open, distance) {
                Some(target) => target,
                None => {
                    let grid = index.locate(tip.latitude, tip.longitude);
                    new_cases.push(self.case_for(tip, grid, now));
                    grouping.open(&spot(tip))
                }
            };
            targets.push(target);
        }
        // The cases open before the group that some tip considered, in the plan's order.
        let mut existing: Vec<CaseRow> = grouping
            .existing
            .iter()
            .map(|id| {
                candidates
                    .iter()
                    .flatten()
                    .find(|c| c.id == *id)
                    .expect("a planned case is a candidate")
                    .clone()
            })
            .collect();
        // Only the existing cases some tip actually joins are touched.
        let mut joins = vec![0i64; existing.len()];
        for t in &targets {
            if let Target::Existing(p) = t {
                joins[*p] += 1;
            }
        }
        let joined: Vec<usize> = (0..existing.len()).filter(|&p| joins[p] > 0).collect();
        let mut held: std::collections::HashMap<
            Uuid,
            (Vec<Uuid>, std::collections::HashSet<Uuid>),
        > = Default::default();
        if !joined.is_empty() {
            let ids: Vec<Uuid> = joined.iter().map(|&p| existing[p].id).collect();
            let counts: Vec<i64> = joined.iter().map(|&p| joins[p]).collect();
            let touched = store::touch_open_cases(tx, &ids, &counts).await?;
            if touched.len() != ids.len() {
                return Err(HandlerError::transient(
                    "a case closed while tips were merging into it",
                ));
            }
            for row in touched {
                let p = existing
                    .iter()
                    .position(|e| e.id == row.id)
                    .expect("touched a joined case");
                // The row as locked (a change committed since the candidates were read is in it);
                // each joining tip advances the version by one, from where it was.
                existing[p] = CaseRow {
                    version: row.version - joins[p],
                    ..row
                };
            }
            for (case, tip, reporter, status) in store::tips_of_cases(tx, &ids).await? {
                let entry = held.entry(case).or_default();
                entry.0.push(tip);
                if status != TipStatus::Rejected as i16 {
                    entry.1.insert(reporter);
                }
            }
        }
        let year = (now + Duration::minutes(i64::from(self.utc_offset_minutes))).year();
        if !new_cases.is_empty() {
            let last =
                store::reserve_case_numbers(tx, &self.county_code, year, new_cases.len() as i64)
                    .await?;
            let first = last - new_cases.len() as i64 + 1;
            for (k, c) in new_cases.iter_mut().enumerate() {
                c.number = Some(domain::case_number(
                    &self.county_code,
                    year,
                    first + k as i64,
                ));
            }
        }

        // Walk the tips in order: each is one change of its case, with the version it produced.
        let mut links = Vec::with_capacity(tips.len());
        let mut changes = Vec::with_capacity(tips.len());
        let mut announced = Vec::with_capacity(tips.len());
        let mut opened_by: Vec<Option<usize>> = vec![None; new_cases.len()];
        for (i, (tip, target)) in tips.iter().zip(&targets).enumerate() {
            // Joining a case changes neither its status nor its grid: what it was before is what
            // it is, but for the change that opens it.
            let (case, merged) = match *target {
                Target::Existing(p) => (&mut existing[p], true),
                Target::New(k) => {
                    let merged = opened_by[k].is_some();
                    opened_by[k].get_or_insert(i);
                    (&mut new_cases[k], merged)
                }
            };
            let before = merged.then(|| store::Before::of(case));
            case.version += 1;
            let (tip_ids, reporters) = held.entry(case.id).or_default();
            // In id order, as a case's tips are listed everywhere else.
            let at = tip_ids.partition_point(|t| *t < tip.id);
            tip_ids.insert(at, tip.id);
            reporters.insert(tip.reporter_id);
            case.reporter_count = reporters.len() as i64;
            let status = if merged {
                TipStatus::Merged
            } else {
                TipStatus::Routed
            };
            links.push((tip.id, case.id, status));
            changes.push(store::NewChange {
                case: case.to_pb(tip_ids),
                before,
            });
            announced.push(publish::case_assigned_event(case, tip, merged));
        }
        if !new_cases.is_empty() {
            store::insert_cases(tx, &new_cases).await?;
            store::record_dispatch_transitions(tx, &new_cases).await?;
        }
        store::link_tips(tx, &links).await?;
        store::record_changes(tx, &changes).await?;
        kit::bus::enqueue_batch(tx, announced, &[]).await?;
        tracing::info!(
            tips = tips.len(),
            opened = new_cases.len(),
            joined = joined.len(),
            "tips dispatched together"
        );
        Ok(())
    }

    /// An open case of the tip's category within the merge distance, created within the window:
    /// the nearest, then the oldest.
    async fn near_duplicate(
        &self,
        tx: &mut PgConnection,
        tip: &TipRow,
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
        let open: Vec<OpenCase> = candidates.iter().map(open_case).collect();
        let mut grouping = Grouping::default();
        Ok(
            match grouping.join(&spot(tip), &open, self.merge.distance_meters) {
                Some(Target::Existing(p)) => candidates
                    .into_iter()
                    .find(|c| c.id == grouping.existing[p]),
                _ => None,
            },
        )
    }
}

/// A tip as the plan sees it.
fn spot(tip: &TipRow) -> Spot {
    Spot {
        category: tip.category,
        latitude: tip.latitude,
        longitude: tip.longitude,
    }
}

/// An open case as the plan sees it.
fn open_case(case: &CaseRow) -> OpenCase {
    OpenCase {
        id: case.id,
        spot: Spot {
            category: case.category,
            latitude: case.latitude,
            longitude: case.longitude,
        },
        created_at: case.created_at,
    }
}
