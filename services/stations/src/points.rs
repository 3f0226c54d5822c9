//! The points rules at work. Consumers turn other services' events into ledger entries:
//! `stations-points` (governance: submitted tips, confirmed and resolved cases, rejected tips,
//! volunteer service) and `stations-attendance` (education: training attended). Each award locks
//! the worker's balance row, applies the daily cap of its source, appends one entry per source
//! event and publishes `PointsAwarded`; a rejected tip's award is taken back by a compensating
//! entry (`PointsReversed`), never by deleting one.

use chrono::Utc;
use kit::{
    bus::{Event, Handler, HandlerError, NewEvent, enqueue},
    time::to_timestamp,
};
use redsupply_proto::{events::v1 as ev, governance::v1::CaseStatus};
use sqlx::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    domain::{self, LocalClock, PointsSettings},
    store::{self, NewEntry},
};

pub const SOURCE: &str = "redsupply/stations";
pub const POINTS_AWARDED: &str = "redsupply.stations.points.awarded";
pub const POINTS_REVERSED: &str = "redsupply.stations.points.reversed";

pub const REASON_TIP_SUBMITTED: &str = "tip_submitted";
pub const REASON_TIP_CONFIRMED: &str = "tip_confirmed";
pub const REASON_CASE_RESOLVED: &str = "case_resolved";
pub const REASON_VOLUNTEER: &str = "volunteer_service";
pub const REASON_TRAINING_ATTENDED: &str = "training_attended";
pub const REASON_REDEMPTION: &str = "redemption";

/// The rules and the clock that draws the daily line.
#[derive(Clone)]
pub struct Rules {
    pub points: PointsSettings,
    pub clock: LocalClock,
}

/// One award: `amount` for `reason`, capped per day, once per source event.
pub struct Award<'a> {
    pub worker: Uuid,
    pub amount: i64,
    pub reason: &'a str,
    pub source_event: Uuid,
    pub subject_ref: Option<String>,
}

/// Applies an award inside the caller's transaction. Returns the points actually awarded.
pub async fn award(tx: &mut PgConnection, rules: &Rules, a: Award<'_>) -> Result<i64, sqlx::Error> {
    if a.amount <= 0 {
        return Ok(0);
    }
    store::lock_balance(tx, a.worker).await?;
    let cap = rules.points.daily_cap.get(a.reason).copied();
    let earned = if cap.is_some() {
        store::earned_since(tx, a.worker, a.reason, rules.clock.start_of_day(Utc::now())).await?
    } else {
        0
    };
    let points = domain::capped(a.amount, cap, earned);
    if points == 0 {
        tracing::info!(reason = a.reason, "daily cap reached; nothing awarded");
        return Ok(0);
    }
    let Some((entry, balance)) = store::append_entry(
        tx,
        &NewEntry {
            worker: a.worker,
            points,
            reason: a.reason,
            source_event_id: a.source_event,
            subject_ref: a.subject_ref.as_deref(),
            reverses: None,
        },
    )
    .await?
    else {
        tracing::debug!("already awarded for this event");
        return Ok(0);
    };
    let msg = ev::PointsAwarded {
        entry_id: entry.id.to_string(),
        worker_id: a.worker.to_string(),
        points,
        reason: a.reason.to_owned(),
        source_event_id: a.source_event.to_string(),
        balance,
        occurred_at: Some(to_timestamp(entry.created_at)),
    };
    enqueue(tx, NewEvent::new(SOURCE, POINTS_AWARDED, a.worker, &msg)).await?;
    tracing::info!(points, balance, reason = a.reason, "points awarded");
    Ok(points)
}

/// Takes back every award made for `subject_ref` (never more than the balance holds).
pub async fn reverse(
    tx: &mut PgConnection,
    subject_ref: &str,
    why: &str,
    source_event: Uuid,
) -> Result<i64, sqlx::Error> {
    let mut total = 0;
    for original in store::awards_for(tx, subject_ref).await? {
        let balance = store::lock_balance(tx, original.worker_id).await?;
        let points = domain::reversal(original.points, balance);
        let reason = format!("{why}:{}", original.reason);
        let Some((entry, balance)) = store::append_entry(
            tx,
            &NewEntry {
                worker: original.worker_id,
                points: -points,
                reason: &reason,
                source_event_id: source_event,
                subject_ref: Some(subject_ref),
                reverses: Some(original.id),
            },
        )
        .await?
        else {
            continue;
        };
        let msg = ev::PointsReversed {
            entry_id: entry.id.to_string(),
            worker_id: original.worker_id.to_string(),
            points: -points,
            reason,
            reversed_entry_id: original.id.to_string(),
            source_event_id: source_event.to_string(),
            balance,
            occurred_at: Some(to_timestamp(entry.created_at)),
        };
        enqueue(
            tx,
            NewEvent::new(SOURCE, POINTS_REVERSED, original.worker_id, &msg),
        )
        .await?;
        tracing::info!(points = -points, balance, "points reversed");
        total += points;
    }
    Ok(total)
}

fn tip_ref(tip: &str) -> String {
    format!("tip:{tip}")
}

const TIP_SUBMITTED: &str = "redsupply.governance.tip.submitted";
const CASE_ASSIGNED: &str = "redsupply.governance.case.assigned";

/// The awards of many submitted tips `(event, reporter, tip, filed by staff)` in a few statements:
/// the same rules as [`award`] one by one (balances locked in worker order, no award for a tip
/// filed by staff or already rejected, the daily cap applied in event order, one entry per event).
async fn award_tips(
    tx: &mut PgConnection,
    rules: &Rules,
    tips: &[(Uuid, Uuid, Uuid, bool)],
) -> Result<(), sqlx::Error> {
    if tips.is_empty() {
        return Ok(());
    }
    let mut workers: Vec<Uuid> = tips.iter().map(|t| t.1).collect();
    workers.sort_unstable();
    workers.dedup();
    let mut balances = store::lock_balances(tx, &workers).await?;
    let amount = rules.points.tip_submitted;
    if amount <= 0 {
        return Ok(());
    }
    let tip_ids: Vec<Uuid> = tips.iter().map(|t| t.2).collect();
    let rejected = store::rejected_among(tx, &tip_ids).await?;
    let cap = rules.points.daily_cap.get(REASON_TIP_SUBMITTED).copied();
    let mut earned = match cap {
        Some(_) => {
            let since = rules.clock.start_of_day(Utc::now());
            store::earned_since_many(tx, &workers, REASON_TIP_SUBMITTED, since).await?
        }
        None => Default::default(),
    };
    let refs: Vec<String> = tips.iter().map(|t| tip_ref(&t.2.to_string())).collect();
    let mut entries = Vec::with_capacity(tips.len());
    for ((event, worker, tip, by_staff), subject) in tips.iter().zip(&refs) {
        if *by_staff || rejected.contains(tip) {
            continue;
        }
        let so_far = earned.entry(*worker).or_default();
        let points = domain::capped(amount, cap, *so_far);
        if points == 0 {
            continue;
        }
        *so_far += points;
        entries.push(NewEntry {
            worker: *worker,
            points,
            reason: REASON_TIP_SUBMITTED,
            source_event_id: *event,
            subject_ref: Some(subject),
            reverses: None,
        });
    }
    let mut appended = store::append_awards(tx, &entries).await?;
    // RETURNING order is not promised: running balances follow the events' order.
    let order: std::collections::HashMap<Uuid, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.source_event_id, i))
        .collect();
    appended.sort_by_key(|e| order.get(&e.source_event_id).copied().unwrap_or(usize::MAX));
    let mut deltas: std::collections::HashMap<Uuid, i64> = Default::default();
    let mut announced = Vec::with_capacity(appended.len());
    for entry in &appended {
        *deltas.entry(entry.worker_id).or_default() += entry.points;
        let balance = balances.entry(entry.worker_id).or_default();
        *balance += entry.points;
        let msg = ev::PointsAwarded {
            entry_id: entry.id.to_string(),
            worker_id: entry.worker_id.to_string(),
            points: entry.points,
            reason: entry.reason.clone(),
            source_event_id: entry.source_event_id.to_string(),
            balance: *balance,
            occurred_at: Some(to_timestamp(entry.created_at)),
        };
        announced.push(NewEvent::new(SOURCE, POINTS_AWARDED, entry.worker_id, &msg));
    }
    if !deltas.is_empty() {
        store::add_to_balances(tx, &deltas).await?;
    }
    kit::bus::enqueue_batch(tx, announced, &[]).await?;
    tracing::info!(
        tips = tips.len(),
        awarded = appended.len(),
        "tips awarded together"
    );
    Ok(())
}

/// Consumer `stations-points`: every governance event that earns or costs points.
pub struct GovernanceAwards {
    pub rules: Rules,
}

impl Handler for GovernanceAwards {
    /// A case assignment (one per tip) earns nothing.
    fn ignores(&self, event: &Event) -> bool {
        event.subject == CASE_ASSIGNED
    }

    /// Under load a group is all submitted tips (case assignments are ignored before they get
    /// here): those are awarded set-wise. A group holding anything else goes event by event.
    async fn handle_many(
        &self,
        tx: &mut PgConnection,
        events: &[&Event],
    ) -> Result<(), HandlerError> {
        if !events.iter().all(|e| e.subject == TIP_SUBMITTED) {
            for event in events {
                self.handle(&mut *tx, event).await?;
            }
            return Ok(());
        }
        let mut tips = Vec::with_capacity(events.len());
        for event in events {
            let e: ev::TipSubmitted = event.decode()?;
            let worker = Uuid::parse_str(&e.reporter_id).map_err(HandlerError::permanent)?;
            let tip = Uuid::parse_str(&e.tip_id).map_err(HandlerError::permanent)?;
            tips.push((event.id, worker, tip, e.filed_by_staff));
        }
        award_tips(tx, &self.rules, &tips).await?;
        Ok(())
    }

    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        match event.subject.as_str() {
            TIP_SUBMITTED => {
                let e: ev::TipSubmitted = event.decode()?;
                let worker = Uuid::parse_str(&e.reporter_id).map_err(HandlerError::permanent)?;
                let tip = Uuid::parse_str(&e.tip_id).map_err(HandlerError::permanent)?;
                let span = tracing::info_span!("award", worker_id = %worker, tip_id = %e.tip_id);
                async {
                    // The reporter's balance row orders this against a rejection of the same tip.
                    store::lock_balance(tx, worker).await?;
                    if e.filed_by_staff {
                        tracing::info!("filed by staff for the reporter; no award");
                        return Ok(());
                    }
                    if store::tip_rejected(tx, tip).await? {
                        tracing::info!("tip already rejected; no award");
                        return Ok(());
                    }
                    award(
                        tx,
                        &self.rules,
                        Award {
                            worker,
                            amount: self.rules.points.tip_submitted,
                            reason: REASON_TIP_SUBMITTED,
                            source_event: event.id,
                            subject_ref: Some(tip_ref(&e.tip_id)),
                        },
                    )
                    .await?;
                    Ok(())
                }
                .instrument(span)
                .await
            }
            "redsupply.governance.case.status_changed" => {
                let e: ev::CaseStatusChanged = event.decode()?;
                if e.previous_status == e.status {
                    return Ok(());
                }
                let (reason, amount) = match e.status() {
                    CaseStatus::Resolved => (REASON_CASE_RESOLVED, self.rules.points.case_resolved),
                    _ => return Ok(()),
                };
                let span = tracing::info_span!("award", case_id = %e.case_id, reason);
                async {
                    let subject = format!("case:{}", e.case_id);
                    for reporter in &e.reporter_ids {
                        let worker = Uuid::parse_str(reporter).map_err(HandlerError::permanent)?;
                        // Once per case and reason, however often the case is reopened.
                        store::lock_balance(tx, worker).await?;
                        if store::awarded_for(tx, worker, reason, &subject).await? {
                            continue;
                        }
                        award(
                            tx,
                            &self.rules,
                            Award {
                                worker,
                                amount,
                                reason,
                                source_event: event.id,
                                subject_ref: Some(subject.clone()),
                            },
                        )
                        .await?;
                    }
                    Ok(())
                }
                .instrument(span)
                .await
            }
            "redsupply.governance.tip.confirmed" => {
                // The reporter confirmed the fix: once per tip, and reversed with the tip's other
                // points should it be rejected later.
                let e: ev::TipConfirmed = event.decode()?;
                let worker = Uuid::parse_str(&e.reporter_id).map_err(HandlerError::permanent)?;
                let tip = Uuid::parse_str(&e.tip_id).map_err(HandlerError::permanent)?;
                let subject = tip_ref(&e.tip_id);
                store::lock_balance(tx, worker).await?;
                // Before confirmations existed the same reason was earned per case, on ACCEPTED:
                // a reporter paid that way is not paid again.
                let paid_per_case = format!("case:{}", e.case_id);
                if e.filed_by_staff
                    || store::tip_rejected(tx, tip).await?
                    || store::awarded_for(tx, worker, REASON_TIP_CONFIRMED, &subject).await?
                    || store::awarded_for(tx, worker, REASON_TIP_CONFIRMED, &paid_per_case).await?
                {
                    return Ok(());
                }
                award(
                    tx,
                    &self.rules,
                    Award {
                        worker,
                        amount: self.rules.points.tip_confirmed,
                        reason: REASON_TIP_CONFIRMED,
                        source_event: event.id,
                        subject_ref: Some(subject),
                    },
                )
                .await?;
                Ok(())
            }
            "redsupply.governance.tip.rejected" => {
                let e: ev::TipRejected = event.decode()?;
                let tip = Uuid::parse_str(&e.tip_id).map_err(HandlerError::permanent)?;
                if let Ok(reporter) = Uuid::parse_str(&e.reporter_id) {
                    // Ordered against the award of the same tip (see above).
                    store::lock_balance(tx, reporter).await?;
                }
                store::mark_tip_rejected(tx, tip).await?;
                reverse(tx, &tip_ref(&e.tip_id), "tip_rejected", event.id).await?;
                Ok(())
            }
            "redsupply.governance.volunteer.service_recorded" => {
                let e: ev::VolunteerServiceRecorded = event.decode()?;
                let worker = Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?;
                award(
                    tx,
                    &self.rules,
                    Award {
                        worker,
                        amount: domain::volunteer_points(e.hours, self.rules.points.volunteer_hour),
                        reason: REASON_VOLUNTEER,
                        source_event: event.id,
                        subject_ref: Some(format!("volunteer:{}", e.record_id)),
                    },
                )
                .await?;
                Ok(())
            }
            // Other governance events earn nothing.
            _ => Ok(()),
        }
    }
}

/// Consumer `stations-attendance`.
pub struct AttendanceAwards {
    pub rules: Rules,
}

impl Handler for AttendanceAwards {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::AttendanceRecorded = event.decode()?;
        let worker = Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?;
        let span = tracing::info_span!("award", worker_id = %worker, session_id = %e.session_id);
        award(
            tx,
            &self.rules,
            Award {
                worker,
                amount: self.rules.points.training_attended,
                reason: REASON_TRAINING_ATTENDED,
                source_event: event.id,
                subject_ref: Some(format!("session:{}", e.session_id)),
            },
        )
        .instrument(span)
        .await?;
        Ok(())
    }
}
