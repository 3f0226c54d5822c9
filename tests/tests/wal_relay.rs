//! Events through the WAL (`nats.relay_source = "wal"`): each event is a logical decoding message
//! in its transaction's WAL, read from the service's replication slot; the outbox keeps no row.
//! On the real PostgreSQL (wal_level = logical, which `scripts/test` sets) and nats-server: a
//! standby takes the slot when the relay holding it dies; a relay that published without
//! confirming reads the same events again and JetStream drops the copies; the slot outlives the
//! relay's sessions; and going back to the table loses nothing the slot still held.

use kit::{auth::with_bearer, settings::RelaySource};
use redsupply::ServiceName;
use redsupply_proto::{
    events::v1::TipSubmitted,
    governance::v1::{TipCategory, governance_service_client::GovernanceServiceClient},
    subjects::governance::TIP_SUBMITTED,
};
use redsupply_tests::{TestApp, connect, eventually, tip_in_grid};
use sqlx::PgPool;
use uuid::Uuid;

/// Points a tip earns on submission (pending until its case is confirmed).
const POINTS: i64 = 5;

/// Every service on the WAL source; each tip opens its own case and earns its points.
async fn wal_stack() -> (TestApp, Uuid, String) {
    let app = TestApp::spawn_with(|s| {
        s.common.nats.relay_source = RelaySource::Wal;
        s.common.nats.relay_standby_retry_ms = 100;
        s.stations.points.daily_cap.clear();
        s.governance.merge.distance_meters = 0.0;
        s.governance.tips_per_minute = 0;
    })
    .await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (worker, token) = app.register_worker("Zhou Min").await;
    (app, worker, token)
}

/// Submits `n` tips through `governance` and waits until each has its case and the reporter's
/// pending points reach `pending_after`.
async fn tips(
    app: &TestApp,
    governance: &mut GovernanceServiceClient<tonic::transport::Channel>,
    (worker, token): (Uuid, &str),
    tag: &str,
    n: usize,
    pending_after: i64,
) {
    let pool = app.db.pool().await;
    for i in 0..n {
        let tip = tip_in_grid(
            worker,
            &format!("{tag}-{i}"),
            TipCategory::PublicFacility,
            "Broken railing",
        );
        let id = governance
            .submit_tip(with_bearer(tip, token))
            .await
            .expect("tip accepted")
            .into_inner()
            .tip
            .expect("the tip")
            .id;
        eventually("the tip to have its case", || {
            let (pool, id) = (pool.clone(), id.clone());
            async move {
                sqlx::query_scalar::<_, bool>(
                    "SELECT case_id IS NOT NULL FROM governance.tips WHERE id = $1::uuid",
                )
                .bind(id)
                .fetch_one(&pool)
                .await
                .ok()?
                .then_some(())
            }
        })
        .await;
    }
    app.await_balance_where(worker, &format!("{pending_after} pending"), |b| {
        b.pending == pending_after
    })
    .await;
}

/// The service's slot, and the backend holding it (None: no session does).
async fn slot(pool: &PgPool, producer: &str) -> Option<(String, Option<i32>, String)> {
    sqlx::query_as(
        "SELECT slot_name::text, active_pid, confirmed_flush_lsn::text FROM pg_replication_slots
         WHERE database = current_database() AND slot_name LIKE 'redsupply\\_' || $1 || '\\_%'",
    )
    .bind(producer)
    .fetch_optional(pool)
    .await
    .expect("read pg_replication_slots")
}

async fn holder(pool: &PgPool, producer: &str) -> i32 {
    eventually(&format!("a session to hold {producer}'s slot"), || async {
        slot(pool, producer).await?.1
    })
    .await
}

async fn released(pool: &PgPool, producer: &str) -> String {
    eventually(&format!("no session to hold {producer}'s slot"), || async {
        match slot(pool, producer).await? {
            (name, None, _) => Some(name),
            _ => None,
        }
    })
    .await
}

async fn lsn_before(pool: &PgPool, a: &str, b: &str) -> bool {
    sqlx::query_scalar("SELECT $1::pg_lsn < $2::pg_lsn")
        .bind(a)
        .bind(b)
        .fetch_one(pool)
        .await
        .expect("compare positions")
}

async fn wal_position(pool: &PgPool) -> String {
    sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(pool)
        .await
        .expect("the WAL position")
}

/// A copy of the slot as it stands: [`rewind`] puts it back, as if the relay had published
/// everything since without confirming any of it.
async fn hold_back(pool: &PgPool, slot: &str) -> String {
    let copy = format!("rs_hold_{}", Uuid::now_v7().simple());
    sqlx::query("SELECT pg_copy_logical_replication_slot($1, $2)")
        .bind(slot)
        .bind(&copy)
        .execute(pool)
        .await
        .expect("copy the slot");
    copy
}

async fn rewind(pool: &PgPool, slot: &str, copy: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SELECT pg_drop_replication_slot('{slot}');
         SELECT pg_copy_logical_replication_slot('{copy}', '{slot}');
         SELECT pg_drop_replication_slot('{copy}');"
    )))
    .execute(pool)
    .await
    .expect("put the slot back where it stood");
}

/// Governance's relay publishes the events of `n` tips (the first its reporter has) and then,
/// as far as its slot knows, never confirms them: with governance stopped, the slot is put back
/// where it stood before them. Returns the WAL position after the tips.
async fn unconfirmed_tips(
    app: &mut TestApp,
    pool: &PgPool,
    reporter: (Uuid, &str),
    tag: &str,
    n: usize,
) -> String {
    holder(pool, "governance").await;
    app.stop_service(ServiceName::Governance).await;
    let slot_name = released(pool, "governance").await;
    let copy = hold_back(pool, &slot_name).await;
    app.start_service(ServiceName::Governance).await;
    let mut governance = app.governance().await;
    tips(app, &mut governance, reporter, tag, n, n as i64 * POINTS).await;
    let published = wal_position(pool).await;
    app.stop_service(ServiceName::Governance).await;
    released(pool, "governance").await;
    rewind(pool, &slot_name, &copy).await;
    published
}

async fn submissions(app: &TestApp) -> usize {
    app.published::<TipSubmitted>("governance", TIP_SUBMITTED)
        .await
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_travel_in_the_wal_and_the_outbox_keeps_no_row() {
    let (app, worker, token) = wal_stack().await;
    let mut governance = app.governance().await;
    tips(
        &app,
        &mut governance,
        (worker, &token),
        "wal",
        10,
        10 * POINTS,
    )
    .await;

    let pool = app.db.pool().await;
    for service in ServiceName::EACH {
        let schema = service.schema();
        let (rows, trigger): (i64, bool) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT (SELECT count(*) FROM {schema}.outbox),
                    EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'outbox_to_wal'
                            AND tgrelid = '{schema}.outbox'::regclass)"
        )))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(rows, 0, "{schema}'s outbox holds rows");
        assert!(trigger, "{schema}'s outbox writes into the WAL");
        holder(&pool, schema).await;
    }
    assert_eq!(submissions(&app).await, 10, "one submission event per tip");

    // An event without its subject is refused as the table would refuse it, not lost.
    let refused = sqlx::query(
        "INSERT INTO governance.outbox (event_id, subject, source, ce_subject, payload)
         VALUES (gen_random_uuid(), NULL, 'redsupply/governance', 'tip-x', '\\x00')",
    )
    .execute(&pool)
    .await
    .expect_err("a NULL subject is refused");
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("23502")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_the_slot_when_the_relay_holding_it_dies() {
    let (mut app, worker, token) = wal_stack().await;
    let pool = app.db.pool().await;
    let first = holder(&pool, "governance").await;
    let replica = app.start_replica(ServiceName::Governance).await;
    let mut governance = app.governance().await;
    tips(
        &app,
        &mut governance,
        (worker, &token),
        "before",
        5,
        5 * POINTS,
    )
    .await;
    assert_eq!(
        holder(&pool, "governance").await,
        first,
        "the first relay keeps the slot"
    );

    app.crash_service(ServiceName::Governance);
    let taken = eventually("the standby to take the slot", || async {
        slot(&pool, "governance")
            .await?
            .1
            .filter(|pid| *pid != first)
    })
    .await;
    let mut through_replica = GovernanceServiceClient::new(connect(replica).await);
    tips(
        &app,
        &mut through_replica,
        (worker, &token),
        "after",
        5,
        10 * POINTS,
    )
    .await;
    assert_eq!(holder(&pool, "governance").await, taken);
    assert_eq!(submissions(&app).await, 10, "no submission lost or doubled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_published_without_confirming_publishes_again_and_nothing_doubles() {
    let (mut app, worker, token) = wal_stack().await;
    let pool = app.db.pool().await;
    let published = unconfirmed_tips(&mut app, &pool, (worker, &token), "once", 10).await;
    let (_, _, confirmed) = slot(&pool, "governance").await.unwrap();
    assert!(
        lsn_before(&pool, &confirmed, &published).await,
        "the slot is behind the tips again"
    );
    app.start_service(ServiceName::Governance).await;
    let mut governance = app.governance().await;
    tips(
        &app,
        &mut governance,
        (worker, &token),
        "later",
        1,
        11 * POINTS,
    )
    .await;
    eventually("the relay to confirm past the ten tips again", || async {
        let (_, _, confirmed) = slot(&pool, "governance").await?;
        (!lsn_before(&pool, &confirmed, &published).await).then_some(())
    })
    .await;

    assert_eq!(
        submissions(&app).await,
        11,
        "JetStream kept one copy of each"
    );
    let (entries, links): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM stations.ledger_entries WHERE worker_id = $1),
                (SELECT count(DISTINCT case_id) FROM governance.tips WHERE reporter_id = $1)",
    )
    .bind(worker)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((entries, links), (11, 11), "one award and one case per tip");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slot_outlives_the_relays_sessions_when_the_database_goes_away() {
    let (app, worker, token) = wal_stack().await;
    let pool = app.db.pool().await;
    let before = holder(&pool, "governance").await;
    let mut governance = app.governance().await;
    tips(
        &app,
        &mut governance,
        (worker, &token),
        "before",
        3,
        3 * POINTS,
    )
    .await;
    drop(pool);

    app.db.cut_off().await;
    app.db.reopen().await;
    let pool = app.db.pool().await;
    let after = holder(&pool, "governance").await;
    assert_ne!(before, after, "the first session ended with the outage");
    eventually("intake to take tips again", || {
        let (mut governance, token) = (governance.clone(), token.clone());
        async move {
            let tip = tip_in_grid(
                worker,
                "probe",
                TipCategory::PublicFacility,
                "Broken railing",
            );
            governance
                .submit_tip(with_bearer(tip, &token))
                .await
                .ok()
                .map(drop)
        }
    })
    .await;
    tips(
        &app,
        &mut governance,
        (worker, &token),
        "after",
        3,
        7 * POINTS,
    )
    .await;
    assert_eq!(submissions(&app).await, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn going_back_to_the_table_publishes_what_the_slot_still_held() {
    let (mut app, worker, token) = wal_stack().await;
    let pool = app.db.pool().await;
    unconfirmed_tips(&mut app, &pool, (worker, &token), "wal", 4).await;

    app.settings.common.nats.relay_source = RelaySource::Table;
    app.start_service(ServiceName::Governance).await;
    eventually("the slot to be drained and dropped", || async {
        slot(&pool, "governance").await.is_none().then_some(())
    })
    .await;
    let trigger: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'outbox_to_wal'
                        AND tgrelid = 'governance.outbox'::regclass)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(!trigger, "governance's outbox holds rows again");
    let mut governance = app.governance().await;
    tips(
        &app,
        &mut governance,
        (worker, &token),
        "table",
        2,
        6 * POINTS,
    )
    .await;
    assert_eq!(submissions(&app).await, 6, "nothing lost, nothing doubled");
}
