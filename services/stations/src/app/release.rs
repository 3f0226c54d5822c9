//! Pending points become available when their tip is confirmed: its case taken on (the award
//! consumers call [`release_tips`]), or `pending_days` passed without a rejection (the sweep).
//! A release is an entry of its own (`tip_released`, points 0: it moves pending to available,
//! repaying debt first), at most one per award. The balance row is locked before the queue row,
//! as every other path does; the sweep holds an advisory lock so one replica sweeps at a time.

use std::time::Duration;

use kit::{Shutdown, bus::enqueue};
use sqlx::{PgConnection, PgPool};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::awards::REASON_TIP_RELEASED;
use crate::{
    domain::Movement,
    events::publish,
    store::{self, NewEntry, PendingAward},
};

/// Arbitrary, fixed: the advisory lock of the sweep.
const SWEEP_LOCK: i64 = 0x5245_4453_5550_0002;
/// Awards released per transaction by the sweep.
const SWEEP_BATCH: i64 = 200;

/// Releases the pending awards of these tips.
pub async fn release_tips(tx: &mut PgConnection, tips: &[Uuid]) -> Result<usize, sqlx::Error> {
    let pending = store::pending_of_tips(tx, tips).await?;
    release_all(tx, pending).await
}

/// Releases awards, their workers' balances locked in id order.
async fn release_all(
    tx: &mut PgConnection,
    mut pending: Vec<PendingAward>,
) -> Result<usize, sqlx::Error> {
    pending.sort_by_key(|p| (p.worker_id, p.entry_id));
    let mut released = 0;
    for award in pending {
        if release(tx, award).await? {
            released += 1;
        }
    }
    Ok(released)
}

/// Releases one pending award; false when another transaction got there first or nothing of it
/// is pending any more.
async fn release(tx: &mut PgConnection, award: PendingAward) -> Result<bool, sqlx::Error> {
    let balance = store::lock_balance(tx, award.worker_id).await?;
    if !store::dequeue_pending(tx, award.entry_id).await? {
        return Ok(false);
    }
    let Some(state) = store::award_state(tx, award.entry_id).await? else {
        return Ok(false);
    };
    let movement = Movement::release(balance, state.still_pending);
    if movement.pending_change == 0 {
        return Ok(false);
    }
    let Some((entry, balance)) = store::append_entry(
        tx,
        &NewEntry {
            worker: award.worker_id,
            movement,
            reason: REASON_TIP_RELEASED,
            // One release per award, whoever releases it.
            source_event_id: award.entry_id,
            subject_ref: state.entry.subject_ref.as_deref(),
            reverses: None,
            releases: Some(award.entry_id),
        },
    )
    .await?
    else {
        return Ok(false);
    };
    enqueue(
        tx,
        publish::points_released(&entry, award.entry_id, balance),
    )
    .await?;
    tracing::info!(
        points = -movement.pending_change,
        repaid = movement.repaid(),
        available = balance.available,
        "pending points released"
    );
    Ok(true)
}

/// Releases every award whose time has come; returns how many. Does nothing while another
/// replica sweeps.
pub async fn sweep_once(pool: &PgPool) -> Result<usize, sqlx::Error> {
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        if !kit::db::try_sweep_lock(&mut tx, SWEEP_LOCK).await? {
            return Ok(total);
        }
        let due = store::due_pending(&mut tx, SWEEP_BATCH).await?;
        if due.is_empty() {
            tx.commit().await?;
            return Ok(total);
        }
        let n = due.len();
        total += release_all(&mut tx, due).await?;
        tx.commit().await?;
        if (n as i64) < SWEEP_BATCH {
            return Ok(total);
        }
    }
}

/// Sweeps every `every` until shutdown.
pub fn spawn_sweeper(pool: PgPool, every: Duration, shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match sweep_once(&pool).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(released = n, "pending points released after their wait"),
                Err(e) => tracing::warn!(error = %e, "release sweep failed; retrying"),
            }
            if kit::shutdown::sleep_or_shutdown(every, &shutdown).await {
                break;
            }
        }
    })
}
