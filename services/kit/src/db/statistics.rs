//! Planner statistics for tables that grow faster than autovacuum looks. A hot path runs on
//! generic plans, made once per connection (see [`super::begin_generic`]): made while a table
//! is empty or small, such a plan scans it whole, and keeps doing so as it grows, until an
//! ANALYZE of the table makes every session plan again. Autovacuum analyzes a table once a
//! tenth of it has changed, but visits at most once per `autovacuum_naptime` (a minute): a new
//! county's tables, or a bench's, grow from nothing to tens of thousands of rows in between,
//! and every lookup of a balance or a ledger entry walked all of them.
//!
//! So each service analyzes its own tables whose rows changed at least as many times as the
//! table had rows when last analyzed (it doubled, or it was never analyzed): often while the
//! table is young, almost never once it is large, where autovacuum's own rule takes over. The
//! outbox is left out: a queue's statistics are always wrong, and its readers do not depend on
//! them.

use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::{Shutdown, shutdown::sleep_or_shutdown};

/// How often the tables' change counts are looked at.
const EVERY: Duration = Duration::from_secs(2);
/// Changes below this are not worth an ANALYZE, whatever the table's size.
const MIN_CHANGES: i64 = 200;

/// Analyzes the pool's schema's tables as they grow, until shutdown. Replicas doing the same
/// skip a table one of them is analyzing.
pub fn spawn_statistics(pool: PgPool, shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = analyze_grown(&pool).await {
                tracing::debug!(error = %e, "planner statistics not refreshed this time");
            }
            if sleep_or_shutdown(EVERY, &shutdown).await {
                return;
            }
        }
    })
}

/// The tables that grew, analyzed; returns their names.
pub async fn analyze_grown(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    let grown: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', s.schemaname, s.relname)
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
         WHERE s.schemaname = current_schema() AND s.relname <> 'outbox'
           AND s.n_mod_since_analyze >= $1 AND s.n_mod_since_analyze >= c.reltuples",
    )
    .bind(MIN_CHANGES)
    .fetch_all(pool)
    .await?;
    for table in &grown {
        // A name PostgreSQL quoted itself (format %I).
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ANALYZE (SKIP_LOCKED) {table}"
        )))
        .execute(pool)
        .await?;
    }
    Ok(grown)
}
