//! Tips that reach the dispatcher and the points consumer together are handled set-wise, in one
//! transaction for the group: the outcome must be exactly what tip-by-tip handling gives — near
//! duplicates merge into one case (even one the same group opened), distinct tips get cases with
//! distinct numbers, every tip is one change of its case with the version it produced, and every
//! reporter one award per tip.

use std::collections::HashSet;

use chrono::{SubsecRound, Utc};
use governance::store::NewTip;
use redsupply::ServiceName;
use redsupply_proto::{events::v1 as ev, governance::v1::TipCategory};
use redsupply_tests::{TestApp, eventually};
use uuid::Uuid;

/// A tip of `reporters[i % n]` at (lat, lng), with request id `{prefix}-{i}`.
fn tip_of(reporters: &[Uuid], prefix: &str, i: usize, lat: f64, lng: f64) -> NewTip {
    let reporter = reporters[i % reporters.len()];
    NewTip {
        request_id: format!("{prefix}-{i}"),
        reporter_id: reporter,
        submitted_by: reporter.to_string(),
        category: TipCategory::Traffic as i16,
        description: "light out".into(),
        latitude: lat,
        longitude: lng,
        photo_urls: vec![],
        observed_at: Utc::now(),
    }
}

/// Stores `tips` with their events while governance is stopped, then starts it: the relay
/// publishes them at once and the dispatcher pulls them as groups. Returns how many were stored.
async fn store_while_governance_is_away(app: &mut TestApp, tips: &[NewTip]) -> usize {
    app.stop_service(ServiceName::Governance).await;
    let pool = app.db.pool().await;
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET search_path TO governance")
        .execute(&mut *conn)
        .await
        .unwrap();
    let at = Utc::now().trunc_subsecs(6);
    let rows: Vec<_> = tips.iter().map(|t| t.to_row(at)).collect();
    let announce = kit::bus::OutboxRows::new(
        rows.iter()
            .map(governance::events::publish::tip_submitted_event)
            .collect(),
        &[],
    );
    let stored = governance::store::insert_tips_announced(&mut conn, &rows, &announce)
        .await
        .unwrap();
    drop(conn);
    app.start_service(ServiceName::Governance).await;
    stored.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_tips_is_dispatched_and_awarded_as_tip_by_tip_handling_would() {
    let mut app = TestApp::spawn().await;
    app.create_grid("Grid", 29.70, 103.50, 0.09).await;
    let mut reporters = Vec::new();
    for i in 0..5 {
        reporters.push(app.register_worker(&format!("Rider {i}")).await.0);
    }
    // With governance stopped, 40 tips are stored with their events: the relay publishes them at
    // once when it starts, and the dispatcher pulls them as groups.
    // 10 at one crossing (they must share one case), 30 more each ~110 m from any other.
    let mut tips: Vec<NewTip> = (0..10)
        .map(|i| tip_of(&reporters, "burst", i, 29.75, 103.55))
        .collect();
    tips.extend((10..40).map(|i| tip_of(&reporters, "burst", i, 29.71 + 0.001 * i as f64, 103.51)));
    assert_eq!(store_while_governance_is_away(&mut app, &tips).await, 40);
    let pool = app.db.pool().await;

    eventually("every tip of the burst to be dispatched", || {
        let pool = pool.clone();
        async move {
            let left: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM governance.tips WHERE request_id LIKE 'burst-%' AND case_id IS NULL",
            )
            .fetch_one(&pool)
            .await
            .ok()?;
            (left == 0).then_some(())
        }
    })
    .await;
    app.consumer_idle("governance", governance::DISPATCH_CONSUMER)
        .await;
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 2), count(*) FILTER (WHERE status = 3),
                count(*) FILTER (WHERE case_id IS NULL)
         FROM governance.tips WHERE request_id LIKE 'burst-%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(counts, (31, 9, 0), "31 routed, 9 merged, none left over");
    let cases: Vec<(Uuid, String, i64)> =
        sqlx::query_as("SELECT id, number, version FROM governance.cases ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(cases.len(), 31);
    let numbers: HashSet<&str> = cases.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(numbers.len(), 31, "every case its own number");
    let crossing: (Uuid, i64, i64) = sqlx::query_as(
        "SELECT c.id, c.version, (SELECT count(*) FROM governance.tips t WHERE t.case_id = c.id)
         FROM governance.cases c WHERE c.latitude = 29.75",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((crossing.1, crossing.2), (10, 10), "one tip, one version");
    let changes: i64 =
        sqlx::query_scalar("SELECT count(*) FROM governance.case_changes WHERE case_id = $1")
            .bind(crossing.0)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(changes, 10, "each tip is one change of its case");

    let assigned = eventually("every assignment to be published", || async {
        let events: Vec<ev::CaseAssigned> = app
            .published("governance", "redsupply.governance.case.assigned")
            .await;
        (events.len() == 40).then_some(events)
    })
    .await;
    let mut versions: Vec<i64> = assigned
        .iter()
        .filter(|e| e.case_id == crossing.0.to_string())
        .map(|e| e.version)
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=10).collect::<Vec<_>>());
    assert_eq!(assigned.iter().filter(|e| e.merged).count(), 9);

    // Five reporters, eight tips each: the daily cap (50 points, 5 a tip) is not reached; a tip
    // merged into the crossing's case earns tip_merged, the first report tip_submitted.
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    let rules = &app.settings.stations.points;
    for r in &reporters {
        let (routed, merged): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status <> 3), count(*) FILTER (WHERE status = 3)
             FROM governance.tips WHERE reporter_id = $1",
        )
        .bind(r)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(routed + merged, 8);
        app.await_standing(*r, routed * rules.tip_submitted + merged * rules.tip_merged)
            .await;
    }
    let awards: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM stations.ledger_entries WHERE reason = 'tip_submitted'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(awards, 40);
    // Each merged tip's award was cut to tip_merged by one take-back (many of them set-wise).
    let take_backs: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT t.points, a.points FROM stations.ledger_entries t
         JOIN stations.ledger_entries a ON a.id = t.reverses_entry_id
         WHERE t.reason = 'tip_merged:tip_submitted'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(take_backs.len(), 9, "{take_backs:?}");
    for (taken, awarded) in take_backs {
        assert_eq!(
            (taken, awarded),
            (rules.tip_merged - rules.tip_submitted, rules.tip_submitted)
        );
    }
    app.assert_ledger_replays().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_merging_into_an_older_case_is_applied_set_wise_and_fed_as_get_case_shows_it() {
    let mut app = TestApp::spawn().await;
    app.create_grid("Grid", 29.70, 103.50, 0.09).await;
    let (first, token) = app.register_worker("Rider 0").await;
    let mut reporters = Vec::new();
    for i in 1..6 {
        reporters.push(app.register_worker(&format!("Rider {i}")).await.0);
    }
    // A case open before the group arrives.
    let opened = app
        .submit_tip_at(first, &token, TipCategory::Traffic, (29.75, 103.55))
        .await;
    let pool = app.db.pool().await;
    let case_id: Uuid = eventually("the first tip's case", || {
        let pool = pool.clone();
        let id = Uuid::parse_str(&opened.id).unwrap();
        async move {
            sqlx::query_scalar("SELECT case_id FROM governance.tips WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .ok()
                .flatten()
        }
    })
    .await;
    app.consumer_idle("governance", governance::DISPATCH_CONSUMER)
        .await;

    // Then, while governance is away, 10 more reports of it and 5 elsewhere.
    let mut tips: Vec<NewTip> = (0..10)
        .map(|i| tip_of(&reporters, "late", i, 29.75, 103.55))
        .collect();
    tips.extend((10..15).map(|i| tip_of(&reporters, "late", i, 29.71 + 0.002 * i as f64, 103.51)));
    assert_eq!(store_while_governance_is_away(&mut app, &tips).await, 15);
    eventually("every late tip to be dispatched", || {
        let pool = pool.clone();
        async move {
            let left: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM governance.tips WHERE request_id LIKE 'late-%' AND case_id IS NULL",
            )
            .fetch_one(&pool)
            .await
            .ok()?;
            (left == 0).then_some(())
        }
    })
    .await;
    let merged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM governance.tips WHERE request_id LIKE 'late-%' AND case_id = $1",
    )
    .bind(case_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(merged, 10, "all ten joined the older case");
    // Set-wise: the group's links share a transaction id (tip by tip, each event has a
    // savepoint of its own, so each link would carry its own).
    let writers: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT xmin::text) FROM governance.tips WHERE request_id LIKE 'late-%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        writers <= 2,
        "{writers} writing transactions: the group fell back to tip by tip"
    );
    // The case's last feed change is the case as GetCase shows it.
    let last: Vec<u8> = sqlx::query_scalar(
        "SELECT snapshot FROM governance.case_changes WHERE case_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(case_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    let fed =
        <redsupply_proto::governance::v1::Case as prost::Message>::decode(last.as_slice()).unwrap();
    let shown = app.case(&case_id.to_string()).await;
    assert_eq!(fed, shown);
    assert_eq!(shown.reporter_count, 6);
    assert_eq!(shown.tip_ids.len(), 11);
}
