//! Idempotence by the effect's own key: the tip's dispatch (keyed by the tip still waiting) and
//! its award (one ledger entry per submission event) write no inbox rows, and a submission
//! delivered again, as a relay republishes it after JetStream's duplicate window, changes
//! nothing, not even the daily cap of a fresh tip it arrives with.

use redsupply::ServiceName;
use redsupply_proto::{
    events::v1::TipSubmitted,
    governance::v1::{TipCategory, TipStatus},
    subjects::governance::{SOURCE, TIP_SUBMITTED},
};
use redsupply_tests::{TestApp, tip_in_grid};
use uuid::Uuid;

/// The submission event governance published for tip `id`.
async fn submission_of(app: &TestApp, id: &str) -> TipSubmitted {
    app.published::<TipSubmitted>("governance", TIP_SUBMITTED)
        .await
        .into_iter()
        .find(|e| e.tip_id == id)
        .expect("the tip's submission")
}

/// A stack where each tip opens a case of its own, with no per-minute limit and a daily cap of
/// `cap` points for submissions, and one registered reporter (with their token).
async fn one_reporter(cap: i64) -> (TestApp, Uuid, String) {
    let app = TestApp::spawn_with(|s| {
        s.governance.merge.distance_meters = 0.0;
        s.governance.tips_per_minute = 0;
        s.stations
            .points
            .daily_cap
            .insert("tip_submitted".into(), cap);
    })
    .await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (worker, token) = app.register_worker("Zhou Min").await;
    (app, worker, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_delivered_again_changes_no_case_no_award_and_no_cap() {
    // Two tips' points reach the daily cap.
    let (mut app, worker, token) = one_reporter(10).await;
    let tip = |request: &str| {
        tip_in_grid(
            worker,
            request,
            TipCategory::PublicFacility,
            "Broken railing",
        )
    };

    let first = app.submit_tip(tip("first"), &token).await;
    app.await_balance_where(worker, "5 pending", |b| b.pending == 5)
        .await;
    let pool = app.db.pool().await;
    let (event, case): (Uuid, Uuid) = sqlx::query_as(
        "SELECT l.source_event_id, t.case_id FROM stations.ledger_entries l, governance.tips t
         WHERE l.subject_ref = 'tip:' || $1 AND t.id = $1::uuid",
    )
    .bind(&first.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    let submitted = submission_of(&app, &first.id).await;

    // With stations away, the first submission comes again and a second tip arrives: stations
    // finds both waiting when it returns and applies them together.
    app.stop_service(ServiceName::Stations).await;
    app.republish_event(TIP_SUBMITTED, SOURCE, event, &submitted)
        .await;
    let second = app.submit_tip(tip("second"), &token).await;
    app.consumer_idle("governance", governance::DISPATCH_CONSUMER)
        .await;
    app.start_service(ServiceName::Stations).await;
    let balance = app
        .await_balance_where(worker, "10 pending", |b| b.pending == 10)
        .await;
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;

    // The first tip: its one case and its one award, as before.
    let again: Uuid = sqlx::query_scalar("SELECT case_id FROM governance.tips WHERE id = $1::uuid")
        .bind(&first.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(again, case, "the first tip moved to another case");
    assert_eq!(
        app.tip_as(&first.id, &token).await.status(),
        TipStatus::Routed
    );
    assert_eq!(app.count("SELECT count(*) FROM governance.cases").await, 2);
    let entries: Vec<(String, i64)> = sqlx::query_as(
        "SELECT subject_ref, pending_change FROM stations.ledger_entries ORDER BY subject_ref",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut expected = vec![
        (format!("tip:{}", first.id), 5),
        (format!("tip:{}", second.id), 5),
    ];
    expected.sort();
    assert_eq!(
        entries, expected,
        "one award per tip, the second not capped"
    );
    assert_eq!((balance.points, balance.pending, balance.debt), (0, 10, 0));
    app.assert_ledger_replays().await;

    // Neither consumer kept a row per event to know it.
    assert_eq!(
        app.count("SELECT count(*) FROM governance.inbox WHERE consumer = 'governance-dispatch'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM stations.inbox WHERE consumer = 'stations-points'")
            .await,
        0,
        "tip submissions need no inbox row (other governance events still have theirs)"
    );
}

/// A submission the daily cap left without points has no ledger entry to key it: delivered
/// again when the cap would have room (a later day, or a raised cap), it still earns nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_submission_delivered_again_earns_nothing_when_the_cap_has_room() {
    let (mut app, worker, token) = one_reporter(5).await;
    let tip = |request: &str| tip_in_grid(worker, request, TipCategory::Traffic, "Signal out");
    app.submit_tip(tip("first"), &token).await;
    app.await_balance_where(worker, "5 pending", |b| b.pending == 5)
        .await;
    let capped = app.submit_tip(tip("capped"), &token).await;
    app.await_count(
        "the second tip to be capped",
        "SELECT count(*) FROM stations.capped_submissions",
        1,
    )
    .await;
    let pool = app.db.pool().await;
    let event: Uuid = sqlx::query_scalar("SELECT event_id FROM stations.capped_submissions")
        .fetch_one(&pool)
        .await
        .unwrap();
    let submitted = submission_of(&app, &capped.id).await;

    // The cap now has room, as it would on the next day; the capped submission comes again.
    app.stop_service(ServiceName::Stations).await;
    app.settings
        .stations
        .points
        .daily_cap
        .insert("tip_submitted".into(), 100);
    app.start_service(ServiceName::Stations).await;
    app.republish_event(TIP_SUBMITTED, SOURCE, event, &submitted)
        .await;
    // A third tip shows the cap's room is real and marks when the redelivery is behind us.
    app.submit_tip(tip("third"), &token).await;
    app.await_balance_where(worker, "10 pending", |b| b.pending == 10)
        .await;
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    let balance = app.balance_as(worker, &token).await;
    assert_eq!(
        balance.pending, 10,
        "the capped tip was paid on its redelivery"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM stations.ledger_entries WHERE reason = 'tip_submitted'")
            .await,
        2
    );
    app.assert_ledger_replays().await;
}
