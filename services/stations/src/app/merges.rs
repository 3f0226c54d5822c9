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
    let mut workers: Vec<Uuid> = merged.iter().map(|m| m.reporter).collect();
    workers.sort_unstable();
    workers.dedup();
    let mut running = store::lock_balances(tx, &workers).await?;
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
    // The balance after each entry, for its announcement.
    let mut after: HashMap<Uuid, crate::domain::Balance> = HashMap::new();
    for award in &awards {
        let standing = award.standing;
        let points = (standing - standing.min(keep)).min(standing);
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
        after.insert(award.entry.id, *balance);
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
    // RETURNING order is not promised: announcements follow the order the balances moved in.
    let order: HashMap<Uuid, usize> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((e.reverses?, i)))
        .collect();
    let reversed_by: HashMap<(Uuid, Uuid), Uuid> = entries
        .iter()
        .filter_map(|e| Some(((e.source_event_id, e.worker), e.reverses?)))
        .collect();
    appended.sort_by_key(|e| {
        reversed_by
            .get(&(e.source_event_id, e.worker_id))
            .and_then(|original| order.get(original))
            .copied()
            .unwrap_or(usize::MAX)
    });
    let mut announced = Vec::with_capacity(appended.len());
    for entry in &appended {
        let Some(original) = reversed_by.get(&(entry.source_event_id, entry.worker_id)) else {
            continue;
        };
        announced.push(publish::points_reversed(entry, *original, after[original]));
    }
    kit::bus::enqueue_batch(tx, announced, &[]).await?;
    tracing::info!(
        tips = merged.len(),
        taken_back = appended.len(),
        "merged tips' awards taken back together"
    );
    Ok(true)
}
