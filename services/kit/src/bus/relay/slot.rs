//! What the WAL source needs of PostgreSQL, on ordinary connections: `wal_level = logical`, the
//! publication and the slot of the service, the trigger that writes its events into the WAL, and
//! the slot's lag. Every step is idempotent and safe to race: replicas starting together each try.

use std::time::Duration;

use pgwire_replication::{Lsn, ReplicationConfig, TlsConfig};
use sqlx::PgPool;

use super::RelayError;
use crate::{Shutdown, settings::DatabaseSettings, shutdown::sleep_or_shutdown};

/// The one publication every service's slot names. It lists no tables: pgoutput then sends only
/// transactions' boundaries and their logical decoding messages.
pub(super) const PUBLICATION: &str = "redsupply_events";

/// The prefix of `producer`'s messages (the trigger writes `redsupply.<schema>`).
pub(super) fn prefix(producer: &str) -> String {
    format!("redsupply.{producer}")
}

/// The slot of `producer` in `database`: slot names are cluster-wide, and one cluster may hold
/// several deployments' databases (or a test's). Lower-case letters, digits and `_`, at most 63.
pub(super) fn slot_name(database: &str, producer: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| match c.to_ascii_lowercase() {
                c @ ('a'..='z' | '0'..='9') => c,
                _ => '_',
            })
            .collect()
    };
    let mut name = format!("redsupply_{}_{}", clean(producer), clean(database));
    if name.len() > 63 {
        // Keep the end of a long database name: that is where generated names differ.
        let keep = name.len() - 63;
        name = format!("redsupply_{}_{}", clean(producer), &clean(database)[keep..]);
    }
    name
}

/// How often the stream tells the server the position the relay confirmed.
pub(super) const STATUS_INTERVAL: Duration = Duration::from_millis(200);

/// Where the replication stream connects: the service's database URL, read as libpq reads it
/// (`host` and `port` may come from the query, a host beginning with `/` is a socket directory;
/// `sslmode` disable, prefer, require, verify-ca or verify-full with `sslrootcert`).
pub(super) fn target(
    database: &DatabaseSettings,
    slot: &str,
    application: &str,
) -> Result<ReplicationConfig, RelayError> {
    let url =
        url::Url::parse(database.url.expose()).map_err(|e| RelayError::Target(e.to_string()))?;
    let query = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| RelayError::Target("user or password is not UTF-8".into()))
    };
    let host = query("host")
        .or_else(|| url.host_str().filter(|h| !h.is_empty()).map(str::to_owned))
        .unwrap_or_else(|| "localhost".into());
    let port = match query("port") {
        Some(p) => p
            .parse()
            .map_err(|_| RelayError::Target(format!("port {p:?}")))?,
        None => url.port().unwrap_or(5432),
    };
    let user = match query("user") {
        Some(u) => u,
        None => decode(url.username())?,
    };
    let password = match query("password") {
        Some(p) => p,
        None => decode(url.password().unwrap_or_default())?,
    };
    let dbname = query("dbname").unwrap_or_else(|| url.path().trim_start_matches('/').to_owned());
    let tls = match query("sslmode").as_deref() {
        None | Some("disable" | "allow" | "prefer") => TlsConfig::disabled(),
        Some(mode @ ("require" | "verify-ca" | "verify-full")) => {
            return Err(RelayError::Target(format!(
                "sslmode={mode}: the WAL relay's replication stream does not speak TLS in this \
                 build; run the relay on the table (nats.relay_source = \"table\")"
            )));
        }
        Some(other) => return Err(RelayError::Target(format!("sslmode {other:?}"))),
    };
    Ok(
        ReplicationConfig::new(host, user, password, dbname, slot, PUBLICATION)
            .with_port(port)
            .with_tls(tls)
            .with_status_interval(STATUS_INTERVAL)
            .with_wakeup_interval(Duration::from_secs(1))
            .with_application_name(application),
    )
}

/// The database name a pool's connections use.
pub(super) async fn database(pool: &PgPool) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(pool)
        .await
}

/// The slot's lock, held while the slot and the trigger change together: by [`prepare`] (slot,
/// then trigger) and by the table source's drain (trigger gone, slot drained, slot dropped), so
/// that a replica on the other source never puts the trigger back between a drain's mark and its
/// drop, nor uses a slot another replica is still creating. A session lock on a connection of
/// its own, which closes (and so unlocks) if it is dropped.
pub(super) struct SlotLock(sqlx::PgConnection);

impl SlotLock {
    /// The lock, or None while another replica holds it (a drain may take minutes: nobody
    /// queues behind it, each tries again later).
    pub(super) async fn try_take(pool: &PgPool, slot: &str) -> Result<Option<Self>, sqlx::Error> {
        let mut conn = pool.acquire().await?.detach();
        let taken: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('redsupply slot ' || $1))")
                .bind(slot)
                .fetch_one(&mut conn)
                .await?;
        if taken {
            Ok(Some(Self(conn)))
        } else {
            let _ = sqlx::Connection::close(conn).await;
            Ok(None)
        }
    }

    pub(super) async fn release(self) {
        let _ = sqlx::Connection::close(self.0).await;
    }
}

/// Makes ready what the stream needs, in the order that loses nothing: the slot exists (and has
/// reached its start) before the trigger sends events to the WAL, so every event the trigger
/// writes is after the slot's start. Creating a slot waits for the transactions running at that
/// moment to end. Under the slot's lock; false when another replica holds it (it is making
/// the slot, or draining it), to be tried again later.
pub(super) async fn prepare(pool: &PgPool, slot: &str) -> Result<bool, RelayError> {
    let level: String = sqlx::query_scalar("SELECT current_setting('wal_level')")
        .fetch_one(pool)
        .await?;
    if level != "logical" {
        return Err(RelayError::NoLogicalWal(level));
    }
    let Some(lock) = SlotLock::try_take(pool, slot).await? else {
        return Ok(false);
    };
    let prepared = prepare_locked(pool, slot).await;
    lock.release().await;
    prepared.map(|()| true)
}

async fn prepare_locked(pool: &PgPool, slot: &str) -> Result<(), RelayError> {
    let publication: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)")
            .bind(PUBLICATION)
            .fetch_one(pool)
            .await?;
    if !publication {
        ignore_duplicate(
            sqlx::raw_sql("CREATE PUBLICATION redsupply_events")
                .execute(pool)
                .await,
        )?;
    }
    if !exists(pool, slot).await? {
        if has_trigger(pool).await? {
            // The trigger is there but the slot is not: it was lost (a failover to a standby
            // that did not carry it, or a drop by hand). Events committed after its last
            // confirmed position and before now are in no slot any more.
            tracing::error!(
                slot,
                "the WAL relay's slot is gone while events were written into the WAL: events \
                 not yet published when it went are not published (deploy/README.md#events-through-the-wal)"
            );
        }
        // On PostgreSQL 17 the slot is marked for failover: with `sync_replication_slots` on a
        // standby, a promoted standby carries it.
        ignore_duplicate(
            sqlx::query(if server_version(pool).await? >= 170000 {
                "SELECT pg_create_logical_replication_slot($1, 'pgoutput', false, false, true)"
            } else {
                "SELECT pg_create_logical_replication_slot($1, 'pgoutput')"
            })
            .bind(slot)
            .execute(pool)
            .await,
        )?;
    }
    if !has_trigger(pool).await? {
        outbox_ddl(
            pool,
            "CREATE OR REPLACE TRIGGER outbox_to_wal BEFORE INSERT ON outbox
             FOR EACH ROW EXECUTE FUNCTION outbox_to_wal()",
        )
        .await?;
    }
    Ok(())
}

/// The trigger's DDL locks the outbox against every insert: looked up first by the callers, and
/// given up (to be tried again) rather than queued behind a long transaction, which would make
/// every producer queue behind it.
async fn outbox_ddl(pool: &PgPool, ddl: &'static str) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL lock_timeout = '2s'")
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(ddl).execute(&mut *tx).await?;
    tx.commit().await
}

/// Whether a session holds the slot (looked at over an ordinary connection, so that a standby
/// does not take a WAL sender to find out).
pub(super) async fn held(pool: &PgPool, slot: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active)",
    )
    .bind(slot)
    .fetch_one(pool)
    .await
}

/// Whether the slot exists and outbox inserts go to the WAL: what [`prepare`] makes true.
pub(super) async fn ready(pool: &PgPool, slot: &str) -> Result<bool, sqlx::Error> {
    Ok(exists(pool, slot).await? && has_trigger(pool).await?)
}

pub(super) async fn exists(pool: &PgPool, slot: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)")
        .bind(slot)
        .fetch_one(pool)
        .await
}

async fn server_version(pool: &PgPool) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(pool)
        .await
}

/// A replica that lost the race to create what another created is fine.
fn ignore_duplicate<T>(done: Result<T, sqlx::Error>) -> Result<(), sqlx::Error> {
    match done {
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("42710" | "23505")) => {
            Ok(())
        }
        other => other.map(drop),
    }
}

/// Outbox inserts become rows again. Waits for the transactions writing to the outbox: once it
/// returns, every event the trigger wrote belongs to a committed transaction.
pub(super) async fn remove_trigger(pool: &PgPool) -> Result<(), sqlx::Error> {
    if has_trigger(pool).await? {
        outbox_ddl(pool, "DROP TRIGGER IF EXISTS outbox_to_wal ON outbox").await?;
    }
    Ok(())
}

pub(super) async fn has_trigger(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger
                        WHERE tgrelid = 'outbox'::regclass AND tgname = 'outbox_to_wal')",
    )
    .fetch_one(pool)
    .await
}

/// When the slot exists: a position the drain may stop at, after every event in it. It is a
/// transaction of its own holding one message (with a prefix no relay publishes), so the
/// stream reaches it even when nothing else is written after.
pub(super) async fn drain_mark(
    pool: &PgPool,
    slot: &str,
    producer: &str,
) -> Result<Option<Lsn>, RelayError> {
    let row: Option<String> = sqlx::query_scalar(
        "SELECT pg_logical_emit_message(true, $2, '')::text
         FROM pg_replication_slots WHERE slot_name = $1",
    )
    .bind(slot)
    .bind(format!("{}.drained", prefix(producer)))
    .fetch_optional(pool)
    .await?;
    row.map(|l| Lsn::parse(&l).map_err(|e| RelayError::Target(e.to_string())))
        .transpose()
}

/// Drops the slot once nothing holds it (the session that drained it ends a moment after it
/// says so). False when a session of a peer holds it: the drain then starts again later.
pub(super) async fn drop_slot(pool: &PgPool, slot: &str) -> Result<bool, sqlx::Error> {
    for _ in 0..50 {
        let active: Option<bool> =
            sqlx::query_scalar("SELECT active FROM pg_replication_slots WHERE slot_name = $1")
                .bind(slot)
                .fetch_optional(pool)
                .await?;
        match active {
            None => return Ok(true),
            Some(false) => {
                // Not held when looked at; a peer may take it in between, and then this fails.
                if let Err(e) = sqlx::query("SELECT pg_drop_replication_slot($1)")
                    .bind(slot)
                    .execute(pool)
                    .await
                {
                    tracing::debug!(error = %e, slot, "dropping the slot failed; looking again");
                }
            }
            Some(true) => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(false)
}

/// Reports the slot's lag (`relay_slot_lag_bytes`: WAL written since what the relay confirmed,
/// which PostgreSQL keeps for it) and whether a relay holds it (`relay_slot_active`), every
/// second until shutdown. Every replica reports the same slot.
pub(super) async fn report_lag(
    pool: PgPool,
    slot: String,
    producer: &'static str,
    shutdown: Shutdown,
) {
    loop {
        let row: Result<Option<(f64, bool)>, _> = sqlx::query_as(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8, active
             FROM pg_replication_slots WHERE slot_name = $1",
        )
        .bind(&slot)
        .fetch_optional(&pool)
        .await;
        match row {
            Ok(Some((lag, active))) => {
                metrics::gauge!("relay_slot_lag_bytes", "service" => producer).set(lag);
                metrics::gauge!("relay_slot_active", "service" => producer)
                    .set(f64::from(u8::from(active)));
            }
            // No slot (not made yet, or lost): nothing reads the service's events.
            Ok(None) => {
                metrics::gauge!("relay_slot_active", "service" => producer).set(0.0);
                metrics::gauge!("relay_slot_lag_bytes", "service" => producer).set(0.0);
            }
            Err(_) => {}
        }
        if sleep_or_shutdown(Duration::from_secs(1), &shutdown).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> DatabaseSettings {
        DatabaseSettings {
            url: crate::settings::Secret::new(url.to_owned()),
            max_connections: 1,
            acquire_timeout_ms: 1,
            migrate_on_start: false,
            statement_timeout_ms: 0,
            idle_in_transaction_timeout_ms: 0,
        }
    }

    #[test]
    fn the_stream_connects_where_the_pool_does() {
        let t = target(
            &settings("postgres://rs%40user:p%2Fw@db.internal:6432/county?sslmode=prefer"),
            "s",
            "a",
        )
        .unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.user.as_str()),
            ("db.internal", 6432, "rs@user")
        );
        assert_eq!(
            (t.password.as_str(), t.database.as_str()),
            ("p/w", "county")
        );
        assert!(!t.tls.mode.requires_tls());
        let sock = target(
            &settings("postgres://postgres@localhost:55432/bench?host=/work/.data/pg-sock"),
            "s",
            "a",
        )
        .unwrap();
        assert_eq!(
            (sock.host.as_str(), sock.port),
            ("/work/.data/pg-sock", 55432)
        );
        assert!(sock.is_unix_socket());
        // A URL that asks for TLS is refused rather than streamed in the clear.
        for mode in ["require", "verify-ca", "verify-full", "sometimes"] {
            let url = format!("postgres://h/db?sslmode={mode}");
            assert!(target(&settings(&url), "s", "a").is_err(), "{mode}");
        }
    }

    #[test]
    fn slot_names_are_legal_and_keep_what_differs() {
        assert_eq!(
            slot_name("redsupply", "governance"),
            "redsupply_governance_redsupply"
        );
        let a = slot_name("rs_test_019af0c2d1e47b8a9c3d5e6f7a8b9c0d-x", "organization");
        let b = slot_name("rs_test_019af0c2d1e47b8a9c3d5e6f7a8b9c0e-x", "organization");
        assert!(a.len() <= 63 && b.len() <= 63, "{a} {b}");
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{a}"
        );
    }
}
