//! Tips merged into an open case, many at once: what [`super::awards::tip_assigned`] does for
//! one merged tip whose case nobody has taken on yet (the tip is marked merged and what its award
//! earned beyond `tip_merged` is taken back), for a whole consumer group in a few statements.
//! Under load most tips repeat a spot already reported, so this is the award path's other half.

use std::collections::HashMap;

use sqlx::PgConnection;
use uuid::Uuid;

use super::awards::{REASON_TIP_SUBMITTED, Rules, tip_ref};
use crate::{
    domain::Movement,
    events::publish,
    store::{self, NewEntry},
};

/// A tip merged into a case not yet taken on: its `CaseAssigned` event, the tip and its
/// reporter.
#[derive(Debug, Clone, Copy)]
pub struct MergedTip {
    pub event: Uuid,
    pub tip: Uuid,
    pub reporter: Uuid,
}

/// Marks the tips merged and takes back what each one's award earned beyond `tip_merged`: the
/// reporters' balances locked first (in id order), what stands of each award read under the
/// lock, one compensating entry per award (pending first, then available, the rest as debt),
/// every balance moved and every take-back announced. Returns false, having changed nothing the
/// caller keeps, for what only the one-by-one path handles (an award not the reporter's, a merge
/// applied before): the caller undoes its transaction and applies the events one by one.
pub async fn tips_merged(
    tx: &mut PgConnection,
    rules: &Rules,
    merged: &[MergedTip],
) -> Result<bool, sqlx::Error> {
    if merged.is_empty() {
        return Ok(true);
    }
    let reporters: Vec<Uuid> = merged.iter().map(|m| m.reporter).collect();
    let mut running = store::lock_balances(tx, &reporters).await?;
    let tips: Vec<Uuid> = merged.iter().map(|m| m.tip).collect();
    store::mark_merged(tx, &tips).await?;
    let event_of: HashMap<String, Uuid> = merged
        .iter()
        .map(|m| (tip_ref(&m.tip.to_string()), m.event))
        .collect();
    let subjects: Vec<String> = event_of.keys().cloned().collect();
    let awards = store::standing_awards_of(tx, &subjects, REASON_TIP_SUBMITTED).await?;
    let reason = format!("tip_merged:{REASON_TIP_SUBMITTED}");
    let keep = rules.points.tip_merged;
    let mut entries = Vec::with_capacity(awards.len());
    // Beside each entry: the award it takes from and the balance after it, for its announcement.
    let mut planned = Vec::with_capacity(awards.len());
    for award in &awards {
        let standing = award.standing;
        let points = standing - standing.min(keep);
        if points <= 0 {
            continue;
        }
        let (Some(balance), Some(event)) = (
            running.get_mut(&award.entry.worker_id),
            award
                .entry
                .subject_ref
                .as_ref()
                .and_then(|s| event_of.get(s)),
        ) else {
            tracing::warn!(award = %award.entry.id, "an award that is not its reporter's");
            return Ok(false);
        };
        let movement = Movement::take_back(*balance, points, award.still_pending);
        *balance = balance.after(movement);
        planned.push((award.entry.id, *balance));
        entries.push(NewEntry {
            worker: award.entry.worker_id,
            movement,
            reason: &reason,
            source_event_id: *event,
            subject_ref: award.entry.subject_ref.as_deref(),
            reverses: Some(award.entry.id),
            releases: None,
        });
    }
    let mut appended = store::append_take_backs(tx, &entries).await?;
    if appended.len() != entries.len() {
        // A merge applied before (the inbox should have said so): the balances announced here
        // would be wrong, so the events go one by one.
        tracing::warn!(
            planned = entries.len(),
            appended = appended.len(),
            "take-backs made before"
        );
        return Ok(false);
    }
    // Every entry was appended, each its own (event, worker): RETURNING order is not promised,
    // so announcements follow the order the balances moved in.
    let index: HashMap<(Uuid, Uuid), usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| ((e.source_event_id, e.worker), i))
        .collect();
    appended.sort_by_key(|e| index[&(e.source_event_id, e.worker_id)]);
    let announced = appended
        .iter()
        .zip(&planned)
        .map(|(entry, (original, after))| publish::points_reversed(entry, *original, *after))
        .collect();
    kit::bus::enqueue_batch(tx, announced, &[]).await?;
    tracing::info!(
        tips = merged.len(),
        taken_back = appended.len(),
        "merged tips' awards taken back together"
    );
    Ok(true)
}
