//! Planner statistics follow a young table's growth: the services analyze their own tables once
//! they have changed as many times as they had rows (a generic plan made while a table was small
//! is then made again), and leave the outbox queue and settled tables alone.

use redsupply_tests::{TestDb, eventually};

async fn analyzed(pool: &sqlx::PgPool, table: &str) -> (f32, bool) {
    sqlx::query_as(
        "SELECT c.reltuples, s.last_analyze IS NOT NULL FROM pg_class c
         JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE s.schemaname = 'grows' AND s.relname = $1",
    )
    .bind(table)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_is_analyzed_each_time_it_doubles_and_the_outbox_never() {
    let db = TestDb::create().await;
    let admin = db.pool().await;
    sqlx::raw_sql(
        "CREATE SCHEMA grows;
         CREATE TABLE grows.balances (worker_id bigint PRIMARY KEY, points bigint NOT NULL)
             WITH (autovacuum_enabled = false);
         CREATE TABLE grows.outbox (seq bigint PRIMARY KEY) WITH (autovacuum_enabled = false);
         CREATE TABLE grows.quiet (id bigint PRIMARY KEY) WITH (autovacuum_enabled = false);
         INSERT INTO grows.quiet SELECT g FROM generate_series(1, 100) g;
         INSERT INTO grows.balances SELECT g, 0 FROM generate_series(1, 1000) g;
         INSERT INTO grows.outbox SELECT g FROM generate_series(1, 1000) g;",
    )
    .execute(&admin)
    .await
    .unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(
            std::str::FromStr::from_str(&db.url)
                .map(|o: sqlx::postgres::PgConnectOptions| o.options([("search_path", "grows")]))
                .unwrap(),
        )
        .await
        .unwrap();

    // The counts reach the statistics views a moment after the commit.
    let first = eventually("the grown table to be analyzed", || async {
        let done = kit::db::analyze_grown(&pool).await.unwrap();
        (!done.is_empty()).then_some(done)
    })
    .await;
    assert_eq!(first, ["grows.balances"], "only the table that grew");
    assert_eq!(analyzed(&pool, "balances").await, (1000.0, true));
    assert!(
        !analyzed(&pool, "outbox").await.1,
        "the queue is left alone"
    );
    assert!(
        kit::db::analyze_grown(&pool).await.unwrap().is_empty(),
        "nothing changed since"
    );

    // Half again is not yet a doubling; twice as many rows is.
    sqlx::raw_sql("INSERT INTO grows.balances SELECT g, 0 FROM generate_series(1001, 1500) g")
        .execute(&admin)
        .await
        .unwrap();
    eventually("the 500 new rows to be counted", || async {
        let changed: i64 = sqlx::query_scalar(
            "SELECT n_mod_since_analyze FROM pg_stat_user_tables
             WHERE schemaname = 'grows' AND relname = 'balances'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        (changed == 500).then_some(())
    })
    .await;
    assert!(
        kit::db::analyze_grown(&pool).await.unwrap().is_empty(),
        "half again is no doubling"
    );
    sqlx::raw_sql("INSERT INTO grows.balances SELECT g, 0 FROM generate_series(1501, 2100) g")
        .execute(&admin)
        .await
        .unwrap();
    eventually("the doubled table to be analyzed again", || async {
        let done = kit::db::analyze_grown(&pool).await.unwrap();
        (done == ["grows.balances"]).then_some(())
    })
    .await;
    assert_eq!(analyzed(&pool, "balances").await, (2100.0, true));
}
