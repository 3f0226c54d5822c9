//! The points rules at work: an award locks the worker's balance row, applies the daily cap of its
//! source, appends one ledger entry per source event and publishes `PointsAwarded`; a rejected
//! tip's award is taken back by a compensating entry (`PointsReversed`), never by deleting one.
//! The consumers in `events::consume::awards` decide which events earn what and call here.

use chrono::Utc;
use kit::bus::enqueue;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    domain::{self, LocalClock, PointsSettings},
    events::publish,
    store::{self, NewEntry},
};

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
    enqueue(tx, publish::points_awarded(&entry, balance)).await?;
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
        enqueue(tx, publish::points_reversed(&entry, original.id, balance)).await?;
        tracing::info!(points = -points, balance, "points reversed");
        total += points;
    }
    Ok(total)
}

/// What a tip's awards are recorded against (and reversed by).
pub fn tip_ref(tip: &str) -> String {
    format!("tip:{tip}")
}

/// The awards of many submitted tips `(event, reporter, tip, filed by staff)` in a few statements:
/// the same rules as [`award`] one by one (balances locked in worker order, no award for a tip
/// filed by staff or already rejected, the daily cap applied in event order, one entry per event).
pub async fn award_tips(
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
        announced.push(publish::points_awarded(entry, *balance));
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
