//! Taking points back: a false tip takes back everything that flowed from it for its reporter
//! (its own awards, and what its case paid them unless another of their tips keeps them in it),
//! and a merged tip what it earned beyond `tip_merged`. A take-back is a compensating entry,
//! never a deletion: what is still pending goes first, then what is available, and what was spent
//! already becomes a debt that later credits repay.

use kit::bus::enqueue;
use sqlx::PgConnection;
use uuid::Uuid;

use super::awards::{case_ref, tip_ref};
use crate::{
    domain::Movement,
    events::publish,
    store::{self, NewEntry},
};

/// What a rejection needs to know about the tip.
pub struct RejectedTip<'a> {
    pub tip: Uuid,
    pub reporter: Option<Uuid>,
    /// The case it was in, if any.
    pub case: Option<&'a str>,
    /// The reporter still has another tip standing in that case.
    pub reporter_keeps_case: bool,
}

/// A tip rejected as false: everything that flowed from it for its reporter is taken back (its
/// own awards, and what its case paid them unless another of their tips keeps them in it); what
/// was spent already becomes debt. An award arriving later is not made.
pub async fn tip_rejected(
    tx: &mut PgConnection,
    event: Uuid,
    r: &RejectedTip<'_>,
) -> Result<i64, sqlx::Error> {
    if let Some(reporter) = r.reporter {
        // Ordered against the award of the same tip (see `award_tips`).
        store::lock_balance(tx, reporter).await?;
    }
    store::mark_tip_rejected(tx, r.tip).await?;
    let mut awards = store::standing_awards(tx, &tip_ref(&r.tip.to_string()), None).await?;
    if let (Some(case), Some(reporter), false) = (r.case, r.reporter, r.reporter_keeps_case) {
        // What the case pays them later is forfeited too.
        store::forfeit_case(tx, case, reporter).await?;
        awards.extend(store::standing_awards(tx, &case_ref(case), Some(reporter)).await?);
    }
    awards.sort_by_key(|a| a.entry.worker_id);
    let mut total = 0;
    for award in &awards {
        total += take_back(tx, &award.entry, |standing| standing, "tip_rejected", event).await?;
    }
    for pending in store::pending_of_tips(tx, &[r.tip]).await? {
        store::dequeue_pending(tx, pending.entry_id).await?;
    }
    Ok(total)
}

/// Takes back from `original` what `how_much` says of what still stands of it (pending first,
/// then available, the rest as debt), by an entry whose reason is `why:<the award's reason>`.
/// What stands is read again under the worker's lock, so a take-back that raced another sees
/// what the other left. Returns the points taken.
pub(super) async fn take_back(
    tx: &mut PgConnection,
    original: &store::EntryRow,
    how_much: impl Fn(i64) -> i64,
    why: &str,
    event: Uuid,
) -> Result<i64, sqlx::Error> {
    let balance = store::lock_balance(tx, original.worker_id).await?;
    let Some(now) = store::award_state(tx, original.id).await? else {
        return Ok(0);
    };
    let points = how_much(now.standing).min(now.standing);
    if points <= 0 {
        return Ok(0);
    }
    let reason = format!("{why}:{}", original.reason);
    let Some((entry, balance)) = store::append_entry(
        tx,
        &NewEntry {
            worker: original.worker_id,
            movement: Movement::take_back(balance, points, now.still_pending),
            reason: &reason,
            source_event_id: event,
            subject_ref: original.subject_ref.as_deref(),
            reverses: Some(original.id),
            releases: None,
        },
    )
    .await?
    else {
        return Ok(0);
    };
    enqueue(tx, publish::points_reversed(&entry, original.id, balance)).await?;
    tracing::info!(
        points = entry.points,
        available = balance.available,
        pending = balance.pending,
        debt = balance.debt,
        reason,
        "points taken back"
    );
    Ok(points)
}
