//! The escalation sweep: an open case past its deadline is flagged (`escalated_at`), its change
//! published (`CaseEscalated`) and shown on the feed. State lives in the database, so the sweep
//! picks up where it was after a restart; an advisory lock lets one replica sweep at a time, and
//! the `escalated_at IS NULL` condition escalates each case once whatever happens.

use std::time::Duration;

use kit::Shutdown;
use sqlx::PgPool;
use tokio::task::JoinHandle;

use super::changes::record_case_change;
use crate::{events::publish, store};

/// Arbitrary, fixed: the advisory lock of the sweep.
const SWEEP_LOCK: i64 = 0x5245_4453_5550_0001;

/// Sweeps every `every`: first voids cases left without a live tip, then escalates overdue ones.
pub fn spawn_sweeper(
    pool: PgPool,
    cases: super::Cases,
    every: Duration,
    shutdown: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match cases.void_abandoned().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(voided = n, "cases without a live tip closed as void"),
                Err(e) => tracing::warn!(error = %e, "voiding abandoned cases failed; retrying"),
            }
            match sweep_once(&pool).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(escalated = n, "overdue cases escalated"),
                Err(e) => tracing::warn!(error = %e, "escalation sweep failed; retrying"),
            }
            if kit::shutdown::sleep_or_shutdown(every, &shutdown).await {
                break;
            }
        }
    })
}

/// Escalates every overdue open case; returns how many. Does nothing while another replica sweeps.
pub async fn sweep_once(pool: &PgPool) -> Result<usize, sqlx::Error> {
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        if !kit::db::try_sweep_lock(&mut tx, SWEEP_LOCK).await? {
            return Ok(total);
        }
        let due = store::lock_overdue(&mut tx, 100).await?;
        if due.is_empty() {
            tx.commit().await?;
            return Ok(total);
        }
        for id in &due {
            let case = store::escalate(&mut tx, *id).await?;
            // Neither status nor grid changes: the case before is the case after.
            record_case_change(
                &mut tx,
                &case,
                &case,
                "system",
                "escalated: past its deadline",
                "",
            )
            .await?;
            publish::case_escalated(&mut tx, &case).await?;
        }
        tx.commit().await?;
        total += due.len();
    }
}
