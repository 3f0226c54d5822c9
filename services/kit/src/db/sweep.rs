//! One replica at a time: a periodic job (the escalation sweep, the release of pending points)
//! takes a transaction-scoped advisory lock of its own and skips its turn while another session
//! holds it. The lock ends with the transaction, so a replica that dies mid-sweep frees it.

use sqlx::PgConnection;

/// Takes the advisory lock `key` for the rest of the transaction if no other session holds it;
/// false: another replica is sweeping.
pub async fn try_sweep_lock(tx: &mut PgConnection, key: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(key)
        .fetch_one(tx)
        .await
}
