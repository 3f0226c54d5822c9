//! A fresh PostgreSQL database for one test, created from the admin URL in
//! `REDSUPPLY_TEST_DATABASE_URL` (default: the local server as `postgres`) and dropped afterwards.

use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

pub struct TestDb {
    pub name: String,
    pub url: String,
    admin_url: String,
}

pub fn admin_url() -> String {
    std::env::var("REDSUPPLY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let base = match base.rfind('/') {
        Some(i) if i > base.find("://").map(|j| j + 2).unwrap_or(0) => &base[..i],
        _ => base,
    };
    format!("{base}/{db}{query}")
}

impl TestDb {
    pub async fn create() -> Self {
        let admin_url = admin_url();
        let name = format!("rs_test_{}", Uuid::now_v7().simple());
        let mut conn = PgConnection::connect(&admin_url)
            .await
            .expect("PostgreSQL answers at REDSUPPLY_TEST_DATABASE_URL");
        drop_stale_slots(&mut conn).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        Self {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        }
    }

    /// Takes the database away from every client (new connections refused, open ones ended),
    /// as an outage would, until [`TestDb::reopen`].
    pub async fn cut_off(&self) {
        self.admin(&format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
            name = self.name
        ))
        .await;
    }

    /// Lets clients connect again after [`TestDb::cut_off`].
    pub async fn reopen(&self) {
        self.admin(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            self.name
        ))
        .await;
    }

    async fn admin(&self, sql: &str) {
        let mut conn = PgConnection::connect(&self.admin_url)
            .await
            .expect("PostgreSQL answers at REDSUPPLY_TEST_DATABASE_URL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .expect("an admin statement on the test database");
    }

    /// A pool on the test database (no schema set: qualify table names).
    pub async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        // Dropping needs async I/O; do it on a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin).await.ok()?;
                // A WAL relay's slot keeps the database (and the cluster's WAL): end its
                // sessions, then drop it, then the database.
                for _ in 0..50 {
                    let left: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM (
                             SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
                             WHERE database = $1 AND active_pid IS NOT NULL) AS ended",
                    )
                    .bind(&name)
                    .fetch_one(&mut conn)
                    .await
                    .ok()?;
                    let _ = sqlx::query(
                        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                         WHERE database = $1 AND NOT active",
                    )
                    .bind(&name)
                    .execute(&mut conn)
                    .await;
                    if left == 0 {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()
            })
        })
        .join();
    }
}

/// Slots of test databases an earlier run left (a test process killed before its databases were
/// dropped), older than an hour by the time in their database's UUIDv7 name: they would keep
/// the cluster's WAL for ever. A slot still in use by a running test is never that old.
async fn drop_stale_slots(conn: &mut PgConnection) {
    let stale: Vec<(String, String)> = sqlx::query_as(
        "SELECT slot_name::text, database::text FROM pg_replication_slots
         WHERE database LIKE 'rs\\_test\\_%' AND NOT active",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    for (slot, database) in stale {
        let born = Uuid::try_parse(database.trim_start_matches("rs_test_"))
            .ok()
            .and_then(|id| id.get_timestamp())
            .map(|t| t.to_unix().0 as i64);
        if born.is_some_and(|secs| secs < hour_ago.timestamp()) {
            let _ = sqlx::query("SELECT pg_drop_replication_slot($1)")
                .bind(&slot)
                .execute(&mut *conn)
                .await;
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
            )))
            .execute(&mut *conn)
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
