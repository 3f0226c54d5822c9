//! The points rules at work, one function per thing that happened elsewhere (the consumers in
//! `events::consume::awards` decode and call here). Every entry locks the worker's balance row
//! first (workers in id order when there are several), applies the daily cap of its source,
//! appends one ledger entry per source event and publishes it. A tip's points are pending until
//! the tip is confirmed ([`super::release`]); a rejected tip takes back everything that flowed
//! from it for its reporter by compensating entries, never by deleting one, and what was already
//! spent becomes a debt.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use kit::bus::enqueue;
use redsupply_proto::governance::v1::CaseStatus;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{release, take_back::take_back};
use crate::{
    domain::{self, LocalClock, Movement, PointsSettings},
    events::publish,
    store::{self, NewEntry, PendingAward},
};

pub const REASON_TIP_SUBMITTED: &str = "tip_submitted";
pub const REASON_TIP_CONFIRMED: &str = "tip_confirmed";
pub const REASON_CASE_RESOLVED: &str = "case_resolved";
pub const REASON_VOLUNTEER: &str = "volunteer_service";
pub const REASON_TRAINING_ATTENDED: &str = "training_attended";
pub const REASON_ACTIVITY_ATTENDED: &str = "activity_attended";
pub const REASON_REDEMPTION: &str = "redemption";
pub const REASON_REDEMPTION_CANCELLED: &str = "redemption_cancelled";
pub const REASON_TIP_RELEASED: &str = "tip_released";
pub const REASON_HONOUR_AWARDED: &str = "honour_awarded";

/// The rules and the clock that draws the daily line.
#[derive(Clone)]
pub struct Rules {
    pub points: PointsSettings,
    pub clock: LocalClock,
}

/// Case statuses that confirm the case's tips: someone took the case on.
pub fn confirms(status: CaseStatus) -> bool {
    matches!(
        status,
        CaseStatus::Accepted | CaseStatus::InProgress | CaseStatus::Resolved
    )
}

/// What a tip's awards are recorded against (and taken back by).
pub fn tip_ref(tip: &str) -> String {
    format!("tip:{tip}")
}

/// What a case's awards to its reporters are recorded against.
pub fn case_ref(case: &str) -> String {
    format!("case:{case}")
}

/// One credit to available: `amount` for `reason`, capped per day, once per source event.
pub struct Credit<'a> {
    pub worker: Uuid,
    pub amount: i64,
    pub reason: &'a str,
    pub source_event: Uuid,
    pub subject_ref: Option<String>,
}

/// Credits available points (repaying debt first) inside the caller's transaction. Returns the
/// points credited.
pub async fn credit(
    tx: &mut PgConnection,
    rules: &Rules,
    c: Credit<'_>,
) -> Result<i64, sqlx::Error> {
    if c.amount <= 0 {
        return Ok(0);
    }
    let balance = store::lock_balance(tx, c.worker).await?;
    let cap = rules.points.daily_cap.get(c.reason).copied();
    let earned = if cap.is_some() {
        store::earned_since(tx, c.worker, c.reason, rules.clock.start_of_day(Utc::now())).await?
    } else {
        0
    };
    let points = domain::capped(c.amount, cap, earned);
    if points == 0 {
        tracing::info!(reason = c.reason, "daily cap reached; nothing awarded");
        return Ok(0);
    }
    let Some((entry, balance)) = store::append_entry(
        tx,
        &NewEntry {
            worker: c.worker,
            movement: Movement::credit(balance, points),
            reason: c.reason,
            source_event_id: c.source_event,
            subject_ref: c.subject_ref.as_deref(),
            reverses: None,
            releases: None,
        },
    )
    .await?
    else {
        tracing::debug!("already awarded for this event");
        return Ok(0);
    };
    enqueue(tx, publish::points_awarded(&entry, balance)).await?;
    tracing::info!(
        points,
        available = balance.available,
        debt = balance.debt,
        reason = c.reason,
        "points awarded"
    );
    Ok(points)
}

/// Locks these workers' balances (creating missing ones) in id order, before a group's awards and
/// take-backs lock them again in parts.
pub async fn lock_reporters(tx: &mut PgConnection, workers: &[Uuid]) -> Result<(), sqlx::Error> {
    store::lock_balances(tx, workers).await?;
    Ok(())
}

/// A submitted tip: its event, reporter, id, and whether staff filed it in the reporter's name.
#[derive(Debug, Clone, Copy)]
pub struct SubmittedTip {
    pub event: Uuid,
    pub reporter: Uuid,
    pub tip: Uuid,
    pub filed_by_staff: bool,
}

/// The awards of submitted tips, one or many, in a few statements: balances locked in worker
/// order; no award for a tip filed by staff or already rejected; `tip_merged` for a tip already
/// known to be merged; the daily cap applied in event order; one entry per event. The points are
/// pending (queued for release after `pending_days`) unless the tip's case was accepted first.
pub async fn award_tips(
    tx: &mut PgConnection,
    rules: &Rules,
    tips: &[SubmittedTip],
) -> Result<(), sqlx::Error> {
    if tips.is_empty() {
        return Ok(());
    }
    let mut workers: Vec<Uuid> = tips.iter().map(|t| t.reporter).collect();
    workers.sort_unstable();
    workers.dedup();
    // The reporters' balance rows order this against a rejection of the same tips.
    let locked = store::lock_balances(tx, &workers).await?;
    let tip_ids: Vec<Uuid> = tips.iter().map(|t| t.tip).collect();
    let events: Vec<Uuid> = tips.iter().map(|t| t.event).collect();
    let marks = store::tip_marks(tx, &tip_ids, &events, REASON_TIP_SUBMITTED).await?;
    let cap = rules.points.daily_cap.get(REASON_TIP_SUBMITTED).copied();
    let mut earned = match cap {
        Some(_) => {
            let since = rules.clock.start_of_day(Utc::now());
            store::earned_since_many(tx, &workers, REASON_TIP_SUBMITTED, since).await?
        }
        None => Default::default(),
    };
    let refs: Vec<String> = tips.iter().map(|t| tip_ref(&t.tip.to_string())).collect();
    let mut entries = Vec::with_capacity(tips.len());
    // Tips whose case was taken on before their award came: released at once.
    let mut confirmed = Vec::new();
    // Submissions the cap left nothing: recorded, since no entry says they were handled.
    let mut capped = Vec::new();
    for (t, subject) in tips.iter().zip(&refs) {
        let mark = marks.get(&t.tip).copied().unwrap_or_default();
        // A redelivered submission (its entry is there) counts for nothing, not even the cap.
        if t.filed_by_staff || mark.rejected || mark.awarded {
            continue;
        }
        let so_far = earned.entry(t.reporter).or_default();
        let points = domain::capped(rules.points.for_tip(mark.merged), cap, *so_far);
        if points <= 0 {
            capped.push((t.event, t.reporter));
            continue;
        }
        *so_far += points;
        if mark.confirmed {
            confirmed.push(t.tip);
        }
        let movement = Movement::pending(points);
        entries.push(NewEntry {
            worker: t.reporter,
            movement,
            reason: REASON_TIP_SUBMITTED,
            source_event_id: t.event,
            subject_ref: Some(subject),
            reverses: None,
            releases: None,
        });
    }
    store::record_capped(tx, &capped).await?;
    let mut appended = store::append_credits(tx, &entries).await?;
    // RETURNING order is not promised: running balances follow the events' order.
    let order: HashMap<Uuid, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.source_event_id, i))
        .collect();
    appended.sort_by_key(|e| order.get(&e.source_event_id).copied().unwrap_or(usize::MAX));
    // Announced balances follow what was appended, from the balances as locked.
    let mut running = locked;
    let mut moves: HashMap<Uuid, Movement> = HashMap::new();
    let mut announced = Vec::with_capacity(appended.len());
    let mut queued = Vec::new();
    let tip_of: HashMap<Uuid, Uuid> = tips.iter().map(|t| (t.event, t.tip)).collect();
    for entry in &appended {
        let m = entry.movement();
        let sum = moves.entry(entry.worker_id).or_default();
        sum.points += m.points;
        sum.pending_change += m.pending_change;
        sum.debt_change += m.debt_change;
        let balance = running.entry(entry.worker_id).or_default();
        *balance = balance.after(m);
        announced.push(publish::points_awarded(entry, *balance));
        if m.pending_change > 0 {
            queued.push(PendingAward {
                entry_id: entry.id,
                worker_id: entry.worker_id,
                tip_id: tip_of[&entry.source_event_id],
            });
        }
    }
    if appended.len() < entries.len() {
        tracing::warn!(
            planned = entries.len(),
            appended = appended.len(),
            "some tips were awarded before; the daily cap counted them twice in this group"
        );
    }
    // Every movement here is pending (never a credit that repays debt): the set-wise upsert
    // proposes rows no constraint refuses.
    if !moves.is_empty() {
        store::move_balances(tx, &moves).await?;
    }
    let release_after = Utc::now() + Duration::days(i64::from(rules.points.pending_days));
    store::queue_pending(tx, &queued, release_after).await?;
    kit::bus::enqueue_batch(tx, announced, &[]).await?;
    if !confirmed.is_empty() {
        release::release_tips(tx, &confirmed).await?;
    }
    tracing::info!(
        tips = tips.len(),
        awarded = appended.len(),
        "tips awarded together"
    );
    Ok(())
}

/// A tip joined a case: a merged tip earns `tip_merged` (what it earned beyond is taken back, or
/// its award, still to come, is made smaller), and a tip joining a case already taken on is
/// confirmed. The reporter's balance row is locked first, which orders this against the tip's
/// award and its rejection.
pub async fn tip_assigned(
    tx: &mut PgConnection,
    rules: &Rules,
    event: Uuid,
    tip: Uuid,
    reporter: Option<Uuid>,
    merged: bool,
    case_status: CaseStatus,
) -> Result<(), sqlx::Error> {
    let confirmed = confirms(case_status);
    if !merged && !confirmed {
        return Ok(());
    }
    if let Some(reporter) = reporter {
        store::lock_balance(tx, reporter).await?;
    }
    store::mark_tip(tx, tip, merged, confirmed).await?;
    if merged {
        let subject = tip_ref(&tip.to_string());
        let keep = rules.points.tip_merged;
        for award in store::standing_awards(tx, &subject, None).await? {
            if award.entry.reason == REASON_TIP_SUBMITTED {
                take_back(
                    tx,
                    &award.entry,
                    |standing| standing - standing.min(keep),
                    "tip_merged",
                    event,
                )
                .await?;
            }
        }
    }
    if confirmed {
        release::release_tips(tx, &[tip]).await?;
    }
    Ok(())
}

/// A case changed status: taking it on confirms its tips; resolving it pays each reporter
/// `case_resolved`, once per case however often it is reopened, unless a rejection of their tip
/// forfeited it. Every worker concerned is locked first, in id order.
pub async fn case_progressed(
    tx: &mut PgConnection,
    rules: &Rules,
    event: Uuid,
    case: &str,
    status: CaseStatus,
    reporters: &[Uuid],
    tips: &[Uuid],
) -> Result<(), sqlx::Error> {
    let confirming = confirms(status) && !tips.is_empty();
    let mut workers = reporters.to_vec();
    if confirming {
        workers.extend(
            store::pending_of_tips(tx, tips)
                .await?
                .iter()
                .map(|p| p.worker_id),
        );
    }
    workers.sort_unstable();
    workers.dedup();
    store::lock_balances(tx, &workers).await?;
    if confirming {
        store::mark_confirmed(tx, tips).await?;
        release::release_tips(tx, tips).await?;
    }
    if status != CaseStatus::Resolved {
        return Ok(());
    }
    let subject = case_ref(case);
    let mut reporters = reporters.to_vec();
    reporters.sort_unstable();
    for worker in reporters {
        if store::awarded_for(tx, worker, REASON_CASE_RESOLVED, &subject).await?
            || store::case_forfeited(tx, case, worker).await?
        {
            continue;
        }
        credit(
            tx,
            rules,
            Credit {
                worker,
                amount: rules.points.case_resolved,
                reason: REASON_CASE_RESOLVED,
                source_event: event,
                subject_ref: Some(subject.clone()),
            },
        )
        .await?;
    }
    Ok(())
}

/// The reporter of a resolved case says it is fixed: `tip_confirmed`, once per tip (taken back
/// with the tip's other points should it be rejected later).
pub async fn fix_confirmed(
    tx: &mut PgConnection,
    rules: &Rules,
    event: Uuid,
    tip: Uuid,
    case: &str,
    reporter: Uuid,
    filed_by_staff: bool,
) -> Result<(), sqlx::Error> {
    let subject = tip_ref(&tip.to_string());
    store::lock_balance(tx, reporter).await?;
    // Before confirmations existed the same reason was earned per case, on ACCEPTED: a
    // reporter paid that way is not paid again.
    let paid_per_case = case_ref(case);
    let rejected = store::tip_marks(tx, &[tip], &[], REASON_TIP_CONFIRMED)
        .await?
        .get(&tip)
        .is_some_and(|m| m.rejected);
    if filed_by_staff
        || rejected
        || store::awarded_for(tx, reporter, REASON_TIP_CONFIRMED, &subject).await?
        || store::awarded_for(tx, reporter, REASON_TIP_CONFIRMED, &paid_per_case).await?
    {
        return Ok(());
    }
    credit(
        tx,
        rules,
        Credit {
            worker: reporter,
            amount: rules.points.tip_confirmed,
            reason: REASON_TIP_CONFIRMED,
            source_event: event,
            subject_ref: Some(subject),
        },
    )
    .await?;
    Ok(())
}

/// A volunteer's shift, confirmed by a team leader or staff: a deed with its hours (for honours)
/// and points per confirmed hour, once per shift.
pub async fn volunteer_confirmed(
    tx: &mut PgConnection,
    rules: &Rules,
    event: Uuid,
    worker: Uuid,
    record: &str,
    hours: f64,
    done_at: Option<DateTime<Utc>>,
) -> Result<i64, sqlx::Error> {
    let subject = format!("volunteer:{record}");
    let known = (hours.is_finite() && hours > 0.0).then_some(hours);
    let deed = store::Deed {
        hours: known,
        ..store::Deed::new(event, worker, REASON_VOLUNTEER, &subject, done_at)
    };
    store::record_deed(tx, &deed).await?;
    // A shift earns once, however often its confirmation is told (each telling is its own event).
    store::lock_balance(tx, worker).await?;
    if store::awarded_for(tx, worker, REASON_VOLUNTEER, &subject).await? {
        return Ok(0);
    }
    credit(
        tx,
        rules,
        Credit {
            worker,
            amount: domain::volunteer_points(hours, rules.points.volunteer_hour),
            reason: REASON_VOLUNTEER,
            source_event: event,
            subject_ref: Some(subject),
        },
    )
    .await
}

/// A training session attended: a deed, and its points.
pub async fn training_attended(
    tx: &mut PgConnection,
    rules: &Rules,
    event: Uuid,
    worker: Uuid,
    session: &str,
    done_at: Option<DateTime<Utc>>,
) -> Result<i64, sqlx::Error> {
    let subject = format!("session:{session}");
    let deed = store::Deed::new(event, worker, REASON_TRAINING_ATTENDED, &subject, done_at);
    store::record_deed(tx, &deed).await?;
    credit(
        tx,
        rules,
        Credit {
            worker,
            amount: rules.points.training_attended,
            reason: REASON_TRAINING_ATTENDED,
            source_event: event,
            subject_ref: Some(subject),
        },
    )
    .await
}

/// Points for attending an activity of `kind` (its settings name), once per attendance event.
pub async fn activity_attended(
    tx: &mut PgConnection,
    rules: &Rules,
    event: Uuid,
    worker: Uuid,
    activity: &str,
    kind: &str,
    done_at: Option<DateTime<Utc>>,
) -> Result<i64, sqlx::Error> {
    let subject = format!("activity:{activity}");
    let deed = store::Deed::new(event, worker, REASON_ACTIVITY_ATTENDED, &subject, done_at);
    store::record_deed(tx, &deed).await?;
    credit(
        tx,
        rules,
        Credit {
            worker,
            amount: rules.points.for_activity(kind),
            reason: REASON_ACTIVITY_ATTENDED,
            source_event: event,
            subject_ref: Some(subject),
        },
    )
    .await
}
